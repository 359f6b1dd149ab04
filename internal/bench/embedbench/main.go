// Command embedbench measures what a self-enforcing stamp (sysrestrict-stamp
// --embed, issue 11) costs at start-up: a trivial static and a trivial
// dynamic C program run directly, embedded (run directly: the stub
// installs the filter), and through sysrestrict-exec (stamped, and
// embedded), in interleaved runs so that drift hits all alike. It prints
// medians and 90th percentiles of the wall time, the median minor page
// faults of the same runs, each against the direct run, and how much the
// embedding grew each file; then the floor under the stub's cost on this
// host, its two syscalls timed in a freshly executed process. Target:
// embedded <= direct + 0.1 ms (median).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/stub"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

var (
	loader = flag.String("loader", "bin/sysrestrict-exec", "the sysrestrict-exec to measure")
	runs   = flag.Int("runs", 300, "exec runs of each kind (at least 200)")
	deny   = flag.String("deny", "ptrace,kexec_load,kexec_file_load,process_vm_writev", "what the stamps restrict (nothing the trivial program makes)")
	keep   = flag.Bool("k", false, "keep the work directory")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "embedbench:", err)
		os.Exit(1)
	}
}

// kind is one way of starting a program.
type kind struct {
	name   string
	argv   []string
	times  []float64 // ms
	faults []float64
}

