//go:build linux

package supervise

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// explain runs bin under Explain, executing it from an open file as the
// loader does, and returns its status, stdout and Explain's lines.
func explain(t *testing.T, argv []string, note, deny bitmap.Set) (unix.WaitStatus, string, string) {
	t.Helper()
	f, err := os.Open(argv[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, read := capture(t)
	var log bytes.Buffer
	ws, err := Explain(context.Background(), Config{Path: argv[0], File: f, Argv: argv, Stdout: out, Log: &log}, note, deny, elfnote.Actions{})
	if err != nil {
		t.Fatalf("Explain(%v): %v", argv, err)
	}
	return ws, read(), log.String()
}

func nrs(t *testing.T, names ...string) []int {
	t.Helper()
	var n []int
	for _, name := range names {
		nr := bitmap.X86_64.Lookup(name)
		if len(nr) != 1 {
			t.Fatalf("x86_64 has no syscall %s", name)
		}
		n = append(n, nr[0])
	}
	return n
}

var killedLine = regexp.MustCompile(`^sysrestrict-exec: killed (\S+) \(pid (\d+)\): (\w+) \((\d+), x86_64\) is restricted`)

// TestExplainThreadAndChild: a restricted syscall made by a second thread,
// or by a forked child, is reported with the process and syscall, and the
// process dies of SIGSYS before the syscall returns anything.
func TestExplainThreadAndChild(t *testing.T) {
	tests := []struct {
		victim, syscall, wantLog string
	}{
		{"threads", "sysinfo", "sysinfo (99, x86_64) is restricted by the note; to allow it: sysrestrict-stamp --replace --deny ptrace "},
		{"fork", "times", "times (100, x86_64) is restricted by the note; to allow it: sysrestrict-stamp --replace --deny ptrace "},
	}
	for _, tt := range tests {
		t.Run(tt.victim, func(t *testing.T) {
			bin := victim(t, tt.victim)
			note := bitmap.NewSet(bitmap.X86_64, nrs(t, tt.syscall, "ptrace")...)
			ws, out, log := explain(t, []string{bin}, note, bitmap.Set{})
			if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
				t.Errorf("Explain(%s) = %s, want signal SIGSYS", tt.victim, Status(ws))
			}
			if strings.Contains(out, "ok") {
				t.Errorf("Explain(%s) stdout = %q, want no \"ok\": the restricted call must not return", tt.victim, out)
			}
			lines := strings.Split(strings.TrimSpace(log), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.wantLog+bin) {
				t.Fatalf("Explain(%s) log = %q, want one line with %q", tt.victim, log, tt.wantLog+bin)
			}
			m := killedLine.FindStringSubmatch(lines[0])
			if m == nil || m[1] != bin || m[3] != tt.syscall {
				t.Errorf("Explain(%s) line = %q, want it to name %s and %s", tt.victim, lines[0], bin, tt.syscall)
			}
		})
	}
}

// TestExplainStopsBeforeSyscall: rm of a file whose unlink is restricted
// dies of SIGSYS and the file is still there.
func TestExplainStopsBeforeSyscall(t *testing.T) {
	rm := need(t, "rm")
	file := filepath.Join(t.TempDir(), "keep")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "unlink", "unlinkat")...)
	ws, _, log := explain(t, []string{rm, file}, note, bitmap.Set{})
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Errorf("Explain(rm) = %s, want signal SIGSYS", Status(ws))
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("after Explain(rm %s): %v; the file must survive", file, err)
	}
	if !strings.Contains(log, "unlinkat (263, x86_64) is restricted by the note; to allow it: sysrestrict-stamp --replace --deny unlink ") {
		t.Errorf("Explain(rm) log = %q, want unlinkat named", log)
	}
}

// TestExplainAllowed: a program that makes no restricted syscall runs as
// usual and nothing is reported.
func TestExplainAllowed(t *testing.T) {
	bin := victim(t, "fork")
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "ptrace", "kexec_load")...)
	ws, out, log := explain(t, []string{bin}, note, bitmap.NewSet(bitmap.X86_64, nrs(t, "mount")...))
	if !ws.Exited() || ws.ExitStatus() != 0 || out != "child ok\nparent ok\n" || log != "" {
		t.Errorf("Explain(fork) = %s, stdout %q, log %q; want exit 0, both ok, no log", Status(ws), out, log)
	}
}

