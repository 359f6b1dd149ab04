package testutil

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// SpecialFiles makes a FIFO and a listening Unix socket, both with execute
// bits, in a new temporary directory, for tests that a tool refuses files
// that are not regular at once (a FIFO used to hang them in open(2)). The
// socket closes when the test ends.
func SpecialFiles(t testing.TB) (fifo, sock string) {
	t.Helper()
	dir := t.TempDir()
	fifo = filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o755); err != nil {
		t.Fatal(err)
	}
	sock = filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := os.Chmod(sock, 0o755); err != nil {
		t.Fatal(err)
	}
	return fifo, sock
}
