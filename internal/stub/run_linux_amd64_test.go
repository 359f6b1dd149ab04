//go:build linux && amd64

package stub

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/enforce"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The x86_64 stub on the real kernel. Every filter is installed by a test
// program (or a re-executed test binary), never by the go test process.

// stubAddrX86 is where the tests load the stub: 1 MiB above the harness,
// as the stamper puts it above every segment.
const stubAddrX86 = harnessBase + 0x100000

// x86Filter is the filter of the tests: kill on ptrace.
func x86Filter(t *testing.T) []bpf.RawInstruction {
	t.Helper()
	f, err := filter.Build(bitmap.NewSet(bitmap.X86_64, unix.SYS_PTRACE), filter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f.Instructions()
}

// x86Program returns the harness linked with payload (nil: no stub, the
// harness jumps to its entry itself) as a file.
func x86Program(t *testing.T, h *harness, payload []byte) string {
	t.Helper()
	var target uint64 = stubAddrX86
	if payload == nil {
		target = h.entry(t)
	}
	b := h.link(t, stubAddrX86, payload, func(code []byte) {
		for i := range 15 { // rax..r15
			h.put(t, code, "load", 8*i, regValue(i))
			h.put(t, code, "want", 8*i, regValue(i))
		}
		jmp := h.obj.Symbols["to_stub"]
		rel, ok := distance(h.addr(t, "to_stub")+4, target, 1<<31)
		if !ok {
			t.Fatal("stub out of the harness's reach")
		}
		binary.LittleEndian.PutUint32(code[jmp:], uint32(int32(rel)))
	})
	name := "plain"
	if payload != nil {
		name = "embedded"
	}
	return writeProgram(t, name, b)
}

func x86Payload(t *testing.T, h *harness, filter []bpf.RawInstruction) []byte {
	t.Helper()
	p, err := Build(bitmap.X86_64, filter, stubAddrX86, h.entry(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var sigsys = "signal " + syscall.SIGSYS.String()

// TestStubX86 runs the harness with the stub and without it (the control:
// what each mode does unfiltered) in every mode. Every run also checks
// that the stub left every register, the flags, rsp and the stack as the
// harness set them (exit 10-26 or 40 otherwise).
func TestStubX86(t *testing.T) {
	h := newHarness(t, bitmap.X86_64)
	embedded := x86Program(t, h, x86Payload(t, h, x86Filter(t)))
	plain := x86Program(t, h, nil)
	for _, tt := range []struct {
		name       string
		args       []string
		want, ctrl string // with the stub, without it
		stdout     string
	}{
		{"allowed syscall runs", []string{"g"}, "exit 0", "exit 0", "ran\n"},
		{"seccomp 2 and no_new_privs 1", []string{"s"}, "exit 21", "exit 0", "ran\n"},
		{"denied syscall", []string{"p"}, sigsys, "exit 0", "ran\n"},
		{"denied in a forked child", []string{"f"}, "exit 31", "exit 100", "ran\n"}, // 31: SIGSYS
		{"denied in a thread started after", []string{"t"}, sigsys, "exit 3", "ran\n"},
		{"denied in a thread started before (TSYNC)", []string{"T"}, sigsys, "exit 4", "ran\n"},
		{"inherited across exec", []string{"e", plain, "s"}, "exit 21", "exit 0", "ran\nran\n"},
		{"denied after exec", []string{"e", plain, "p"}, sigsys, "exit 0", "ran\nran\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				prog, want string
			}{{embedded, tt.want}, {plain, tt.ctrl}} {
				r := run(t, nil, append([]string{c.prog}, tt.args...)...)
				t.Logf("%s %q: %v, stdout %q, stderr %q", c.prog, tt.args, r, r.stdout, r.stderr)
				if r.String() != c.want || r.stdout != tt.stdout || r.stderr != "" {
					t.Errorf("%s %q: %v, stdout %q, stderr %q; want %s, stdout %q, no stderr",
						c.prog, tt.args, r, r.stdout, r.stderr, c.want, tt.stdout)
				}
			}
		})
	}
}

// TestStubX86TSYNCMatters makes a stub without SECCOMP_FILTER_FLAG_TSYNC:
// the thread the harness started before the stub ran is then unfiltered
// (exit 4: its ptrace returned), while the main thread is filtered. This
// is why the stub syncs.
func TestStubX86TSYNCMatters(t *testing.T) {
	h := newHarness(t, bitmap.X86_64)
	p := x86Payload(t, h, x86Filter(t))
	off := sourceLabel(t, bitmap.X86_64, "seccomp_flags")
	if !bytes.Equal(p[off:off+5], []byte{0xbe, 1, 0, 0, 0}) { // mov $1, %esi
		t.Fatalf("seccomp_flags: % x, want mov $1, %%esi", p[off:off+5])
	}
	p[off+1] = 0
	prog := x86Program(t, h, p)
	for mode, want := range map[string]string{"T": "exit 4", "s": "exit 21", "t": sigsys} {
		if r := run(t, nil, prog, mode); r.String() != want {
			t.Errorf("without TSYNC, mode %s: %v, stderr %q; want %s", mode, r, r.stderr, want)
		}
	}
}

// TestStubX86RegisterCheck shows the harness's check can fail: a stub
// that restores rdx into rsi (pop %rsi for pop %rdx) leaves rdx, index 3,
// wrong: exit 13.
func TestStubX86RegisterCheck(t *testing.T) {
	h := newHarness(t, bitmap.X86_64)
	p := x86Payload(t, h, x86Filter(t))
	restore := []byte{0x5f, 0x5e, 0x5a, 0x59, 0x58, 0x9d, 0xe9} // pop rdi, rsi, rdx, rcx, rax; popfq; jmp
	i := bytes.Index(p, restore)
	if i < 0 || bytes.Contains(p[i+1:], restore) {
		t.Fatalf("the restore sequence % x is not in the stub once", restore)
	}
	p[i+2] = 0x5e
	if r := run(t, nil, x86Program(t, h, p), "g"); r.String() != "exit 13" || r.stdout != "" {
		t.Errorf("stub that loses rdx: %v, stdout %q; want exit 13 and nothing run", r, r.stdout)
	}
}

// TestStubX86FailsClosed makes each call of the stub fail and checks that
// the program did not run (no "ran"), that the stub wrote exactly one line
// naming the program and the reason, and that it exited 126.
func TestStubX86FailsClosed(t *testing.T) {
	h := newHarness(t, bitmap.X86_64)
	good := x86Program(t, h, x86Payload(t, h, x86Filter(t)))
	// A filter the kernel refuses: a load past struct seccomp_data.
	bad := x86Program(t, h, x86Payload(t, h, []bpf.RawInstruction{{Op: 0x20, K: 1000}, {Op: 0x06, K: 0x7fff0000}}))
	long := strings.Repeat("long-name/", 500) + "prog"

	for _, tt := range []struct {
		name  string
		mode  string // run through a child of the test binary that sets this up (child)
		argv  []string
		wantE string // stderr, a regexp
	}{
		{"kernel refuses the filter", "", []string{bad, "g"},
			regexp.QuoteMeta(bad + ": sysrestrict: seccomp(SECCOMP_SET_MODE_FILTER) failed: errno 22\n")},
		{"seccomp denied by a parent filter", "deny-seccomp", []string{good, "g"},
			regexp.QuoteMeta(good + ": sysrestrict: seccomp(SECCOMP_SET_MODE_FILTER) failed: errno 1\n")},
		{"prctl denied by a parent filter", "deny-prctl", []string{good, "g"},
			regexp.QuoteMeta(good + ": sysrestrict: prctl(PR_SET_NO_NEW_PRIVS) failed: errno 1\n")},
		{"TSYNC: a thread with a filter of its own", "", []string{good, "X"},
			regexp.QuoteMeta(good+": sysrestrict: seccomp(SECCOMP_SET_MODE_FILTER) failed: TSYNC could not sync thread ") + `[1-9][0-9]*\n`},
		{"no argv[0]", "no-argv", []string{bad},
			regexp.QuoteMeta(": sysrestrict: seccomp(SECCOMP_SET_MODE_FILTER) failed: errno 22\n")},
		{"a long argv[0]", "argv0=" + long, []string{bad, "g"},
			regexp.QuoteMeta(long + ": sysrestrict: seccomp(SECCOMP_SET_MODE_FILTER) failed: errno 22\n")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r result
			if tt.mode != "" {
				r = runCmd(t, viaChild(t, tt.mode, tt.argv))
			} else {
				r = run(t, nil, tt.argv...)
			}
			t.Logf("%v, stdout %q, stderr %.200q", r, r.stdout, r.stderr)
			if r.String() != "exit 126" || r.stdout != "" || !regexp.MustCompile(`^`+tt.wantE+`$`).MatchString(r.stderr) {
				t.Errorf("%v, stdout %q, stderr %q; want exit 126, nothing run, stderr matching %q", r, r.stdout, r.stderr, tt.wantE)
			}
		})
	}
}

// viaChild returns the command that runs argv through a child of the test
// binary (testutil.Command) that first sets up what mode asks (child), for
// the failure paths a parent filter or an odd argv must provoke. In that
// child it does so and does not return.
func viaChild(t *testing.T, mode string, argv []string) *exec.Cmd {
	t.Helper()
	if testutil.InSubprocess(t) {
		os.Exit(child(os.Getenv("STUBTEST_MODE"), strings.Split(os.Getenv("STUBTEST_ARGV"), "\x1f")))
	}
	cmd := testutil.Command(t)
	cmd.Env = append(cmd.Env, "STUBTEST_MODE="+mode, "STUBTEST_ARGV="+strings.Join(argv, "\x1f"))
	// The program's stdout is what is checked: no "=== RUN" lines of -v.
	cmd.Args = slices.DeleteFunc(cmd.Args, func(a string) bool { return strings.HasPrefix(a, "-test.v") })
	return cmd
}

// child sets up what mode asks and execs argv.
func child(mode string, argv []string) int {
	if len(argv) == 0 || argv[0] == "" {
		fmt.Fprintln(os.Stderr, "child: no program to run")
		return 2
	}
	prog, args := argv[0], argv
	deny := func(name string) {
		set := bitmap.NewSet(bitmap.X86_64, bitmap.X86_64.Lookup(name)...)
		if err := enforce.Restrict(set, filter.Errno(int(syscall.EPERM))); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
	}
	switch {
	case mode == "deny-seccomp":
		deny("seccomp")
	case mode == "deny-prctl":
		deny("prctl")
	case mode == "no-argv":
		args = nil // argv = {NULL}: the kernel gives it "" (Linux 5.18+)
	case strings.HasPrefix(mode, "argv0="):
		args = append([]string{strings.TrimPrefix(mode, "argv0=")}, argv[1:]...)
	default:
		fmt.Fprintln(os.Stderr, "child: unknown mode", mode)
		return 2
	}
	err := syscall.Exec(prog, args, os.Environ())
	fmt.Fprintln(os.Stderr, "child: exec:", err)
	return 2
}

// TestStubX86ProcStatus reads /proc/PID/status of an embedded program
// while it runs (mode w waits once it has written "ran"): the kernel's
// own account of what the stub installed.
func TestStubX86ProcStatus(t *testing.T) {
	h := newHarness(t, bitmap.X86_64)
	for _, tt := range []struct {
		name    string
		payload []byte
		want    []string
	}{
		{"embedded", x86Payload(t, h, x86Filter(t)), []string{"NoNewPrivs:\t1", "Seccomp:\t2", "Seccomp_filters:\t1"}},
		{"plain", nil, []string{"NoNewPrivs:\t0", "Seccomp:\t0", "Seccomp_filters:\t0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(x86Program(t, h, tt.payload), "w")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			buf := make([]byte, 4)
			if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ran\n" {
				t.Fatalf("stdout %q, %v; want ran", buf, err)
			}
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(status), "\n")
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("/proc/PID/status has no line %q:\n%s", w, status)
				}
			}
		})
	}
}
