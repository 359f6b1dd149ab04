package bitmap

import (
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	tests := []struct {
		list     string
		abi      ABI
		kinds    []WarnKind
		contains []string
	}{
		{"execve", X86_64, []WarnKind{WarnSibling}, []string{"execveat", "@exec"}},
		{"@exec", X86_64, nil, nil},
		{"open", X86_64, []WarnKind{WarnSibling, WarnIOUring}, []string{"openat", "@open", "io_uring_setup"}},
		{"open,io_uring_setup", X86_64, []WarnKind{WarnSibling}, nil},
		{"fork", X86_64, []WarnKind{WarnSibling}, []string{"clone", "@fork"}},
		{"@fork,@open,@io-uring", X86_64, nil, nil},
		{"kill", X86_64, []WarnKind{WarnSibling}, []string{"tgkill", "@kill"}},
		{"uretprobe", X86_64, []WarnKind{WarnUnenforceable}, []string{"seccomp never sees"}},
		{"exit_group", X86_64, []WarnKind{WarnFatal}, []string{"exit_group"}},
		{"socket,io_uring_setup", X86_64, nil, nil},
		{"socket", X86_64, []WarnKind{WarnIOUring}, []string{"socket is restricted"}},
		{"ptrace", X86_64, []WarnKind{WarnSibling}, []string{"process_vm_writev"}},
		// aarch64 has no execve sibling gap when both are denied, and no open at all.
		{"execve,execveat", AARCH64, nil, nil},
		{"59", Unknown, nil, nil},
	}
	for _, tt := range tests {
		s, err := Parse(tt.abi, tt.list)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.list, err)
		}
		ws := Warnings(s)
		var kinds []WarnKind
		var all strings.Builder
		for _, w := range ws {
			kinds = append(kinds, w.Kind)
			all.WriteString(w.String() + "\n")
		}
		if len(kinds) != len(tt.kinds) {
			t.Errorf("Warnings(%q) = %q, want kinds %v", tt.list, all.String(), tt.kinds)
			continue
		}
		for i := range kinds {
			if kinds[i] != tt.kinds[i] {
				t.Errorf("Warnings(%q) kinds = %v, want %v", tt.list, kinds, tt.kinds)
			}
		}
		for _, c := range tt.contains {
			if !strings.Contains(all.String(), c) {
				t.Errorf("Warnings(%q) = %q, want it to mention %q", tt.list, all.String(), c)
			}
		}
	}
}
