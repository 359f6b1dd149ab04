package stampcli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

func TestReorder(t *testing.T) {
	tests := []struct {
		args, want []string
	}{
		{[]string{"./bin", "--json"}, []string{"--json", "--", "./bin"}},
		{[]string{"--json", "./bin"}, []string{"--json", "--", "./bin"}},
		{[]string{"a", "--deny", "execve", "b", "-q"}, []string{"--deny", "execve", "-q", "--", "a", "b"}},
		{[]string{"a", "--deny=execve,ptrace", "b"}, []string{"--deny=execve,ptrace", "--", "a", "b"}},
		{[]string{"a", "-deny", "execve"}, []string{"-deny", "execve", "--", "a"}},
		// A value stays with its option, whatever it looks like.
		{[]string{"a", "-o", "-x", "--deny", "-q"}, []string{"-o", "-x", "--deny", "-q", "--", "a"}},
		{[]string{"a", "--output", "--", "b"}, []string{"--output", "--", "--", "a", "b"}},
		{[]string{"-j", "4", "a"}, []string{"-j", "4", "--", "a"}},
		{[]string{"a", "--jobs=4"}, []string{"--jobs=4", "--", "a"}},
		// -- ends the options, once.
		{[]string{"a", "--", "-x", "--json", "--"}, []string{"--", "a", "-x", "--json", "--"}},
		{[]string{"--", "--deny", "x"}, []string{"--", "--deny", "x"}},
		// "-" alone is a FILE; an unknown option stays an option, for
		// urfave/cli to report.
		{[]string{"-", "--frobnicate", "a"}, []string{"--frobnicate", "--", "-", "a"}},
		// A boolean option takes no value: the next argument is a FILE.
		{[]string{"--show", "a", "--json", "b"}, []string{"--show", "--json", "--", "a", "b"}},
		{[]string{"--json=false", "a"}, []string{"--json=false", "--", "a"}},
		{[]string{"a", "-h"}, []string{"-h"}},
		{[]string{"a", "--deny", "x", "--help", "b"}, []string{"--help"}},
		{[]string{"a", "--", "--help"}, []string{"--", "a", "--help"}},
		{[]string{"--deny", "--help", "a"}, []string{"--deny", "--help", "--", "a"}},
		{[]string{}, []string{"--"}},
	}
	flags := New(io.Discard, io.Discard).Flags
	for _, tt := range tests {
		got, err := reorder(append([]string{"sysrestrict-stamp"}, tt.args...), flags)
		if err != nil {
			t.Errorf("reorder(%q) = %v", tt.args, err)
			continue
		}
		if diff := cmp.Diff(append([]string{"sysrestrict-stamp"}, tt.want...), got); diff != "" {
			t.Errorf("reorder(%q) (-want +got):\n%s", tt.args, diff)
		}
	}
	for _, args := range [][]string{{"a", "--deny"}, {"a", "-o"}, {"-j"}} {
		if got, err := reorder(append([]string{"sysrestrict-stamp"}, args...), flags); err == nil {
			t.Errorf("reorder(%q) = %q, want an error: the last option has no value", args, got)
		}
	}
}