// TestLearnThenAllowlist: the allowlist made from a learned profile runs the
// same program to the same end; the same allowlist less one learned syscall
// gets that syscall named, with the stamp to allow it.
func TestLearnThenAllowlist(t *testing.T) {
	bin := victim(t, "fork")
	p, _, ws := record(t, []string{bin})
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("Record(fork) = %s", Status(ws))
	}
	learned, err := p.Set(bitmap.X86_64)
	if err != nil {
		t.Fatal(err)
	}
	allowlist := learned.Complement()
	allowlist.SetDenyBeyond(true)
	ws, out, log := explain(t, []string{bin}, allowlist, bitmap.Set{})
	if !ws.Exited() || ws.ExitStatus() != 0 || out != "child ok\nparent ok\n" || log != "" {
		t.Errorf("Explain(fork) under its learned allowlist = %s, stdout %q, log %q; want exit 0, both ok, no log", Status(ws), out, log)
	}
	allowlist.Add(nrs(t, "times")[0])
	ws, _, log = explain(t, []string{bin}, allowlist, bitmap.Set{})
	want := "times (100, x86_64) is restricted by the note's allowlist; to allow it: sysrestrict-stamp --replace --allow-profile PROFILE --allow times " + bin
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS || !strings.Contains(log, want) {
		t.Errorf("Explain(fork) without times = %s, log %q; want SIGSYS and %q", Status(ws), log, want)
	}
}

func TestExplainLine(t *testing.T) {
	x := func(names ...string) bitmap.Set { return bitmap.NewSet(bitmap.X86_64, nrs(t, names...)...) }
	allow := x("read", "write").Complement()
	allow.SetDenyBeyond(true)
	seccomp := func(arch uint32, nr uint64) syscallInfo { return syscallInfo{Arch: arch, Nr: nr} }
	const exe, stamped = "/usr/bin/prog", "./my prog"
	tests := []struct {
		name       string
		si         syscallInfo
		note, deny bitmap.Set
		want       string
	}{
		{"deny list", seccomp(bitmap.AUDIT_ARCH_X86_64, 101), x("ptrace", "execve"), bitmap.Set{},
			"ptrace (101, x86_64) is restricted by the note; to allow it: sysrestrict-stamp --replace --deny execve './my prog'"},
		{"last of deny list", seccomp(bitmap.AUDIT_ARCH_X86_64, 101), x("ptrace"), bitmap.Set{},
			"ptrace (101, x86_64) is restricted by the note; to allow it: sysrestrict-stamp --remove './my prog'"},
		{"--deny", seccomp(bitmap.AUDIT_ARCH_X86_64, 165), x("ptrace"), x("mount"),
			"mount (165, x86_64) is restricted by --deny; to allow it: drop mount from --deny"},
		{"allowlist", seccomp(bitmap.AUDIT_ARCH_X86_64, 41), allow, bitmap.Set{},
			"socket (41, x86_64) is restricted by the note's allowlist; to allow it: sysrestrict-stamp --replace --allow-profile PROFILE --allow socket './my prog'"},
		{"beyond", seccomp(bitmap.AUDIT_ARCH_X86_64, 1000), allow, bitmap.Set{},
			"1000 (1000, x86_64) is restricted: the note restricts every number from 512 up"},
		{"i386", seccomp(bitmap.AUDIT_ARCH_I386, 11), allow, bitmap.Set{},
			"syscall 11 of ABI i386 (arch 0x40000003) is restricted: the note is for x86_64"},
		{"x32", seccomp(bitmap.AUDIT_ARCH_X86_64, bitmap.X32SyscallBit|59), allow, bitmap.Set{},
			"syscall 59 of ABI x32 (arch 0xc000003e) is restricted: the note is for x86_64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := explainLine(42, exe, stamped, tt.si, tt.note, tt.deny, filter.Kill())
			want := "sysrestrict-exec: killed /usr/bin/prog (pid 42): " + tt.want
			if !strings.HasPrefix(got, want) {
				t.Errorf("explainLine(%s) = %q, want it to start %q", tt.name, got, want)
			}
		})
	}
}

