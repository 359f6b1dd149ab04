//go:build linux

package stampcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/hostile"
)

// runWithin runs the stamper with args and fails the test if it has not
// ended within d.
func runWithin(t *testing.T, d time.Duration, args ...string) (int, string, string) {
	t.Helper()
	type res struct {
		code     int
		out, err string
	}
	done := make(chan res, 1)
	go func() {
		code, out, errOut := stampRun(t, args...)
		done <- res{code, out, errOut}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.err
	case <-time.After(d):
		t.Fatalf("sysrestrict-stamp %s: still running after %v", strings.Join(args, " "), d)
		return 0, "", ""
	}
}

// TestHostileHeaders: the files (65,000 program headers; a 256 MiB
// sparse file declaring 4 million section headers) fail at once (exit 1);
// make bench times them and their memory (internal/bench/hostile).
func TestHostileHeaders(t *testing.T) {
	dir := t.TempDir()
	phdrs, sparse := filepath.Join(dir, "phdrs"), filepath.Join(dir, "sparse")
	if err := hostile.WritePhdrs(phdrs, hostile.Phnum); err != nil {
		t.Fatal(err)
	}
	if err := hostile.WriteSparse(sparse, 256<<20); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(phdrs)
	for _, args := range [][]string{{"--show"}, {"--deny", "ptrace"}} {
		code, _, errOut := runWithin(t, 30*time.Second, append(args, phdrs, sparse)...)
		if code != 1 || !strings.Contains(errOut, "65000 program headers") || !strings.Contains(errOut, "section header table of 4194240 entries") {
			t.Errorf("%v on the hostile files = %d, %q; want 1 and both refused", args, code, errOut)
		}
	}
	if after, _ := os.ReadFile(phdrs); string(after) != string(before) {
		t.Errorf("the refused file was changed")
	}
}
