//go:build unix

package stampcli

import (
	"os"
	"syscall"
)

// fileID identifies the file a FILE names, symlinks followed: two jobs
// with one fileID work on one inode.
type fileID struct {
	dev, ino uint64
	unique   int // a FILE that cannot be stat'ed: its own index + 1
}

func idOf(name string, index int) fileID {
	fi, err := os.Stat(name)
	if err != nil {
		return fileID{unique: index + 1}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{unique: index + 1}
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
}
