// Command auditbench measures what sysrestrict-exec --audit costs (issue
// 14), against the same runs through the loader, interleaved, medians
// compared: a getppid loop whose calls are all allowed (the note restricts
// ptrace), as ns per call and their ratio (target <= 1.05x); the fixed cost
// of starting the supervisor (a run that makes no call); and a loop whose
// every call is restricted, as the cost of each call --audit lets through.
// The loops time themselves (testdata/victims/victim.c "loop": the best of
// 20 chunks), so the figure is per call whatever the machine's other load
// and the start-up; each run's wall time and minor page faults are beside
// it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

var (
	bin    = flag.String("bin", "bin", "the directory of sysrestrict-exec and sysrestrict-supervise")
	runs   = flag.Int("runs", 7, "runs of each kind")
	calls  = flag.Int("calls", 1000000, "allowed getppid calls per run")
	hits   = flag.Int("hits", 20000, "restricted getppid calls per run of the hit loop")
	srcDir = flag.String("src", ".", "the sysrestrict source tree")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "auditbench:", err)
		os.Exit(1)
	}
}

// sample is one run: wall time, the minor page faults of the loader or
// supervisor and everything it waited for, and what a loop printed: its
// best time a call, in ns (0 for a run with no loop).
type sample struct {
	t      time.Duration
	faults int64
	ns     float64
}

func measure(argv ...string) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	ns, _ := strconv.ParseFloat(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), 64)
	return sample{d, ru.Minflt, ns}, nil
}

type series []sample

func (s series) median() sample {
	ts := make([]time.Duration, len(s))
	fs := make([]int64, len(s))
	ns := make([]float64, len(s))
	for i, x := range s {
		ts[i], fs[i], ns[i] = x.t, x.faults, x.ns
	}
	slices.Sort(ts)
	slices.Sort(fs)
	slices.Sort(ns)
	return sample{ts[len(ts)/2], fs[len(fs)/2], ns[len(ns)/2]}
}

func run() error {
	loader, err := filepath.Abs(filepath.Join(*bin, "sysrestrict-exec"))
	if err != nil {
		return err
	}
	for _, b := range []string{loader, filepath.Join(filepath.Dir(loader), "sysrestrict-supervise")} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%w; make build first", err)
		}
	}
	work, err := os.MkdirTemp("", "auditbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	victim := filepath.Join(work, "victim")
	if out, err := exec.Command("cc", "-O2", "-pthread", "-o", victim, filepath.Join(*srcDir, "testdata/victims/victim.c")).CombinedOutput(); err != nil {
		return fmt.Errorf("cc victim.c: %w\n%s", err, out)
	}
	// Two stamped copies: one whose note restricts what the loop never
	// calls (ptrace), one that restricts the loop's getppid.
	stamp := func(name, list string) (string, error) {
		p := filepath.Join(work, name)
		b, err := os.ReadFile(victim)
		if err == nil {
			err = os.WriteFile(p, b, 0o755)
		}
		if err != nil {
			return "", err
		}
		set, err := bitmap.Parse(bitmap.X86_64, list)
		if err == nil {
			_, err = elfnote.Stamp(p, set, elfnote.Options{Replace: true})
		}
		return p, err
	}
	allowed, err := stamp("victim-ptrace", "ptrace")
	if err != nil {
		return err
	}
	restricted, err := stamp("victim-getppid", "getppid")
	if err != nil {
		return err
	}
	prof := filepath.Join(work, "audit.json")
	n, h := strconv.Itoa(*calls), strconv.Itoa(*hits)
	cases := []struct {
		name string
		argv []string
	}{
		{"loader, no call", []string{loader, allowed, "getppid"}},
		{"--audit, no call", []string{loader, "--audit", prof, allowed, "getppid"}},
		{"loader, " + n + " allowed", []string{loader, allowed, "loop", n}},
		{"--audit, " + n + " allowed", []string{loader, "--audit", prof, allowed, "loop", n}},
		{"--audit, " + h + " restricted", []string{loader, "--audit", prof, restricted, "loop", h}},
	}
	got := make([]series, len(cases))
	for range *runs {
		for i, c := range cases {
			os.Remove(prof) // each run merges into a fresh profile
			s, err := measure(c.argv...)
			if err != nil {
				return err
			}
			got[i] = append(got[i], s)
		}
	}
	m := make([]sample, len(cases))
	for i := range cases {
		m[i] = got[i].median()
		per := ""
		if m[i].ns > 0 {
			per = fmt.Sprintf("%9.1f ns a call", m[i].ns)
		}
		fmt.Printf("  %-30s %9.2f ms  %5d faults  %s  (median of %d)\n", cases[i].name, ms(m[i].t), m[i].faults, per, *runs)
	}
	ratio := m[3].ns / m[2].ns
	fmt.Printf("  supervisor start-up: %+.2f ms, %+d faults (the no-call runs)\n", ms(m[1].t-m[0].t), m[1].faults-m[0].faults)
	fmt.Printf("  allowed call under --audit / through the loader: %.3fx (target <= 1.05x: %s), %+.1f ns\n",
		ratio, map[bool]string{true: "met", false: "NOT MET"}[ratio <= 1.05], m[3].ns-m[2].ns)
	fmt.Printf("  each restricted call let through: %.1f us (%.1f us over an allowed one)\n", m[4].ns/1000, (m[4].ns-m[2].ns)/1000)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
