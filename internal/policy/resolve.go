package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// A Target is a regular ELF file under the root with the rules that apply
// to it.
type Target struct {
	Path  string   // the file: root joined with Rel
	Rel   string   // relative to the root, '/'-separated; the first of its names
	Links []string // its other names under the root (hard links), relative
	Rules []*Rule  // the rules that apply, in file order; empty if skipped
	Skip  bool     // a skip rule matched one of its names

	Executable bool // an x bit is set: --strict wants a rule for it
}

// Args returns the options of every rule that applies, in file order, as
// repeated options on one command line.
func (t *Target) Args() []string {
	var a []string
	for _, r := range t.Rules {
		a = append(a, r.Args...)
	}
	return a
}

// A Tree is what a policy makes of a root: the files its rules apply to,
// and the executable ELF files no rule covers.
type Tree struct {
	Files     []*Target // every regular ELF file, one per inode, in walk order
	Targets   []*Target // those a rule that is not skip matched
	Skipped   []*Target // those a skip rule matched
	Uncovered []string  // executable ELF files no rule matched, relative

	// Leftovers are files named as a stamper names the file it is about
	// to rename over another (elfnote.IsTemp), relative: a killed
	// stamper's. They are no part of the tree: no rule matches them, and
	// they are nobody's hard link.
	Leftovers []string
}

// A RuleError is a rule that matches no file.
type RuleError struct {
	Name string // the policy file
	Rule *Rule
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("%s:%d: %s matches no regular ELF file under the root (symlinks are not followed)", e.Name, e.Rule.Line, e.Rule.Glob)
}

// ErrNoRules is returned for a policy file with no rules.
var ErrNoRules = errors.New("the policy file has no rules")

// Resolve walks root and returns the tree the policy makes of it. Every
// rule must match at least one file: those that match none are returned
// together, as *RuleError values joined by errors.Join.
func (p *Policy) Resolve(root string) (*Tree, error) {
	if len(p.Rules) == 0 {
		return nil, fmt.Errorf("%s: %w", p.Name, ErrNoRules)
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// WalkDir would not follow it, and the tree would look empty.
		return nil, fmt.Errorf("%s: a symlink: give the directory it points to", root)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", root)
	}
	type inode struct{ dev, ino uint64 }
	byInode := map[inode]*Target{}
	matched := make([]bool, len(p.Rules))
	tree := &Tree{}
	err = filepath.WalkDir(root, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, name)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if elfnote.IsTemp(name) {
			tree.Leftovers = append(tree.Leftovers, rel)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		elf, err := isELF(name)
		if err != nil {
			return err
		}
		if !elf {
			return nil
		}
		t := &Target{Path: name, Rel: rel, Executable: fi.Mode()&0o111 != 0}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first := byInode[key]; first != nil {
				first.Links = append(first.Links, rel)
				return nil
			}
			byInode[key] = t
		}
		tree.Files = append(tree.Files, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", root, err)
	}
	for _, t := range tree.Files {
		names := append([]string{t.Rel}, t.Links...)
		for i := range p.Rules {
			r := &p.Rules[i]
			for _, n := range names {
				if Match(r.Glob, n) {
					matched[i] = true
					if r.Skip {
						t.Skip = true
					} else {
						t.Rules = append(t.Rules, r)
					}
					break
				}
			}
		}
		switch {
		case t.Skip:
			t.Rules = nil
			tree.Skipped = append(tree.Skipped, t)
		case len(t.Rules) > 0:
			tree.Targets = append(tree.Targets, t)
		case t.Executable:
			tree.Uncovered = append(tree.Uncovered, t.Rel)
		}
	}
	var errs []error
	for i, ok := range matched {
		if !ok {
			errs = append(errs, &RuleError{p.Name, &p.Rules[i]})
		}
	}
	if len(errs) > 0 {
		return tree, errors.Join(errs...)
	}
	return tree, nil
}

// isELF reports whether the regular file name starts with the ELF magic.
func isELF(name string) (bool, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, err
	}
	return bytes.Equal(magic[:], []byte("\x7fELF")), nil
}
