//go:build linux

package execcli

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// TestFailureKeepsItsCause checks that the loader's failures keep the
// error they were made from: errors.Is(err, elfnote.ErrBadNote) and the
// rest hold above prepare, and the status is still the failure's own
// (issue 10, item 4). Nothing is executed: only prepare runs.
func TestFailureKeepsItsCause(t *testing.T) {
	dir := t.TempDir()
	elfFile := filepath.Join(dir, "x86_64-pie")
	copyFile(t, "../../testdata/elf/x86_64-pie", elfFile, 0o755)

	bad := filepath.Join(dir, "bad-note")
	copyFile(t, "../../testdata/elf/x86_64-pie", bad, 0o755)
	set := bitmap.NewSet(bitmap.X86_64)
	set.SetDenyBeyond(true) // so that the note has a flags word
	if _, err := elfnote.Stamp(bad, set, elfnote.Options{Replace: true}); err != nil {
		t.Fatal(err)
	}
	ef, err := elfnote.ReadFile(bad)
	if err != nil || ef.Note.FlagsOff == 0 {
		t.Fatalf("reading the stamped %s: %v, flags at %d", bad, err, ef.Note.FlagsOff)
	}
	f, err := os.OpenFile(bad, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Bit 30 of the flags word is reserved: the note is bad.
	if _, err := f.WriteAt([]byte{0x01, 0, 0, 0x40}, ef.Note.FlagsOff); err != nil {
		t.Fatal(err)
	}
	f.Close()

	script := filepath.Join(dir, "script")
	os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("\x7fELF\x09\x09\x09garbage after a magic number"), 0o755)

	tests := []struct {
		name   string
		args   []string
		is     error
		status int
	}{
		{"bad note", []string{bad}, elfnote.ErrBadNote, ExitCannotRun},
		{"--require, no note", []string{"--require", elfFile}, elfnote.ErrNoNote, ExitCannotRun},
		{"--require, a script", []string{"--require", script}, elfnote.ErrNotELF, ExitCannotRun},
		{"--deny, a script", []string{"--deny", "ptrace", script}, elfnote.ErrNotELF, ExitCannotRun},
		{"ELF magic, then garbage", []string{garbage}, elfnote.ErrNotELF, ExitCannotRun},
		{"unknown name", []string{"--deny", "no_such_syscall", elfFile}, bitmap.ErrUnknownName, ExitUsage},
		{"number past the bitmap", []string{"--deny", "600", elfFile}, bitmap.ErrRange, ExitUsage},
		{"missing", []string{filepath.Join(dir, "nope")}, fs.ErrNotExist, ExitNotFound},
		{"a directory", []string{dir}, nil, ExitCannotRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parse(append(tt.args, "arg"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = prepare(o, []string{"PATH=/bin"}, io.Discard)
			var fl *failure
			switch {
			case err == nil:
				t.Fatalf("prepare(%v) = nil error, want one", tt.args)
			case !errors.As(err, &fl):
				t.Fatalf("prepare(%v) = %T %v, want a *failure", tt.args, err, err)
			case fl.status != tt.status:
				t.Errorf("prepare(%v) status = %d, want %d (%v)", tt.args, fl.status, tt.status, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("prepare(%v) = %v, want errors.Is %v", tt.args, err, tt.is)
			}
			if tt.is == nil && errors.Unwrap(err) != nil {
				t.Errorf("prepare(%v) = %v wraps %v, want no cause", tt.args, err, errors.Unwrap(err))
			}
		})
	}
}
