package stampcli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// tree builds, in a fresh directory, the same set of files every time and
// returns the directory and the FILE arguments naming them: many binaries of
// several ABIs and layouts, files that fail (not ELF, appended data,
// missing), and several names for one file (the same path twice, a symlink,
// a hard link), whose jobs must run in FILE order whatever -j is.
func tree(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	fixtures := []string{"x86_64-pie", "aarch64-pie", "x86_64-exec", "go-pie", "arm-pie", "x86_64-static", "libhello.so"}
	var files []string
	later := map[int][]string{} // more names for a file, given a few FILEs on
	for i := range 48 {
		files = append(files, later[i]...)
		name := filepath.Join(dir, fmt.Sprintf("f%02d", i))
		switch {
		case i%16 == 5:
			os.WriteFile(name, []byte("#!/bin/sh\necho hi\n"), 0o755)
		case i%16 == 9:
			copyTo(t, "x86_64-appended", name)
		case i%16 == 13:
			// missing: named, never created
		default:
			copyTo(t, fixtures[i%len(fixtures)], name)
		}
		files = append(files, name)
		if i%8 == 2 {
			// The same file under other names, each right after a
			// stretch of other files so that workers overlap them.
			sym, hard := name+"-sym", name+"-hard"
			if err := os.Symlink(filepath.Base(name), sym); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(name, hard); err != nil {
				t.Fatal(err)
			}
			later[i+3] = []string{name, sym, hard}
		}
	}
	return dir, files
}

// fixtureDir is testdata/elf, absolute: some tests change directory.
var fixtureDir, _ = filepath.Abs("../../testdata/elf")

func copyTo(t *testing.T, fixture, dst string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, fixture))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// snapshot returns every file under dir, by name relative to dir: its bytes,
// or its link target.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			m[e.Name()] = "-> " + target
			continue
		}
		m[e.Name()] = string(mustRead(t, p))
	}
	return m
}

// TestOutputSameForEveryJ runs every mode over the same tree of many files
// with -j 1 and with -j 8, several times, and requires the same exit status,
// the same stdout and stderr (paths aside) and the same files afterwards.
func TestOutputSameForEveryJ(t *testing.T) {
	type outcome struct {
		Code           int
		Stdout, Stderr string
	}
	steps := [][]string{
		{"--deny", "execve,ptrace"},
		{"--deny", "openat,socket", "--json"},
		{"--deny", "mount"}, // in place: adds a bit to a stamped file
		{"--check", "--deny", "ptrace"},
		{"--check", "--json", "--deny", "execve"},
		{"--check", "--json"},
		{"--check"},
		{"--show"},
		{"--show", "--json"},
		{"--allow", "read,write,exit_group"},
		{"--remove", "--json"},
		{"--remove"},
	}
	run := func(j int) ([]outcome, map[string]string) {
		dir, files := tree(t)
		var outs []outcome
		for _, step := range steps {
			args := append(append([]string{"-j", strconv.Itoa(j)}, step...), files...)
			code, stdout, stderr := stampRun(t, args...)
			outs = append(outs, outcome{code, strings.ReplaceAll(stdout, dir, "DIR"), strings.ReplaceAll(stderr, dir, "DIR")})
		}
		return outs, snapshot(t, dir)
	}
	want, wantFiles := run(1)
	for i, o := range want {
		if o.Code != ExitFailed || o.Stdout == "" {
			t.Errorf("-j 1 %v = %d with stdout %q; want %d (some files fail) and a line per file", steps[i], o.Code, o.Stdout, ExitFailed)
		}
	}
	for round := range 3 {
		got, gotFiles := run(8)
		for i := range steps {
			if diff := cmp.Diff(want[i], got[i]); diff != "" {
				t.Errorf("round %d: %v with -j 8 differs from -j 1 (-j 1 +j 8):\n%s", round, steps[i], diff)
			}
		}
		if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
			t.Errorf("round %d: the files after -j 8 differ from after -j 1 (-j 1 +j 8, %d bytes of diff)", round, len(diff))
		}
	}
}

