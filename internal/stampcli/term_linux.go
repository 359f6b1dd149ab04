package stampcli

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// terminal returns w as a file if it is a terminal (tcgetattr(3)
// succeeds on it), or nil.
func terminal(w io.Writer) *os.File {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return nil
	}
	return f
}
