package bitmap

import (
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

var seccompArch = map[ABI]*arch.Info{
	X86_64:  arch.X86_64,
	X32:     arch.X32,
	I386:    arch.I386,
	AARCH64: arch.AARCH64,
	ARM:     arch.ARM,
}

// TestTablesMatchGoSeccompBPF checks the generated tables against their
// source of truth, entry by entry in both directions, and reports the
// numbers that lie past the bitmap.
func TestTablesMatchGoSeccompBPF(t *testing.T) {
	for _, abi := range ABIs {
		t.Run(abi.String(), func(t *testing.T) {
			info := seccompArch[abi]
			if got, want := abi.AuditArch(), uint32(info.ID); got != want {
				t.Errorf("%v.AuditArch() = %#x, want %#x", abi, got, want)
			}
			if got, want := abi.NrBase(), uint32(info.SeccompMask); got != want {
				t.Errorf("%v.NrBase() = %#x, want %#x", abi, got, want)
			}
			table := abi.Syscalls()
			if len(table) != len(info.SyscallNumbers) {
				t.Errorf("%v has %d syscalls, go-seccomp-bpf has %d", abi, len(table), len(info.SyscallNumbers))
			}
			var beyond []string
			for _, sc := range table {
				if want, ok := info.SyscallNumbers[sc.Nr]; !ok || want != sc.Name {
					t.Errorf("%v: our %s = %d, go-seccomp-bpf has %d = %q", abi, sc.Name, sc.Nr, sc.Nr, want)
				}
				if got := abi.Name(sc.Nr); got != sc.Name {
					t.Errorf("%v.Name(%d) = %q, want %q", abi, sc.Nr, got, sc.Name)
				}
				if sc.Nr >= Size {
					beyond = append(beyond, sc.Name)
				}
			}
			for nr, name := range info.SyscallNumbers {
				found := false
				for _, got := range abi.Lookup(name) {
					found = found || got == nr
				}
				if !found {
					t.Errorf("%v.Lookup(%q) = %v, missing go-seccomp-bpf's %d", abi, name, abi.Lookup(name), nr)
				}
			}
			if len(beyond) > 0 {
				t.Logf("%v: %d syscalls numbered %d or more, outside the bitmap (restricted only by DENY_BEYOND): %v", abi, len(beyond), Size, beyond)
			}
		})
	}
}

func TestWellKnownNumbers(t *testing.T) {
	tests := []struct {
		abi  ABI
		name string
		want []int
	}{
		{X86_64, "execve", []int{59}},
		{X86_64, "ptrace", []int{101}},
		{X86_64, "uretprobe", []int{335}},
		{AARCH64, "execve", []int{221}},
		{I386, "execve", []int{11}},
		{ARM, "execve", []int{11}},
		{X32, "execve", []int{59, 520}},
		{AARCH64, "open", nil}, // aarch64 has only openat
		{Unknown, "execve", nil},
	}
	for _, tt := range tests {
		got := tt.abi.Lookup(tt.name)
		if len(got) != len(tt.want) {
			t.Errorf("%v.Lookup(%q) = %v, want %v", tt.abi, tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%v.Lookup(%q) = %v, want %v", tt.abi, tt.name, got, tt.want)
			}
		}
	}
	if got := X86_64.Name(511); got != "511" {
		t.Errorf("X86_64.Name(511) = %q, want %q", got, "511")
	}
}
