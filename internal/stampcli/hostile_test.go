//go:build linux

package stampcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/hostile"
	"github.com/sysrestrict/sysrestrict/internal/testutil"
)

// runWithin runs the stamper with args and fails the test if it has not
// ended within d: a FIFO used to hang it in open(2).
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

// TestNotRegular: a FIFO, a socket and a device are refused at once,
// each named for what it is, and the other files are still processed.
func TestNotRegular(t *testing.T) {
	fifo, sock := testutil.SpecialFiles(t)
	bin := fixture(t, "x86_64-pie")
	for _, args := range [][]string{{"--show"}, {"--deny", "ptrace"}, {"--check", "--deny", "ptrace"}, {"--remove"}} {
		code, _, errOut := runWithin(t, 10*time.Second, append(args, fifo, sock, "/dev/null", bin)...)
		if code != 1 {
			t.Errorf("%v on a FIFO, a socket, /dev/null and an ELF = %d, want 1", args, code)
		}
		for _, want := range []string{fifo + ": a named pipe (FIFO), not a regular file", sock + ": a socket, not a regular file", "/dev/null: a character device, not a regular file"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: stderr %q, want %q", args, errOut, want)
			}
		}
		if set, stamped := readSet(t, bin); args[0] == "--deny" && (!stamped || !set.Has(101)) {
			t.Errorf("%v: the ELF was not stamped beside the refused files: %v", args, set)
		}
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
