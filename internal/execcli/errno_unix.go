//go:build unix

package execcli

import (
	"syscall"

	"golang.org/x/sys/unix"
)

const errnoENOSYS = int(unix.ENOSYS)

// errnoNamed returns the number of the errno called name (EPERM, ...).
func errnoNamed(name string) (int, bool) {
	for e := 1; e < 256; e++ {
		if unix.ErrnoName(syscall.Errno(e)) == name {
			return e, true
		}
	}
	return 0, false
}
