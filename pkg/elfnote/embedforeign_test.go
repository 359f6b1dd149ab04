//go:build linux

package elfnote

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/stub"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// TestEmbedAArch64 embeds the aarch64 fixtures and checks the stub in the
// file by disassembly (the landing pad first, the four system calls, one
// branch, to the original entry) and its filter in the BPF model; under
// qemu-aarch64, which answers seccomp() with ENOSYS, the embedded program
// fails closed: the stub's one line and exit 126, and nothing of the
// program runs. (internal/stub runs the same template past that point
// under qemu with its test switch.)
func TestEmbedAArch64(t *testing.T) {
	objdump := needTool(t, "aarch64-linux-gnu-objdump")
	for _, name := range []string{"aarch64-pie", "aarch64-static"} {
		t.Run(name, func(t *testing.T) {
			set := bitmap.NewSet(bitmap.AARCH64, 117, 104) // ptrace, kexec_load
			_, out := embedded(t, name, set)
			f, err := Read(bytes.NewReader(out))
			if err != nil || f.Embed == nil {
				t.Fatalf("Read = %+v, %v", f, err)
			}
			e := f.Embed
			payload := out[e.Offset : e.Offset+e.Size]
			prog, entry, err := stub.Parse(bitmap.AARCH64, payload, e.Vaddr)
			if err != nil || entry != e.Entry {
				t.Fatalf("stub.Parse = entry %#x, %v; want %#x", entry, err, e.Entry)
			}
			for nr := uint32(0); nr < 600; nr++ {
				want := uint32(filter.SECCOMP_RET_ALLOW)
				if nr == 117 || nr == 104 {
					want = filter.SECCOMP_RET_KILL_PROCESS
				}
				if got := filter.Eval(prog, bitmap.AARCH64.AuditArch(), nr, [6]uint64{}); got != want {
					t.Errorf("the stub's filter gives nr %d %#x, want %#x", nr, got, want)
				}
			}
			if got := filter.Eval(prog, bitmap.ARM.AuditArch(), 117, [6]uint64{}); got != filter.SECCOMP_RET_KILL_PROCESS {
				t.Errorf("the stub's filter gives a 32-bit ARM syscall %#x, want KILL_PROCESS", got)
			}

			bin := filepath.Join(t.TempDir(), "stub.bin")
			if err := os.WriteFile(bin, payload, 0o644); err != nil {
				t.Fatal(err)
			}
			dis, err := exec.Command(objdump, "-D", "-b", "binary", "-m", "aarch64", fmt.Sprintf("--adjust-vma=%#x", e.Vaddr), bin).Output()
			if err != nil {
				t.Fatalf("objdump: %v", err)
			}
			insn := regexp.MustCompile(`(?m)^\s+([0-9a-f]+):\s+[0-9a-f]{8}\s+(\S+)\s*(.*)$`)
			lines := insn.FindAllStringSubmatch(string(dis), -1)
			if len(lines) == 0 || parseHex(lines[0][1]) != e.Vaddr || lines[0][2] != "bti" || strings.TrimSpace(lines[0][3]) != "jc" {
				t.Fatalf("the stub does not start with bti jc at %#x:\n%s", e.Vaddr, dis)
			}
			svc, jumps := 0, 0
			for _, l := range lines {
				switch {
				case l[2] == "svc":
					svc++
				case l[2] == "b" && strings.HasPrefix(strings.TrimSpace(l[3]), "0x"):
					if parseHex(strings.Fields(l[3])[0]) == e.Entry {
						jumps++
					}
				}
			}
			if svc < 4 || jumps != 1 {
				t.Errorf("the stub has %d svc and %d branches to the entry %#x; want 4 system calls and one branch", svc, jumps, e.Entry)
			}

			qemu := needTool(t, "qemu-aarch64")
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), out, 0o755); err != nil {
				t.Fatal(err)
			}
			r := run(dir, 30*time.Second, nil, qemu, "-L", "/usr/aarch64-linux-gnu", "./"+name, "exit", "7")
			want := "./" + name + ": sysrestrict: seccomp(SECCOMP_SET_MODE_FILTER) failed: errno 38\n"
			if r.Exit != 126 || r.Stdout != "" || r.Stderr != want {
				t.Errorf("under qemu-aarch64: %+v; want exit 126, nothing on stdout, %q on stderr", r, want)
			}
		})
	}
}

// TestStripAfterEmbed runs GNU strip on embedded binaries: the result is
// broken (the stub's segment is cut down or the headers shifted), and
// Read says so with ErrDamagedStub, naming what to do; the stamper
// refuses to stamp it.
func TestStripAfterEmbed(t *testing.T) {
	strip := needTool(t, "strip")
	for _, name := range []string{"x86_64-pie", "x86_64-exec", "x86_64-static", "x86_64-static-pie", "x86_64-musl-static", "x86_64-pie-lld", "go-internal", "go-external"} {
		t.Run(name, func(t *testing.T) {
			_, out := embedded(t, name, bitmap.NewSet(bitmap.X86_64, 101, 246))
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, out, 0o755); err != nil {
				t.Fatal(err)
			}
			if b, err := exec.Command(strip, path).CombinedOutput(); err != nil {
				t.Fatalf("strip: %v\n%s", err, b)
			}
			_, err := ReadFile(path)
			if !errors.Is(err, ErrDamagedStub) || !strings.Contains(err.Error(), "embed") {
				t.Fatalf("ReadFile after strip = %v; want ErrDamagedStub saying what to do", err)
			}
			if _, err := Stamp(path, bitmap.NewSet(bitmap.X86_64, 101), Options{Embed: true}); !errors.Is(err, ErrBadNote) {
				t.Errorf("Stamp after strip = %v; want it refused", err)
			}
			r := run(filepath.Dir(path), 10*time.Second, nil, "./"+name)
			t.Logf("stripped: %v; it runs: exit %d %q", err, r.Exit, r.Stderr)
		})
	}
}
