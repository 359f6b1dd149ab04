//go:build linux

package enforce

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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

// TestRestrictRefuses: errors Restrict returns before touching the kernel
// (safe to call in the test process).
func TestRestrictRefuses(t *testing.T) {
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
