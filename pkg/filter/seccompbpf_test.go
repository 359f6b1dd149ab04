//go:build linux && amd64

package filter

import (
	"testing"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"golang.org/x/net/bpf"
)

// seccompBPF assembles the go-seccomp-bpf deny-list Policy that matches
// set: default allow, the set's names killed. It runs for the host's ABI
// only (go-seccomp-bpf assembles for the running arch).
func seccompBPF(t *testing.T, set bitmap.Set) *bpf.VM {
	t.Helper()
	var names []string
	for nr := range set.All() {
		if name := set.ABI().Name(nr); name != "" && len(set.ABI().Lookup(name)) > 0 {
			names = append(names, name)
		}
	}
	p := seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls:      []seccomp.SyscallGroup{{Names: names, Action: seccomp.ActionKillProcess}},
	}
	insns, err := p.Assemble()
	if err != nil {
		t.Fatalf("go-seccomp-bpf Policy.Assemble: %v", err)
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("NewVM(go-seccomp-bpf program): %v", err)
	}
	return vm
}

func runVM(t *testing.T, vm *bpf.VM, d data) uint32 {
	t.Helper()
	r, err := vm.Run(encode(d))
	if err != nil {
		t.Fatalf("VM.Run: %v", err)
	}
	return uint32(r)
}

// TestSeccompBPFAgrees: where go-seccomp-bpf's semantics are right (a
// native x86_64 syscall without the x32 bit), its deny-list filter and ours
// give the same verdict for every number of the table.
func TestSeccompBPFAgrees(t *testing.T) {
	sets := map[string]bitmap.Set{
		"exec+ptrace": bitmap.NewSet(bitmap.X86_64, 59, 322, 101),
		"first run":   bitmap.NewSet(bitmap.X86_64, 0, 1, 2, 3),
		"network":     bitmap.NewSet(bitmap.X86_64, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50),
	}
	for name, set := range sets {
		ours, err := Build(set, Options{})
		if err != nil {
			t.Fatal(err)
		}
		vmOurs, _ := bpf.NewVM(mustDisassemble(t, ours))
		theirs := seccompBPF(t, set)
		for _, sc := range bitmap.X86_64.Syscalls() {
			d := data{arch: bitmap.AUDIT_ARCH_X86_64, nr: uint32(sc.Nr)}
			if got, want := runVM(t, vmOurs, d), runVM(t, theirs, d); got != want {
				t.Errorf("%s: ours(%s) = %s, go-seccomp-bpf = %s", name, sc.Name, RetName(got), RetName(want))
			}
		}
	}
}

// TestSeccompBPFHoles shows the two holes of go-seccomp-bpf's deny list
// that our filter closes: an i386 syscall (int 0x80 from an x86_64
// process) goes to its default action, allow (its issue #48), and an x32
// number gets ENOSYS instead of the action.
func TestSeccompBPFHoles(t *testing.T) {
	set := bitmap.NewSet(bitmap.X86_64, 59, 322, 101) // execve, execveat, ptrace
	ours, err := Build(set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	vmOurs, _ := bpf.NewVM(mustDisassemble(t, ours))
	theirs := seccompBPF(t, set)
	tests := []struct {
		name        string
		d           data
		theirs, our uint32
	}{
		{"i386 execve (11) via int 0x80", data{arch: bitmap.AUDIT_ARCH_I386, nr: 11}, SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS},
		{"i386 ptrace (26) via int 0x80", data{arch: bitmap.AUDIT_ARCH_I386, nr: 26}, SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS},
		{"x32 execve (520|x32 bit)", data{arch: bitmap.AUDIT_ARCH_X86_64, nr: 520 | bitmap.X32SyscallBit}, SECCOMP_RET_ERRNO | 38, SECCOMP_RET_KILL_PROCESS},
		{"x32 ptrace (101|x32 bit)", data{arch: bitmap.AUDIT_ARCH_X86_64, nr: 101 | bitmap.X32SyscallBit}, SECCOMP_RET_ERRNO | 38, SECCOMP_RET_KILL_PROCESS},
	}
	for _, tt := range tests {
		if got := runVM(t, theirs, tt.d); got != tt.theirs {
			t.Errorf("%s: go-seccomp-bpf = %s, want its known hole %s (fixed upstream? then update this test)", tt.name, RetName(got), RetName(tt.theirs))
		}
		if got := runVM(t, vmOurs, tt.d); got != tt.our {
			t.Errorf("%s: ours = %s, want %s", tt.name, RetName(got), RetName(tt.our))
		}
	}
}

func mustDisassemble(t *testing.T, f *Program) []bpf.Instruction {
	t.Helper()
	insns, ok := bpf.Disassemble(f.Instructions())
	if !ok {
		t.Fatalf("cannot disassemble:\n%v", f)
	}
	return insns
}
