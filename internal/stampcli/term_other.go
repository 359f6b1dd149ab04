//go:build !linux

package stampcli

import (
	"io"
	"os"
)

// terminal: progress is shown on Linux only.
func terminal(w io.Writer) *os.File { return nil }
