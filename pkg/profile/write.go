package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Write encodes p as version 2 JSON in the canonical form: executables
// sorted by ID, their syscalls by ABI and number, the programs they ran
// under sorted; two-space indentation, one syscall and one program a line;
// then a newline. The same profile always gives the same bytes.
func (p *Profile) Write(w io.Writer) error {
	m := Merge(p) // sorts and dedups a hand-built profile
	var b bytes.Buffer
	b.WriteString("{\n  \"version\": " + strconv.Itoa(Version) + ",\n  \"executables\": [")
	for i, e := range m.Executables {
		b.WriteString(sep(i, "\n    {\n"))
		b.WriteString("      " + idFields(e.ID) + ",\n      \"under\": [")
		for j, u := range e.Under {
			b.WriteString(sep(j, "\n        {"+idFields(u)+"}"))
		}
		b.WriteString(closing(len(e.Under), "      ]") + ",\n      \"syscalls\": [")
		for j, sc := range e.Syscalls {
			b.WriteString(sep(j, "\n        {\"abi\": "+quote(sc.ABI.String())+", \"nr\": "+strconv.Itoa(sc.Nr)+
				", \"name\": "+quote(sc.ABI.Name(sc.Nr))+", \"count\": "+strconv.FormatUint(sc.Count, 10)+"}"))
		}
		b.WriteString(closing(len(e.Syscalls), "      ]") + "\n    }")
	}
	b.WriteString(closing(len(m.Executables), "  ]") + ",\n  \"runs\": [")
	for i, r := range p.Runs {
		argv := r.Argv
		if argv == nil {
			argv = []string{}
		}
		jr := jsonRun{Mode: r.Mode, Argv: argv, Executable: r.Executable, ABI: r.ABI.String(), Time: r.Time.UTC(), Status: r.Status}
		if jr.Mode == "" {
			jr.Mode = ModeLearn
		}
		enc, err := json.MarshalIndent(jr, "    ", "  ")
		if err != nil {
			return fmt.Errorf("writing profile: %w", err)
		}
		b.WriteString(sep(i, "\n    "+string(enc)))
	}
	b.WriteString(closing(len(p.Runs), "  ]") + "\n}\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("writing profile: %w", err)
	}
	return nil
}

// idFields is an ID's members: "path", then "build_id" or "size" when
// known.
func idFields(id ID) string {
	s := "\"path\": " + quote(id.Path)
	switch {
	case id.BuildID != "":
		s += ", \"build_id\": " + quote(id.BuildID)
	case id.Size != 0:
		s += ", \"size\": " + strconv.FormatInt(id.Size, 10)
	}
	return s
}

// sep is s after a comma unless it is the first element (i == 0).
func sep(i int, s string) string {
	if i == 0 {
		return s
	}
	return "," + s
}

// closing ends a JSON array of n elements: on the next line, indented as
// end, or at once when it is empty.
func closing(n int, end string) string {
	if n == 0 {
		return "]"
	}
	return "\n" + end
}

// quote is s as a JSON string, without HTML escaping.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
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
