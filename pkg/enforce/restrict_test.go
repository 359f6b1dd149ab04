//go:build linux

package enforce

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// TestRestrictExample builds examples/selfrestrict and runs it: the
// filters are installed in that child, never in the test process.
func TestRestrictExample(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "selfrestrict")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sysrestrict/sysrestrict/examples/selfrestrict").CombinedOutput(); err != nil {
		t.Fatalf("go build examples/selfrestrict: %v\n%s", err, out)
	}

	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("selfrestrict: %v\n%s", err, out)
	}
	want := "restricted {ptrace} (errno=1)\n" +
		"restricted {execve,execveat} (errno=13)\n" +
		"ptrace in an older thread: operation not permitted\n" +
		"exec /bin/true: fork/exec /bin/true: permission denied\n"
	if string(out) != want {
		t.Errorf("selfrestrict output:\n%s\nwant:\n%s", out, want)
	}

	out, err = exec.Command(bin, "-kill").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGSYS || strings.Contains(string(out), "not reached") {
		t.Errorf("selfrestrict -kill: %v, output %q, want death by SIGSYS", err, out)
	}
}

// TestRestrictRefuses: errors Restrict returns before touching the kernel.
// It runs in a child all the same: were one of them not refused, the
// filter would be installed there, not in the test process.
func TestRestrictRefuses(t *testing.T) {
	testutil.RunInSubprocess(t, func() { restrictRefuses(t) })
}

func restrictRefuses(t *testing.T) {
	other := bitmap.I386
	if NativeABI() == bitmap.I386 {
		other = bitmap.X86_64
	}
	if err := Restrict(bitmap.NewSet(other, 1), filter.Kill()); !errors.Is(err, ErrABI) {
		t.Errorf("Restrict(set of %v) = %v, want ErrABI", other, err)
	}
	if err := Restrict(bitmap.NewSet(NativeABI(), 1), filter.Errno(0)); !errors.Is(err, filter.ErrAction) {
		t.Errorf("Restrict(errno 0) = %v, want filter.ErrAction", err)
	}
}

// TestExecRefuses: programs Exec refuses before touching the kernel:
// without the gate it has no descriptor and secret to exec with; a gate for
// another ABI's execveat would get the action at once; an unrendered
// program holds placeholders, not the gate's values. In a child, like
// TestRestrictRefuses.
func TestExecRefuses(t *testing.T) {
	testutil.RunInSubprocess(t, func() { execRefuses(t) })
}

func execRefuses(t *testing.T) {
	set := bitmap.NewSet(NativeABI(), 1)
	other := bitmap.I386
	if NativeABI() == bitmap.I386 {
		other = bitmap.X86_64
	}
	build := func(opts filter.Options) *filter.Program {
		t.Helper()
		p, err := filter.Build(set, opts)
		if err != nil {
			t.Fatalf("Build(%+v): %v", opts, err)
		}
		return p
	}
	argv := []string{"/bin/true"}
	if err := Exec(build(filter.Options{}), argv, nil, "x"); !errors.Is(err, filter.ErrValue) {
		t.Errorf("Exec(no gate) = %v, want filter.ErrValue", err)
	}
	foreign := build(filter.Options{Gate: true, GateABI: other})
	if err := foreign.Render(filter.Values{Secret: 1, Fd: 0}); err != nil {
		t.Fatal(err)
	}
	if err := Exec(foreign, argv, nil, "x"); !errors.Is(err, ErrABI) {
		t.Errorf("Exec(gate of %v) = %v, want ErrABI", other, err)
	}
	if err := Exec(build(filter.Options{Gate: true, GateABI: NativeABI()}), argv, nil, "x"); !errors.Is(err, filter.ErrValue) {
		t.Errorf("Exec(unrendered) = %v, want filter.ErrValue", err)
	}
}
