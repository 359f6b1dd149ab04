//go:build linux

package supervise

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// TestTracerFilter runs the filter that stops a supervised program's
// tracer syscalls in a userspace BPF machine, for every ABI: ptrace, clone
// with CLONE_UNTRACED and seccomp with SECCOMP_FILTER_FLAG_NEW_LISTENER
// are traced; the same calls without those flags, other syscalls and
// other archs are allowed.
func TestTracerFilter(t *testing.T) {
	for _, abi := range []bitmap.ABI{bitmap.X86_64, bitmap.X32, bitmap.I386, bitmap.AARCH64, bitmap.ARM} {
		raw, err := tracerFilter(abi)
		if err != nil {
			t.Fatalf("tracerFilter(%v): %v", abi, err)
		}
		var prog []bpf.Instruction
		for _, r := range raw {
			prog = append(prog, r.Disassemble())
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("tracerFilter(%v): %v", abi, err)
		}
		nr := func(name string) uint32 { return uint32(abi.Lookup(name)[0]) | abi.NrBase() }
		other := uint32(bitmap.AUDIT_ARCH_AARCH64)
		if abi == bitmap.AARCH64 {
			other = bitmap.AUDIT_ARCH_X86_64
		}
		for _, tt := range []struct {
			name       string
			arch, nr   uint32
			arg0, arg1 uint32
			want       uint32
		}{
			{"ptrace", abi.AuditArch(), nr("ptrace"), 0, 0, unix.SECCOMP_RET_TRACE},
			{"clone CLONE_UNTRACED", abi.AuditArch(), nr("clone"), cloneUntraced | uint32(unix.SIGCHLD), 0, unix.SECCOMP_RET_TRACE},
			{"clone", abi.AuditArch(), nr("clone"), uint32(unix.SIGCHLD), 0, unix.SECCOMP_RET_ALLOW},
			{"seccomp NEW_LISTENER", abi.AuditArch(), nr("seccomp"), unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC, unix.SECCOMP_RET_TRACE},
			{"seccomp TSYNC", abi.AuditArch(), nr("seccomp"), unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, unix.SECCOMP_RET_ALLOW},
			{"seccomp GET_ACTION_AVAIL", abi.AuditArch(), nr("seccomp"), unix.SECCOMP_GET_ACTION_AVAIL, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, unix.SECCOMP_RET_ALLOW},
			{"getpid", abi.AuditArch(), nr("getpid"), 0, 0, unix.SECCOMP_RET_ALLOW},
			{"ptrace of another arch", other, nr("ptrace"), 0, 0, unix.SECCOMP_RET_ALLOW},
		} {
			// x/net/bpf loads big-endian; the layout here is for it.
			data := make([]byte, 64)
			binary.BigEndian.PutUint32(data[0:], tt.nr)
			binary.BigEndian.PutUint32(data[4:], tt.arch)
			binary.BigEndian.PutUint32(data[offArg0Lo:], tt.arg0)
			binary.BigEndian.PutUint32(data[offArg1Lo:], tt.arg1)
			got, err := vm.Run(data)
			if err != nil {
				t.Fatal(err)
			}
			if uint32(got) != tt.want {
				t.Errorf("tracerFilter(%v) on %s = %#x, want %#x", abi, tt.name, uint32(got), tt.want)
			}
		}
	}
}

func TestTracerHit(t *testing.T) {
	si := func(arch uint32, nr uint64, args ...uint64) syscallInfo {
		s := syscallInfo{Arch: arch, Nr: nr}
		copy(s.Args[:], args)
		return s
	}
	for _, tt := range []struct {
		si   syscallInfo
		want string
	}{
		{si(bitmap.AUDIT_ARCH_X86_64, 101), "ptrace (101, x86_64)"},
		{si(bitmap.AUDIT_ARCH_X86_64, 56, cloneUntraced|17), "clone (56, x86_64) with CLONE_UNTRACED"},
		{si(bitmap.AUDIT_ARCH_X86_64, 56, 17), ""},
		{si(bitmap.AUDIT_ARCH_X86_64, 317, 1, 8), "seccomp (317, x86_64) with SECCOMP_FILTER_FLAG_NEW_LISTENER"},
		{si(bitmap.AUDIT_ARCH_X86_64, 317, 1, 1), ""},
		{si(bitmap.AUDIT_ARCH_X86_64, bitmap.X32SyscallBit|521), "ptrace (521, x32)"},
		{si(bitmap.AUDIT_ARCH_I386, 26), "ptrace (26, i386)"},
		{si(bitmap.AUDIT_ARCH_X86_64, 39), ""},
	} {
		got, hit := tracerHit(tt.si)
		if got != tt.want || hit != (tt.want != "") {
			t.Errorf("tracerHit(%+v) = %q, %v; want %q", tt.si, got, hit, tt.want)
		}
	}
}
