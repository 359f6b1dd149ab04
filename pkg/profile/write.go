package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write encodes p as indented JSON, one entry per line, in the canonical
// order, followed by a newline.
func (p *Profile) Write(w io.Writer) error {
	v := Version
	jp := jsonProfile{Version: &v, Syscalls: []jsonSyscall{}, Runs: []jsonRun{}}
	for _, sc := range Merge(p).Syscalls { // Merge sorts and dedups a hand-built profile
		nr := sc.Nr
		exes := sc.Executables
		if exes == nil {
			exes = []string{}
		}
		jp.Syscalls = append(jp.Syscalls, jsonSyscall{ABI: sc.ABI.String(), Nr: &nr, Name: sc.ABI.Name(nr), Count: sc.Count, Executables: exes})
	}
	for _, r := range p.Runs {
		jp.Runs = append(jp.Runs, jsonRun{Argv: r.Argv, Executable: r.Executable, ABI: r.ABI.String(), Time: r.Time.UTC(), Status: r.Status})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jp); err != nil {
		return fmt.Errorf("writing profile: %w", err)
	}
	return nil
}

// WriteFile writes p to the named file atomically: into a temporary file in
// the same directory, synced, then renamed over name. An existing file's
// mode is kept; a new one gets 0644 (less the umask).
func WriteFile(name string, p *Profile) (err error) {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(name); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing profile: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := p.Write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("writing profile: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing profile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing profile: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("writing profile: %w", err)
	}
	return nil
}

// Update merges add into the profile in the named file, creating it if it
// does not exist, and writes the result atomically.
func Update(name string, add *Profile) error {
	old, err := ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		old, err = &Profile{}, nil
	}
	if err != nil {
		return err
	}
	return WriteFile(name, Merge(old, add))
}