// TestSkipIsNotKill documents why Explain rewrites to a sentinel that the
// filter kills on, rather than to -1: a syscall number of -1 at the trace
// stop makes the kernel skip the syscall (it returns -ENOSYS) and the
// program goes on running.
func TestSkipIsNotKill(t *testing.T) {
	bin := victim(t, "threads")
	f, err := filter.Build(bitmap.NewSet(bitmap.X86_64, nrs(t, "sysinfo")...), filter.Options{Action: filter.Trace(0)})
	if err != nil {
		t.Fatal(err)
	}
	out, read := capture(t)
	skip := func(pid int, _ *tracee, _ syscallInfo) error { return setSyscallNr(pid, 0xffffffff) }
	ws, err := run(context.Background(), Config{Path: bin, Argv: []string{bin}, Stdout: out}, installing(f.Instructions()), skip, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "threads ok -1\n"; !ws.Exited() || ws.ExitStatus() != 1 || got != want {
		t.Errorf("threads with sysinfo's number set to -1 = %s, stdout %q; want exit 1, %q (call skipped, not killed)", Status(ws), got, want)
	}
}

// TestExplainX32: an x32 syscall from an x86_64 program is reported as a
// syscall of another ABI and killed, whatever the note's bitmap says.
func TestExplainX32(t *testing.T) {
	bin := victim(t, "x32call")
	ws, out, log := explain(t, []string{bin}, bitmap.NewSet(bitmap.X86_64, nrs(t, "ptrace")...), bitmap.Set{})
	want := "syscall 39 of ABI x32 (arch 0xc000003e) is restricted: the note is for x86_64"
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS || out != "" || !strings.Contains(log, want) {
		t.Errorf("Explain(x32call) = %s, stdout %q, log %q; want SIGSYS, nothing printed, %q", Status(ws), out, log, want)
	}
}

// TestSentinelFilter runs the sentinel filter in a userspace BPF machine:
// the sentinel is killed on every arch, every other number allowed.
func TestSentinelFilter(t *testing.T) {
	const sentinel = 0x1abcdef0
	raw, err := sentinelFilter(sentinel)
	if err != nil {
		t.Fatal(err)
	}
	var prog []bpf.Instruction
	for _, r := range raw {
		prog = append(prog, r.Disassemble())
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []uint32{bitmap.AUDIT_ARCH_X86_64, bitmap.AUDIT_ARCH_I386, bitmap.AUDIT_ARCH_AARCH64} {
		for _, nr := range []uint32{0, 59, 511, 512, sentinel - 1, sentinel, sentinel + 1, bitmap.X32SyscallBit | 59, 0xffffffff} {
			// x/net/bpf loads big-endian; the layout here is for it.
			data := make([]byte, 64)
			binary.BigEndian.PutUint32(data[0:], nr)
			binary.BigEndian.PutUint32(data[4:], arch)
			got, err := vm.Run(data)
			if err != nil {
				t.Fatal(err)
			}
			want := uint32(unix.SECCOMP_RET_ALLOW)
			if nr == sentinel {
				want = unix.SECCOMP_RET_KILL_PROCESS
			}
			if uint32(got) != want {
				t.Errorf("sentinelFilter(arch %#x, nr %#x) = %#x, want %#x", arch, nr, uint32(got), want)
			}
		}
	}
}

func TestFiltersRoundTrip(t *testing.T) {
	a, _ := learnFilter()
	b, _ := sentinelFilter(0x12345678)
	got, err := decodeFilters(encodeFilters(a, b))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0]) != len(a) || len(got[1]) != len(b) || got[1][1].K != 0x12345678 || got[0][0].K != unix.SECCOMP_RET_TRACE {
		t.Errorf("decodeFilters(encodeFilters(learn, sentinel)) = %+v", got)
	}
	for _, bad := range []string{"", "!!", "AAAA", "AAAAAAAAAA=="} {
		if _, err := decodeFilters(bad); err == nil {
			t.Errorf("decodeFilters(%q) = nil error, want one", bad)
		}
	}
}

// TestErrnoFilter runs errnoFilter in a userspace BPF machine: base | e
// gets SECCOMP_RET_ERRNO | e on every arch, base itself and every other
// number are allowed, and an allowed number never reaches an instruction
// the kernel's action cache does not emulate.
func TestErrnoFilter(t *testing.T) {
	const base = 0x2abcd000
	raw, err := errnoFilter(base)
	if err != nil {
		t.Fatal(err)
	}
	var prog []bpf.Instruction
	for _, r := range raw {
		prog = append(prog, r.Disassemble())
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []uint32{bitmap.AUDIT_ARCH_X86_64, bitmap.AUDIT_ARCH_I386, bitmap.AUDIT_ARCH_AARCH64} {
		for _, nr := range []uint32{0, 59, 511, 512, base - 1, base, base | 1, base | 38, base | 4095, base + 0x1000, bitmap.X32SyscallBit | 59, 0xffffffff} {
			data := make([]byte, 64)
			binary.BigEndian.PutUint32(data[0:], nr)
			binary.BigEndian.PutUint32(data[4:], arch)
			got, err := vm.Run(data)
			if err != nil {
				t.Fatal(err)
			}
			want := uint32(unix.SECCOMP_RET_ALLOW)
			if nr > base && nr < base+0x1000 {
				want = unix.SECCOMP_RET_ERRNO | nr&0xfff
			}
			if uint32(got) != want {
				t.Errorf("errnoFilter(arch %#x, nr %#x) = %#x, want %#x", arch, nr, uint32(got), want)
			}
			if want == unix.SECCOMP_RET_ALLOW && !filter.ConstAllow(raw, arch, nr) {
				t.Errorf("errnoFilter(arch %#x, nr %#x): allowed, but not as the action cache sees it", arch, nr)
			}
		}
	}
}
