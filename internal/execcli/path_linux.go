package execcli

import (
	"errors"
	"io"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultPath is what execvp searches when PATH is unset (glibc's
// confstr(_CS_PATH)).
const defaultPath = "/bin:/usr/bin"

// lookPath finds PROGRAM like execvp(3): a name with a slash is taken as
// is; any other is searched in PATH, an empty entry meaning the current
// directory. A name found but not executable anywhere is 126; not found,
// 127.
func lookPath(program, path string, pathSet bool) (string, error) {
	if program == "" {
		return "", fail(ExitNotFound, "'': no such file")
	}
	if strings.Contains(program, "/") {
		return program, nil // open says if it is there
	}
	if !pathSet {
		path = defaultPath
	}
	var denied string
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		cand := dir + "/" + program
		var st unix.Stat_t
		if unix.Stat(cand, &st) != nil || st.Mode&unix.S_IFMT == unix.S_IFDIR {
			continue
		}
		if unix.Faccessat(unix.AT_FDCWD, cand, unix.X_OK, unix.AT_EACCESS) != nil {
			if denied == "" {
				denied = cand
			}
			continue
		}
		return cand, nil
	}
	if denied != "" {
		return "", fail(ExitCannotRun, denied, ": permission denied (not executable); no executable ", program, " elsewhere in PATH")
	}
	return "", fail(ExitNotFound, program, ": command not found in PATH")
}

// File is PROGRAM's open descriptor: an io.ReaderAt for the note reader
// and the descriptor the loader execs. It is a bare descriptor rather than
// an *os.File: no poller, no finalizer (whose goroutine alone costs the
// loader start-up time), and it is not closed — the exec closes it
// (O_CLOEXEC) or the loader exits — but for a script's, once its
// interpreter is open.
type File struct {
	Fd   int
	size int64
}

// ReadAt implements io.ReaderAt with pread(2).
func (f *File) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Pread(f.Fd, b[n:], off+int64(n))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// Size returns the file's size when it was opened.
func (f *File) Size() int64 { return f.size }

// Close closes the descriptor: a script's, once its interpreter is open.
func (f *File) Close() error { return unix.Close(f.Fd) }

// open opens the file that will be run, once, and says what it is. The
// same descriptor is read for the note and executed (execveat with
// AT_EMPTY_PATH), so the file cannot be swapped in between.
//
// It looks at path before it opens it, so that a device is never opened
// (opening one can act: a tape rewinds, a watchdog arms), and opens it
// with O_NONBLOCK, so that a FIFO put in its place meanwhile cannot hang
// the loader in open(2), which for a FIFO waits for a writer (fifo(7));
// O_NOCTTY keeps a terminal from becoming the controlling one. Neither
// flag changes how a regular file reads or runs.
func open(path string) (*File, Kind, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, 0, notRegular(path, st.Mode)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT):
			return nil, 0, failWith(ExitNotFound, err, path, ": no such file")
		case errors.Is(err, unix.EACCES):
			return nil, 0, failWith(ExitCannotRun, err, path, ": cannot be read, so its note cannot be checked (", errText(err), "); make it readable by the user who runs it")
		}
		return nil, 0, failWith(ExitCannotRun, err, path, ": ", errText(err))
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, failWith(ExitCannotRun, err, path, ": ", errText(err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, 0, notRegular(path, st.Mode)
	}
	f := &File{Fd: fd, size: st.Size}
	if err := unix.Faccessat2(fd, "", unix.X_OK, unix.AT_EMPTY_PATH|unix.AT_EACCESS); err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
			err = unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS)
		}
		if err != nil {
			unix.Close(fd)
			return nil, 0, failWith(ExitCannotRun, err, path, ": not executable (", errText(err), "); chmod +x it if it should run")
		}
	}
	var head [4]byte
	n, _ := f.ReadAt(head[:], 0)
	switch {
	case n == 4 && string(head[:]) == "\x7fELF":
		return f, KindELF, nil
	case n >= 2 && string(head[:2]) == "#!":
		return f, KindScript, nil
	}
	return f, KindOther, nil
}

// notRegular refuses a PROGRAM that is not a regular file, saying what it
// is: only a regular file can be executed (execve(2), EACCES).
func notRegular(path string, mode uint32) error {
	what := "not a regular file"
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		what = "a directory"
	case unix.S_IFIFO:
		what = "a named pipe (FIFO)"
	case unix.S_IFSOCK:
		what = "a socket"
	case unix.S_IFCHR:
		what = "a character device"
	case unix.S_IFBLK:
		what = "a block device"
	}
	return fail(ExitCannotRun, path, ": ", what, ", not a regular file, so it cannot be run")
}
