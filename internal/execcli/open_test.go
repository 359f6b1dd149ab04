//go:build linux

package execcli

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
)

// TestNotRegular: a FIFO, a socket and a device given as PROGRAM are
// refused at once, saying what they are; a FIFO used to hang the loader in
// open(2).
func TestNotRegular(t *testing.T) {
	need(t)
	fifo, sock := testutil.SpecialFiles(t)
	for _, tt := range []struct{ path, what string }{
		{fifo, "a named pipe (FIFO)"},
		{sock, "a socket"},
		{"/dev/null", "a character device"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, loader, tt.path).CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != ExitCannotRun || !strings.Contains(string(out), tt.path+": "+tt.what+", not a regular file") {
			t.Errorf("sysrestrict-exec %s = %v, %q; want exit 126 naming %s", tt.path, err, out, tt.what)
		}
	}
}