// TestSameFileJobsRunInOrder names one file four ways and stamps it with
// many workers: the first name reports the change and every later one
// "unchanged", as with one worker, because jobs on one file run in FILE
// order. Without that, two workers would race for the file's lock and the
// "+1" could land on any of the names.
func TestSameFileJobsRunInOrder(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	copyTo(t, "x86_64-pie", bin)
	if code, _, errOut := stampRun(t, "-q", "--deny", "execve", bin); code != 0 {
		t.Fatalf("stamp = %d, %s", code, errOut)
	}
	os.Symlink("bin", filepath.Join(dir, "sym"))
	os.Link(bin, filepath.Join(dir, "hard"))
	names := []string{bin, filepath.Join(dir, "sym"), bin, filepath.Join(dir, "hard"), filepath.Join(dir, ".", "bin")}
	for round := range 20 {
		// ptrace is added in place: every name still shares the inode.
		code, out, errOut := stampRun(t, append([]string{"-j", "8", "--deny", "ptrace"}, names...)...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if code != 0 || len(lines) != len(names) {
			t.Fatalf("round %d: -j 8 = %d, %q, %q", round, code, out, errOut)
		}
		for i, line := range lines {
			changed := !strings.Contains(line, "unchanged")
			if changed != (i == 0 && round == 0) {
				t.Errorf("round %d: line %d = %q; want only the first name of the first round to report the change", round, i, line)
			}
		}
	}
}

// TestWarningsOncePerRun: with many workers, each warning is printed once,
// naming the first file in FILE order it applies to.
func TestWarningsOncePerRun(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := range 24 {
		name := filepath.Join(dir, fmt.Sprintf("bin%02d", i))
		copyTo(t, "x86_64-pie", name)
		files = append(files, name)
	}
	code, _, errOut := stampRun(t, append([]string{"-j", "8", "--deny", "execve,ptrace"}, files...)...)
	if code != 0 {
		t.Fatalf("stamp = %d, %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("stderr = %q, want two warnings (execveat, process_vm_*)", errOut)
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "sysrestrict-stamp: warning: "+files[0]+": ") {
			t.Errorf("warning %q does not name the first file, %s", line, files[0])
		}
	}
	// --json records carry every warning of their file.
	code, out, _ := stampRun(t, "--json", "--replace", "--deny", "execve", files[1])
	var rec fileJSON
	if err := json.Unmarshal([]byte(out), &rec); code != 0 || err != nil || len(rec.Warnings) != 1 || !strings.Contains(rec.Warnings[0], "execveat") {
		t.Errorf("--json record = %q (%v), want one warning about execveat", out, err)
	}
}

// TestErrorsKeepTheirIdentity checks errors.Is through every layer of the
// stamper, from elfnote up to the error the app returns, and that each
// failure's line names its file exactly once.
func TestErrorsKeepTheirIdentity(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script.sh")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	appended := filepath.Join(dir, "appended")
	copyTo(t, "x86_64-appended", appended)
	unstamped := filepath.Join(dir, "unstamped")
	copyTo(t, "x86_64-pie", unstamped)
	short := filepath.Join(dir, "short")
	copyTo(t, "x86_64-pie", short)
	damaged := filepath.Join(dir, "damaged")
	copyTo(t, "x86_64-pie", damaged)
	for _, f := range []string{short, damaged} {
		if code, _, errOut := stampRun(t, "-q", "--deny", "ptrace", f); code != 0 {
			t.Fatalf("stamp %s = %d, %s", f, code, errOut)
		}
	}
	b := mustRead(t, damaged)
	ef, err := elfnote.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	b[ef.Note.BitmapOff-16] = 9 // the bitmap note's type word (LE): a reserved type
	os.WriteFile(damaged, b, 0o755)
	missing := filepath.Join(dir, "nope", "bin")

	tests := []struct {
		name string
		args []string
		file string
		is   error
	}{
		{"not ELF", []string{"--deny", "ptrace"}, script, elfnote.ErrNotELF},
		{"appended data", []string{"--deny", "ptrace"}, appended, elfnote.ErrAppendedData},
		{"missing", []string{"--deny", "ptrace"}, missing, fs.ErrNotExist},
		{"remove missing", []string{"--remove"}, missing, fs.ErrNotExist},
		{"check damaged", []string{"--check", "--deny", "ptrace"}, damaged, elfnote.ErrBadNote},
		{"show damaged", []string{"--show"}, damaged, elfnote.ErrBadNote},
		{"check unstamped", []string{"--check", "--deny", "ptrace"}, unstamped, elfnote.ErrNoNote},
		{"check short", []string{"--check", "--deny", "ptrace,execve"}, short, errShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(append([]string{"sysrestrict-stamp"}, tt.args...), tt.file)
			err := New(&stdout, &stderr).Run(args)
			var f failed
			if !errors.As(err, &f) || len(f.errs) != 1 {
				t.Fatalf("Run(%v) = %v, want one failed file", tt.args, err)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("Run(%v) = %v (%v), want errors.Is %v", tt.args, err, f.errs[0], tt.is)
			}
			line := strings.TrimSuffix(stderr.String(), "\n")
			if !strings.HasPrefix(line, "sysrestrict-stamp: "+tt.file+": ") || strings.Count(line, tt.file) != 1 {
				t.Errorf("stderr = %q, want one line naming %s once, first", stderr.String(), tt.file)
			}
		})
	}

	// The --json record's error is the same line without the tool's name.
	code, out, errOut := stampRun(t, "--json", "--deny", "ptrace", script)
	var rec fileJSON
	if err := json.Unmarshal([]byte(out), &rec); code != ExitFailed || err != nil ||
		"sysrestrict-stamp: "+rec.Error+"\n" != errOut {
		t.Errorf("--json on a script = %d, %q, %q (%v), want the error record to match stderr", code, out, errOut, err)
	}
}

func TestJobsUsage(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	for _, j := range []string{"0", "-1"} {
		if code, _, errOut := stampRun(t, "-j", j, "--deny", "ptrace", bin); code != ExitUsage || !strings.Contains(errOut, "-j") {
			t.Errorf("-j %s = %d, %q, want %d", j, code, errOut, ExitUsage)
		}
	}
	if _, stamped := readSet(t, bin); stamped {
		t.Errorf("a usage error stamped the file")
	}
}

// TestUsageErrorBeforeAnyWrite: a LIST that does not resolve for the last
// of many files stops the run before any of them is written, with many
// workers too.
func TestUsageErrorBeforeAnyWrite(t *testing.T) {
	dir, files := tree(t)
	last := filepath.Join(dir, "zz-aarch64")
	copyTo(t, "aarch64-pie", last)
	before := snapshot(t, dir)
	code, out, errOut := stampRun(t, append(append([]string{"-j", "8", "--deny", "open"}, files...), last)...)
	if code != ExitUsage || out != "" || !strings.Contains(errOut, "aarch64") {
		t.Errorf("--deny open with an aarch64 file = %d, %q, %q; want %d naming aarch64 and no output", code, out, errOut, ExitUsage)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("a usage error changed files")
	}
}
