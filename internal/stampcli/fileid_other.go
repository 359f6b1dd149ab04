//go:build !unix

package stampcli

import "path/filepath"

// fileID identifies the file a FILE names, symlinks followed (where there
// are no inode numbers, by its resolved path): two jobs with one fileID
// work on one file.
type fileID struct {
	path   string
	unique int // a FILE that cannot be resolved: its own index + 1
}

func idOf(name string, index int) fileID {
	p, err := filepath.EvalSymlinks(name)
	if err != nil {
		return fileID{unique: index + 1}
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return fileID{path: p}
}
