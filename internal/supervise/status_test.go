//go:build linux

package supervise

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
)

// TestExit re-executes the test binary to call Exit with a wait status, and
// checks its parent sees that status: exit codes as they are, deaths by
// signal as deaths by the same signal, without a core.
func TestExit(t *testing.T) {
	statuses := []unix.WaitStatus{
		0,                            // exit 0
		7 << 8,                       // exit 7
		unix.WaitStatus(unix.SIGSYS), // killed by the filter
		unix.WaitStatus(unix.SIGSEGV) | 0x80,
		unix.WaitStatus(unix.SIGTERM),
		unix.WaitStatus(unix.SIGKILL),
	}
	for _, ws := range statuses {
		t.Run(Status(ws), func(t *testing.T) {
			if testutil.InSubprocess(t) {
				Exit(ws) // never returns
			}
			cmd := testutil.Command(t)
			err := cmd.Run()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			got := unix.WaitStatus(cmd.ProcessState.Sys().(syscall.WaitStatus))
			want := ws &^ 0x80 // no core: it would be the supervisor's
			if got != want {
				t.Errorf("Exit(%s): parent saw %s, want %s", Status(ws), Status(got), Status(want))
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		ws   unix.WaitStatus
		want string
	}{
		{0, "exit 0"},
		{126 << 8, "exit 126"},
		{unix.WaitStatus(unix.SIGSYS), "signal SIGSYS"},
		{unix.WaitStatus(unix.SIGSEGV) | 0x80, "signal SIGSEGV (core dumped)"},
	}
	for _, tt := range tests {
		if got := Status(tt.ws); got != tt.want {
			t.Errorf("Status(%#x) = %q, want %q", int(tt.ws), got, tt.want)
		}
	}
}
