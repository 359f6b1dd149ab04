//go:build linux

package execcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// TestClassFlip: a stamped x86_64 program with EI_CLASS set to ELFCLASS32
// read as an unstamped x32 one, and ran without its filter, while the
// kernel ignores the byte and runs it as x86_64. Flipping EI_DATA is the
// same attack. Both are refused (126) without --require; a real x32
// program is not.
func TestClassFlip(t *testing.T) {
	need(t)
	marker := filepath.Join(t.TempDir(), "marker")
	for _, tt := range []struct {
		name     string
		off      int64
		val      byte
		readable bool // elfnote.Read still parses the flipped file
	}{
		{"EI_CLASS 1", 4, 1, true},
		{"EI_DATA 2", 5, 2, false},
	} {
		prog := stamped(t, false, "getppid")
		f, err := os.OpenFile(prog, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte{tt.val}, tt.off)
		f.Close()
		if r := runCmd(t, nil, prog, "marker", marker); r.stdout != "ran\n" {
			t.Fatalf("%s: without the loader the kernel did not run it (%v); the test cannot tell", tt.name, r)
		}
		os.Remove(marker)
		if ef, err := elfnote.ReadFile(prog); tt.readable && (err != nil || ef.Stamped) {
			t.Fatalf("%s: elfnote.ReadFile = %+v, %v; the attack needs it read as unstamped", tt.name, ef, err)
		}
		r := load(t, prog, "marker", marker)
		wantExit(t, tt.name, r, 126, "")
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("%s: the program ran", tt.name)
		}
		if tt.readable && !strings.Contains(r.stderr, "this kernel ignores those bytes and would load it as ELFCLASS64, ELFDATA2LSB, EM_X86_64") {
			t.Errorf("%s: stderr %q", tt.name, r.stderr)
		}
	}
	x32 := filepath.Join(t.TempDir(), "x32-pie")
	copyFile(t, "../../testdata/elf/x32-pie", x32, 0o755)
	if r := load(t, x32); strings.Contains(r.stderr, "ignores those bytes") {
		t.Errorf("a real x32 program: %v, want no class refusal", r)
	}
}