func run() error {
	if *runs < 200 {
		return fmt.Errorf("-runs %d: at least 200", *runs)
	}
	ld, err := filepath.Abs(*loader)
	if err != nil {
		return err
	}
	if _, err := os.Stat(ld); err != nil {
		return fmt.Errorf("no loader to measure (%w); make build first", err)
	}
	work, err := os.MkdirTemp("", "embedbench")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	set, err := bitmap.Parse(bitmap.X86_64, *deny)
	if err != nil {
		return err
	}
	src := filepath.Join(work, "trivial.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		return err
	}
	type prog struct {
		link                     string
		plain, stamped, embedded string
	}
	var progs []prog
	for _, link := range []string{"static", "dynamic"} {
		p := prog{link: link}
		p.plain = filepath.Join(work, link)
		args := []string{"-O2", "-o", p.plain, src}
		if link == "static" {
			args = append([]string{"-static"}, args...)
		}
		if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("cc %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		p.stamped, p.embedded = p.plain+".stamped", p.plain+".embedded"
		for path, embed := range map[string]bool{p.stamped: false, p.embedded: true} {
			if err := copyFile(p.plain, path); err != nil {
				return err
			}
			if _, err := elfnote.Stamp(path, set, elfnote.Options{Replace: true, Embed: embed}); err != nil {
				return fmt.Errorf("stamping %s: %w", path, err)
			}
		}
		progs = append(progs, p)
	}

	var kinds []*kind
	for _, p := range progs {
		kinds = append(kinds,
			&kind{name: p.link + ", direct", argv: []string{p.plain}},
			&kind{name: p.link + ", embedded", argv: []string{p.embedded}},
			&kind{name: p.link + ", sysrestrict-exec", argv: []string{ld, p.stamped}},
			&kind{name: p.link + ", sysrestrict-exec, embedded", argv: []string{ld, p.embedded}})
	}
	fmt.Printf("== start-up of a trivial C program: direct, embedded, through sysrestrict-exec (%d interleaved runs each; --deny %s)\n", *runs, *deny)
	for i := range *runs + 10 {
		for _, k := range kinds {
			d, minflt, err := timeExec(k.argv)
			if err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
			if i >= 10 { // warm-up
				k.times = append(k.times, float64(d)/1e6)
				k.faults = append(k.faults, float64(minflt))
			}
		}
	}
	// "paired" is the median of the differences to the direct run of the
	// same round: the runs of one round are next to each other in time,
	// so it is less moved by the machine's drift than the difference of
	// the medians.
	fmt.Printf("%-34s %9s %9s %10s %7s %10s %8s\n", "", "median", "p90", "vs direct", "ratio", "paired", "faults")
	var verdicts []string
	for i, k := range kinds {
		direct := kinds[i/4*4]
		med, p90, fl := quantile(k.times, 0.5), quantile(k.times, 0.9), quantile(k.faults, 0.5)
		dmed, dfl := quantile(direct.times, 0.5), quantile(direct.faults, 0.5)
		diffs := make([]float64, len(k.times))
		for j := range diffs {
			diffs[j] = k.times[j] - direct.times[j]
		}
		paired := quantile(diffs, 0.5)
		fmt.Printf("%-34s %6.3f ms %6.3f ms %+7.3f ms %6.2fx %+7.3f ms %5.0f %+4.0f\n", k.name, med, p90, med-dmed, med/dmed, paired, fl, fl-dfl)
		if strings.HasSuffix(k.name, ", embedded") && !strings.Contains(k.name, "sysrestrict-exec") {
			added := med - dmed
			verdicts = append(verdicts, fmt.Sprintf("%s %+.3f ms (paired %+.3f ms)", strings.TrimSuffix(k.name, ", embedded"), added, paired))
			if added > 0.1 || paired > 0.1 {
				verdicts[len(verdicts)-1] += " MISSED"
			}
		}
	}
	fmt.Printf("embedded over direct (median; target <= +0.100 ms): %s\n", strings.Join(verdicts, ", "))
	for _, p := range progs {
		a, b := size(p.plain), size(p.embedded)
		fmt.Printf("file growth, %s: %d -> %d bytes (%+d)\n", p.link, a, b, b-a)
	}
	return attachCost(work, progs[1].embedded)
}

// attachSrc times, in a freshly executed process as the stub runs in,
// prctl(PR_SET_NO_NEW_PRIVS) and seccomp(SECCOMP_SET_MODE_FILTER,
// SECCOMP_FILTER_FLAG_TSYNC) of the raw filter in argv[1] ("allow": a
// one-instruction ret ALLOW), and prints both in microseconds.
const attachSrc = `#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static struct sock_filter prog[4096];
int main(int argc, char **argv) {
	int n = 1;
	prog[0] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	if (argc > 1 && strcmp(argv[1], "allow")) {
		FILE *f = fopen(argv[1], "rb");
		if (!f) return 2;
		n = fread(prog, 8, 4096, f);
		fclose(f);
	}
	now();
	double a = now();
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	double b = now();
	struct sock_fprog fp = {n, prog};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fp)) return 3;
	double e = now();
	printf("%.1f %.1f\n", b - a, e - b);
	return 0;
}
`

// attachCost reports the floor under the stub's cost on this host: what
// its two syscalls take in a freshly executed process, with the stub's
// own filter (read from embedded) and with a one-instruction one.
func attachCost(work, embedded string) error {
	src, bin := filepath.Join(work, "attach.c"), filepath.Join(work, "attach")
	if err := os.WriteFile(src, []byte(attachSrc), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("cc", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		return fmt.Errorf("cc attach.c: %w\n%s", err, out)
	}
	f, err := elfnote.ReadFile(embedded)
	if err != nil || f.Embed == nil {
		return fmt.Errorf("reading %s: %v", embedded, err)
	}
	b, err := os.ReadFile(embedded)
	if err != nil {
		return err
	}
	e := f.Embed
	prog, _, err := stub.Parse(f.ABI, b[e.Offset:e.Offset+e.Size], e.Vaddr)
	if err != nil {
		return err
	}
	raw := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		raw = binary.LittleEndian.AppendUint16(raw, in.Op)
		raw = append(raw, in.Jt, in.Jf)
		raw = binary.LittleEndian.AppendUint32(raw, in.K)
	}
	stubFilter := filepath.Join(work, "stub.bpf")
	if err := os.WriteFile(stubFilter, raw, 0o644); err != nil {
		return err
	}
	fmt.Printf("the stub's two syscalls in a freshly executed process (%d interleaved runs each; median, p10, p90):\n", *runs)
	filters := []struct{ name, arg string }{{fmt.Sprintf("the stub's filter (%d instructions)", len(prog)), stubFilter}, {"a one-instruction filter", "allow"}}
	pr := make([][]float64, len(filters))
	sc := make([][]float64, len(filters))
	for range *runs {
		for i, fl := range filters {
			out, err := exec.Command(bin, fl.arg).Output()
			if err != nil {
				return fmt.Errorf("%s %s: %w", bin, fl.arg, err)
			}
			var p, s float64
			if _, err := fmt.Sscan(string(out), &p, &s); err != nil {
				return fmt.Errorf("%s: %q: %w", bin, out, err)
			}
			pr[i], sc[i] = append(pr[i], p), append(sc[i], s)
		}
	}
	for i, fl := range filters {
		fmt.Printf("  %-36s prctl(PR_SET_NO_NEW_PRIVS) %6.1f us; seccomp(SECCOMP_SET_MODE_FILTER, TSYNC) %6.1f us (p10 %.1f, p90 %.1f)\n",
			fl.name, quantile(pr[i], 0.5), quantile(sc[i], 0.5), quantile(sc[i], 0.1), quantile(sc[i], 0.9))
	}
	return nil
}

func size(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// timeExec fork-execs argv and waits for it, and returns the wall time
// and the child's minor page faults (the loader's and what it execs).
func timeExec(argv []string) (time.Duration, int64, error) {
	start := time.Now()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		return 0, 0, err
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	if _, err := syscall.Wait4(pid, &ws, 0, &ru); err != nil {
		return 0, 0, err
	}
	d := time.Since(start)
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return 0, 0, fmt.Errorf("%v ended with %v", argv, ws)
	}
	return d, ru.Minflt, nil
}

// quantile returns the q-quantile of fs (nearest rank).
func quantile(fs []float64, q float64) float64 {
	fs = slices.Clone(fs)
	slices.Sort(fs)
	i := int(q * float64(len(fs)))
	if i >= len(fs) {
		i = len(fs) - 1
	}
	return fs[i]
}
