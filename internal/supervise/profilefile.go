package supervise

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// ProfileError is a problem with the profile file of Learn: found by
// CheckProfile before PROGRAM runs, or when the learned run could not be
// merged into the file after it.
type ProfileError struct {
	Path string // the profile file
	Err  error
	// Saved, when the run was learned but could not be merged into
	// Path, is where its profile was written instead ("" if nowhere).
	Saved string
}

func (e *ProfileError) Error() string {
	s := e.Err.Error()
	if !strings.HasPrefix(s, e.Path+": ") { // profile.ReadFile's errors name it already
		s = e.Path + ": " + s
	}
	if e.Saved != "" {
		s += "; the run's profile is saved in " + e.Saved + " (give it to --allow-profile too, or merge it in by learning again)"
	}
	return s
}

func (e *ProfileError) Unwrap() error { return e.Err }

// CheckProfile checks that a learning run can be merged into the profile
// file at path, before anything is run, so that a run is not learned for
// nothing: the file, if it exists, is a regular file that reads as a
// profile of a version this sysrestrict reads (pkg/profile), and its
// directory takes new files (a file is created there and removed: the
// profile is written as a new file renamed over the old one). Its errors
// are *ProfileError.
func CheckProfile(path string) error {
	fail := func(err error) error { return &ProfileError{Path: path, Err: err} }
	if path == "" {
		return fail(errors.New("no profile file named"))
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Learn creates it, if its directory exists (checked below).
	case err != nil:
		return fail(errText(err))
	case fi.IsDir():
		return fail(errors.New("is a directory: name a profile file in it"))
	case !fi.Mode().IsRegular():
		return fail(fmt.Errorf("is %s, not a regular file: name a profile file", kindOf(fi.Mode())))
	default:
		f, err := os.Open(path)
		if err != nil {
			return fail(errText(err))
		}
		_, err = profile.Read(f)
		f.Close()
		if err != nil {
			return fail(fmt.Errorf("%w; a run cannot be merged into it: repair it, remove it or learn into another file", err))
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.check")
	if err != nil {
		return fail(fmt.Errorf("cannot write the profile: cannot create a file in %s: %w", dir, errText(err)))
	}
	tmp.Close()
	os.Remove(tmp.Name())
	return nil
}

// kindOf names the type of a file that is not regular.
func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// save writes p to a new file in the temporary directory and returns its
// name, for a run whose profile could not be merged into its file.
func save(p *profile.Profile) (string, error) {
	f, err := os.CreateTemp("", "sysrestrict-learn-*.profile.json")
	if err != nil {
		return "", err
	}
	if err := p.Write(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// errText is err without the "op path: " of a *fs.PathError, whose path
// is the one the caller names already or a temporary one.
func errText(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
