//go:build linux

package supervise

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// TestCheckProfile: each profile file a learning run could not be merged
// into is refused, with a message that names the file and the problem
// (a cut-short profile with the offset where it ends); a new file in a
// directory that exists, and a good profile, pass.
func TestCheckProfile(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../../pkg/profile/testdata/sh-ls-wc.v1.profile.json") // a version 1 profile still takes a run
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	notDir := write("file", []byte("x"))
	tests := []struct {
		name, path, want string // want: the error after "PATH: ", or "" for none
	}{
		{"new file", filepath.Join(dir, "new.json"), ""},
		{"good profile", write("good.json", good), ""},
		{"missing directory", filepath.Join(dir, "no", "p.json"), "cannot write the profile: cannot create a file in " + filepath.Join(dir, "no") + ": no such file or directory"},
		{"parent is a file", filepath.Join(notDir, "p.json"), "not a directory"},
		{"a directory", dir, "is a directory: name a profile file in it"},
		{"a FIFO", fifo, "is a FIFO, not a regular file: name a profile file"},
		{"empty", write("empty.json", nil), "malformed profile at byte 0 (line 1, column 1): empty: no profile object; a run cannot be merged into it: repair it, remove it or learn into another file"},
		{"cut at 1", write("cut1.json", good[:1]), "malformed profile at byte 1 (line 1, column 2): unexpected end of input: the profile stops in the middle (the file is cut short); a run cannot be merged into it: repair it, remove it or learn into another file"},
		{"cut at 4000", write("cut4000.json", good[:4000]), "malformed profile at byte 4000 (line 236, column 4): unexpected end of input: the profile stops in the middle (the file is cut short); a run cannot be merged into it: repair it, remove it or learn into another file"},
		{"cut before the last brace", write("cutend.json", good[:len(good)-2]), "malformed profile at byte 6634 (line 386, column 1): unexpected end of input: the profile stops in the middle (the file is cut short); a run cannot be merged into it: repair it, remove it or learn into another file"},
		{"version 3", write("v3.json", []byte(`{"version": 3}`)), "unsupported profile version: 3 (this sysrestrict reads versions 1 and 2); a run cannot be merged into it: repair it, remove it or learn into another file"},
		{"unknown field", write("field.json", bytes.Replace(good, []byte(`"count"`), []byte(`"calls"`), 1)), "malformed profile at byte 106 (line 8, column 7): syscalls[0].calls: unknown field; a run cannot be merged into it: repair it, remove it or learn into another file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckProfile(tt.path)
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckProfile(%s) = %v, want nil", tt.path, err)
				}
				return
			}
			var pe *ProfileError
			if !errors.As(err, &pe) || pe.Path != tt.path || err.Error() != tt.path+": "+tt.want {
				t.Errorf("CheckProfile(%s) = %v, want a *ProfileError %q", tt.path, err, tt.path+": "+tt.want)
			}
		})
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "*.check")); len(ents) > 0 {
		t.Errorf("CheckProfile left %v behind", ents)
	}
}

// TestLearnChecksFirst: Learn into a file it could not merge into fails
// before PROGRAM runs (the program would make a file: it does not
// appear), and leaves the file as it was.
func TestLearnChecksFirst(t *testing.T) {
	sh := need(t, "sh")
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	for name, content := range map[string]string{"cut.json": `{"version": 1, "sysc`, "v3.json": `{"version": 3}`} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Learn(context.Background(), Config{Path: sh, Argv: []string{sh, "-c", "touch " + marker}}, p)
		var pe *ProfileError
		if !errors.As(err, &pe) || pe.Saved != "" {
			t.Errorf("Learn into %s = %v, want a *ProfileError and nothing saved", name, err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("Learn into %s ran the program", name)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Errorf("Learn into %s changed it to %q", name, b)
		}
	}
	_, err := Learn(context.Background(), Config{Path: sh, Argv: []string{sh, "-c", "touch " + marker}}, filepath.Join(dir, "missing", "p.json"))
	if !strings.Contains(err.Error(), "cannot create a file in") {
		t.Errorf("Learn into a missing directory = %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("Learn into a missing directory ran the program")
	}
}

// TestLearnSavesTheRun: a profile file that breaks while the program runs
// (here the program itself cuts it short) cannot take the run; the run's
// profile is saved in a file of its own, which the error names, and the
// broken file is left alone.
func TestLearnSavesTheRun(t *testing.T) {
	sh := need(t, "sh")
	p := filepath.Join(t.TempDir(), "p.json")
	argv := []string{sh, "-c", "printf '{\"vers' > " + p}
	ws, err := Learn(context.Background(), Config{Path: sh, Argv: argv}, p)
	var pe *ProfileError
	if !errors.As(err, &pe) || pe.Saved == "" || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("Learn with the profile cut short during the run = %s, %v; want exit 0 and a *ProfileError naming a saved file", Status(ws), err)
	}
	defer os.Remove(pe.Saved)
	if !strings.Contains(err.Error(), "; the run's profile is saved in "+pe.Saved+" (") {
		t.Errorf("error %q does not name %s", err, pe.Saved)
	}
	saved, err := profile.ReadFile(pe.Saved)
	if err != nil {
		t.Fatalf("the saved profile: %v", err)
	}
	if len(saved.Runs) != 1 || strings.Join(saved.Runs[0].Argv, " ") != strings.Join(argv, " ") || len(names(saved, saved.Runs[0].ABI)) == 0 {
		t.Errorf("saved profile runs %+v, %d syscalls; want the one run, with its syscalls", saved.Runs, len(saved.Syscalls()))
	}
	if b, _ := os.ReadFile(p); string(b) != `{"vers` {
		t.Errorf("the broken profile is now %q, want it left alone", b)
	}
}
