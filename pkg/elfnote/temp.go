//go:build linux

package elfnote

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// tempName is the name a stamper gives the file that replaces dest, for
// the rename: ".NAME.sysrestrict-new" beside it. One fixed name per
// target: under the target's exclusive lock no other stamper writes one,
// so a file of that name is a killed stamper's and is removed.
func tempName(dest string) string {
	dir, base := filepath.Split(dest)
	return filepath.Join(dir, "."+base+".sysrestrict-new")
}

// A temp is the file that will replace dest: unnamed (O_TMPFILE) until
// link gives it tempName(dest) for the rename, or named from the start on
// a filesystem without O_TMPFILE.
type temp struct {
	f    *os.File
	dest string
	name string // "" until linked
	// reclaim: a file already at tempName is a dead stamper's (the caller
	// holds dest's exclusive lock) and may be removed.
	reclaim bool
}

// newTemp creates an unnamed file in dest's directory (open(2) with
// O_TMPFILE), or, where the filesystem has no O_TMPFILE or /proc cannot
// name it later, the named file tempName(dest).
func newTemp(dest string, reclaim bool, opts *Options) (*temp, error) {
	t := &temp{dest: dest, reclaim: reclaim}
	dir := filepath.Dir(dest)
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil && opts.noTmpfile {
		unix.Close(fd)
		fd, err = -1, unix.EOPNOTSUPP
	}
	if err == nil {
		t.f = os.NewFile(uintptr(fd), tempName(dest)+" (unnamed)")
		// linkat(2) names an O_TMPFILE file through /proc/self/fd, which
		// needs no CAP_DAC_READ_SEARCH: check now that it can, not once the
		// file is written.
		if _, err := os.Stat(procFd(fd)); err == nil {
			return t, nil
		}
		t.f.Close()
	} else if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
		return nil, fmt.Errorf("creating the new file in %s: %w", dir, err)
	}
	// No O_TMPFILE (some network and FUSE filesystems): the file has its
	// name while it is written, and a stamper killed meanwhile leaves it,
	// for the next stamp of dest to remove.
	err = t.claim(func(name string) error {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		t.f = f
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func procFd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// claim runs create(tempName(dest)); where the name exists it removes a
// dead stamper's file and tries once more, or says who may hold it.
func (t *temp) claim(create func(name string) error) error {
	name := tempName(t.dest)
	err := create(name)
	if errors.Is(err, os.ErrExist) && t.reclaim {
		os.Remove(name)
		err = create(name)
	}
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: another sysrestrict-stamp is writing %s, or one was killed while doing so; if none is running, remove it", name, t.dest)
	}
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	t.name = name
	return nil
}

// link gives an unnamed temp its name, for the rename.
func (t *temp) link() error {
	if t.name != "" {
		return nil
	}
	return t.claim(func(name string) error {
		return unix.Linkat(unix.AT_FDCWD, procFd(int(t.f.Fd())), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
	})
}

// discard closes the temp and removes its name, if it has one.
func (t *temp) discard() {
	t.f.Close()
	if t.name != "" {
		os.Remove(t.name)
	}
}

// reclaimTemp removes the file a stamper killed while replacing target
// left beside it, and returns its name ("" if there was none). The caller
// holds target's exclusive lock. A failure is not an error: reclaiming is
// housekeeping, never a reason to fail a stamp.
func reclaimTemp(target string) string {
	name := tempName(target)
	if fi, err := os.Lstat(name); err != nil || fi.IsDir() {
		return ""
	}
	if os.Remove(name) != nil {
		return ""
	}
	return name
}