// TestOptionsAfterFiles runs the command with options after FILEs, as SPEC
// section 2 allows, and with FILEs that look like options after "--".
func TestOptionsAfterFiles(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	code, out, errOut := stampRun(t, bin, "--deny", "ptrace", "--json")
	var rec fileJSON
	if err := json.Unmarshal([]byte(out), &rec); code != 0 || err != nil || rec.File != bin || len(rec.Added) != 1 {
		t.Fatalf("FILE --deny ptrace --json = %d, %q, %q (%v), want a JSON record of one added", code, out, errOut, err)
	}
	if s, _ := readSet(t, bin); s.String() != "{ptrace}" {
		t.Errorf("after FILE --deny ptrace, note = %v", s)
	}
	code, out, _ = stampRun(t, bin, "--show")
	if code != 0 || !strings.Contains(out, "1 restricted: ptrace") {
		t.Errorf("FILE --show = %d, %q", code, out)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if code, _, errOut := stampRun(t, bin, "-o", dst, "--deny", "execve", "-q"); code != 0 {
		t.Errorf("FILE -o OUT --deny execve -q = %d, %s", code, errOut)
	}
	if s, _ := readSet(t, dst); s.String() != "{execve,ptrace}" {
		t.Errorf("-o after FILE: output note = %v", s)
	}

	// FILEs named like options, after --.
	dir := t.TempDir()
	copyTo(t, "x86_64-pie", filepath.Join(dir, "-x"))
	copyTo(t, "x86_64-pie", filepath.Join(dir, "--json"))
	t.Chdir(dir)
	code, out, errOut = stampRun(t, "--deny", "ptrace", "--", "-x", "--json")
	if code != 0 || out != "-x: +1 restricted (ptrace); 1 total\n--json: +1 restricted (ptrace); 1 total\n" {
		t.Errorf("--deny ptrace -- -x --json = %d, %q, %q", code, out, errOut)
	}
	for _, name := range []string{"-x", "--json"} {
		if s, ok := readSet(t, filepath.Join(dir, name)); !ok || s.String() != "{ptrace}" {
			t.Errorf("%s after --: note = %v, %v", name, s, ok)
		}
	}
	// A hostile name in a glob: after --, a file named --remove is a FILE,
	// and is stamped, not a mode that removes every note.
	copyTo(t, "x86_64-pie", filepath.Join(dir, "--remove"))
	code, out, errOut = stampRun(t, "-q", "--deny", "execve", "--", "-x", "--remove", "--json")
	if code != 0 || out != "" {
		t.Errorf("--deny execve -- -x --remove --json = %d, %q, %q", code, out, errOut)
	}
	for _, name := range []string{"-x", "--remove", "--json"} {
		if s, ok := readSet(t, filepath.Join(dir, name)); !ok || !s.Has(59) {
			t.Errorf("%s after --: note = %v, %v, want execve restricted", name, s, ok)
		}
	}

	// Without --, -x is an option, and an unknown one: nothing is touched.
	before := mustRead(t, filepath.Join(dir, "-x"))
	if code, _, errOut := stampRun(t, "--deny", "execve", "-x"); code != ExitUsage || !strings.Contains(errOut, "-x") {
		t.Errorf("--deny execve -x = %d, %q, want %d naming -x", code, errOut, ExitUsage)
	}
	if !bytes.Equal(before, mustRead(t, filepath.Join(dir, "-x"))) {
		t.Errorf("a usage error changed -x")
	}
	if code, _, errOut := stampRun(t, "./-x", "--deny"); code != ExitUsage || !strings.Contains(errOut, "--deny needs a value") {
		t.Errorf("FILE --deny = %d, %q, want %d saying --deny needs a value", code, errOut, ExitUsage)
	}
	code, out, _ = stampRun(t, "./-x", "--help")
	if code != 0 || !strings.Contains(out, "--deny") {
		t.Errorf("FILE --help = %d, want the help", code)
	}
}

// TestCheckWithoutList: --check alone passes a file that carries a valid,
// intact note, and fails one that has none or a damaged one.
func TestCheckWithoutList(t *testing.T) {
	dir := t.TempDir()
	stamped := filepath.Join(dir, "stamped")
	empty := filepath.Join(dir, "empty-note")
	plain := filepath.Join(dir, "plain")
	damaged := filepath.Join(dir, "damaged")
	for _, f := range []string{stamped, empty, plain, damaged} {
		copyTo(t, "x86_64-pie", f)
	}
	for _, f := range []string{stamped, damaged} {
		if code, _, errOut := stampRun(t, "-q", "--deny", "ptrace", f); code != 0 {
			t.Fatalf("stamp %s = %d, %s", f, code, errOut)
		}
	}
	if code, _, errOut := stampRun(t, "-q", "--replace", empty); code != 0 {
		t.Fatalf("stamp an empty note = %d, %s", code, errOut)
	}
	// Give the bitmap note a reserved type (its type word, little-endian,
	// 16 bytes before the descriptor): the note is no longer valid.
	off := readNoteLocation(t, damaged)
	f, err := os.OpenFile(damaged, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{9}, off-16); err != nil {
		t.Fatal(err)
	}
	f.Close()

	code, out, errOut := stampRun(t, "--check", stamped, empty)
	if code != 0 || out != stamped+": ok\n"+empty+": ok\n" || errOut != "" {
		t.Errorf("--check of stamped files = %d, %q, %q, want 0 and ok for each", code, out, errOut)
	}
	code, out, errOut = stampRun(t, "--check", stamped, plain, damaged)
	if code != ExitFailed || out != stamped+": ok\n" || !strings.Contains(errOut, plain+": not stamped") || !strings.Contains(errOut, damaged+": ") {
		t.Errorf("--check with an unstamped and a damaged file = %d, %q, %q, want 1 naming both", code, out, errOut)
	}
	code, out, _ = stampRun(t, "--check", "--json", stamped, plain)
	var recs []fileJSON
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r fileJSON
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("--check --json line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if code != ExitFailed || len(recs) != 2 || recs[0].OK == nil || !*recs[0].OK || recs[1].OK == nil || *recs[1].OK {
		t.Errorf("--check --json = %d, %q, want ok true then false", code, out)
	}
}

// readNoteLocation returns the file offset of name's bitmap descriptor.
func readNoteLocation(t *testing.T, name string) int64 {
	t.Helper()
	f, err := elfnote.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return f.Note.BitmapOff
}
