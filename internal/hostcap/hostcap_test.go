package hostcap

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestMinimalI386ELF: the probe's program is a well-formed i386 ELF that
// does what it says, checked without the host kernel's IA-32 emulation:
// by debug/elf, and by running it under qemu-i386.
func TestMinimalI386ELF(t *testing.T) {
	b := minimalI386ELF(i386Exit)
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("elf.NewFile(minimalI386ELF) = %v", err)
	}
	if f.Class != elf.ELFCLASS32 || f.Machine != elf.EM_386 || f.Type != elf.ET_EXEC || len(f.Progs) != 1 {
		t.Fatalf("minimalI386ELF = %v %v %v with %d program headers, want ELFCLASS32 EM_386 ET_EXEC with 1", f.Class, f.Machine, f.Type, len(f.Progs))
	}
	p := f.Progs[0]
	if p.Type != elf.PT_LOAD || p.Off != 0 || p.Filesz != uint64(len(b)) || f.Entry != p.Vaddr+uint64(len(b)-len(i386Exit)) {
		t.Fatalf("PT_LOAD %+v, entry %#x: want the whole file mapped, entry at the code", p.ProgHeader, f.Entry)
	}

	qemu, err := exec.LookPath("qemu-i386")
	if err != nil {
		t.Fatalf("qemu-i386 (package qemu-user) is needed to run the i386 probe program on any host: %v", err)
	}
	prog := filepath.Join(t.TempDir(), "i386-exit")
	if err := os.WriteFile(prog, b, 0o755); err != nil {
		t.Fatal(err)
	}
	err = exec.Command(qemu, prog).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != i386Status {
		t.Fatalf("qemu-i386 %s = %v, want exit status %d", prog, err, i386Status)
	}
}

// TestProbeAgreesWithFixture: the probe's answer is the kernel's answer for
// a real i386 program too (testdata/elf/i386-exec, built by gcc -m32).
func TestProbeAgreesWithFixture(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the i386 fixture is for x86_64 Linux hosts; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	r := Probe(I386Exec)
	t.Logf("%v", r)
	err := exec.Command("../../testdata/elf/i386-exec").Run()
	enoexec := errors.Is(err, syscall.ENOEXEC)
	if r.OK == enoexec {
		t.Errorf("probe says %v, but exec of testdata/elf/i386-exec = %v", r, err)
	}
}

func TestParse(t *testing.T) {
	for _, c := range All {
		got, err := Parse(c.String())
		if err != nil || got != c {
			t.Errorf("Parse(%q) = %v, %v, want %v", c.String(), got, err, c)
		}
		if doing[c] == "" {
			t.Errorf("%v has no description", c)
		}
	}
	if _, err := Parse("ia64"); err == nil || !strings.Contains(err.Error(), "i386-exec") {
		t.Errorf("Parse(ia64) = %v, want an error listing the known names", err)
	}
}

// fakeT records what Need does.
type fakeT struct{ skipped string }

func (f *fakeT) Helper()                          {}
func (f *fakeT) Skipf(format string, args ...any) { f.skipped = format }

// TestNeed: Need skips exactly when the probe says no, and the message
// names the capability and the probe.
func TestNeed(t *testing.T) {
	for _, c := range All {
		var ft fakeT
		Need(&ft, c)
		if r := Probe(c); r.OK != (ft.skipped == "") {
			t.Errorf("Need(%v) skipped = %q, probe %v", c, ft.skipped, r)
		}
		if m := Missing(c); (m == "") != Probe(c).OK || (m != "" && !strings.Contains(m, Probe(c).How)) {
			t.Errorf("Missing(%v) = %q, probe %v", c, m, Probe(c))
		}
	}
}
