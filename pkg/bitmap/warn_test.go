package bitmap

import (
	"slices"
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

// TestFamilyGroupsCover checks that a family's group contains every member
// of the family on every ABI that has it: a hint "restrict @x to cover them
// all" must be true (issue 12: systemd's @debug has no process_vm_readv).
func TestFamilyGroupsCover(t *testing.T) {
	for _, f := range Families {
		if f.Group == "" {
			continue
		}
		g, ok := LookupGroup(f.Group)
		if !ok {
			t.Errorf("family %v: no group %s", f.Members, f.Group)
			continue
		}
		for _, abi := range ABIs {
			nrs, err := g.Resolve(abi)
			if err != nil {
				t.Fatalf("%s.Resolve(%s): %v", f.Group, abi, err)
			}
			for _, m := range f.Members {
				for _, nr := range abi.Lookup(m) {
					if !slices.Contains(nrs, nr) {
						t.Errorf("%s on %s lacks %s (%d), a member of its family %v", f.Group, abi, m, nr, f.Members)
					}
				}
			}
		}
	}
}

// TestSiblingHintsCover denies each member of each family alone, on every
// ABI, and checks the warning's hint: a LIST that parses on that ABI and
// restricts every member the warning names, so that following the advice
// leaves no sibling open.
func TestSiblingHintsCover(t *testing.T) {
	for _, f := range Families {
		for _, abi := range ABIs {
			var present []string
			for _, m := range f.Members {
				if abi.Lookup(m) != nil {
					present = append(present, m)
				}
			}
			// Every LIST of the family's names that parses on abi; on x32,
			// names numbered past the bitmap do not.
			_, namesErr := Parse(abi, strings.Join(present, ","))
			for _, m := range present {
				// By number: on x32 a name may not parse, but its common
				// number (what Warnings tests) can still be set.
				s := NewSet(abi)
				if nr := abi.Lookup(m)[0]; nr < Size {
					s.Add(nr)
				} else {
					continue
				}
				var w *Warning
				for _, x := range Warnings(s) {
					if x.Kind == WarnSibling && slices.Contains(x.Syscalls, m) {
						w = &x
					}
				}
				if len(present) == 1 {
					if w != nil {
						t.Errorf("Warnings(%s %s) = %q, want no sibling warning: the ABI has no sibling", abi, m, w.Msg)
					}
					continue
				}
				if w == nil {
					t.Errorf("Warnings(%s %s): no sibling warning, want one naming %v", abi, m, present)
					continue
				}
				if w.Fix == "" {
					if namesErr == nil || !strings.Contains(w.Msg, "only an allowlist") {
						t.Errorf("Warnings(%s %s) = %q with no Fix, though %v parses (%v)", abi, m, w.Msg, present, namesErr)
					}
					continue
				}
				if !strings.Contains(w.Msg, "restrict "+w.Fix+" to cover them all") {
					t.Errorf("Warnings(%s %s) = %q, does not give its Fix %q", abi, m, w.Msg, w.Fix)
				}
				fix, err := Parse(abi, w.Fix)
				if err != nil {
					t.Errorf("Warnings(%s %s) hint %q does not parse: %v", abi, m, w.Fix, err)
					continue
				}
				for _, sib := range present {
					if nr := abi.Lookup(sib)[0]; !fix.Has(nr) {
						t.Errorf("Warnings(%s %s) hint %q leaves %s (%d) allowed", abi, m, w.Fix, sib, nr)
					}
				}
			}
		}
	}
}

func TestPtraceHintNamesTheSyscalls(t *testing.T) {
	s, err := Parse(X86_64, "ptrace")
	if err != nil {
		t.Fatal(err)
	}
	ws := Warnings(s)
	if len(ws) != 1 || ws[0].Fix != "ptrace,process_vm_readv,process_vm_writev" || strings.Contains(ws[0].Msg, "@debug") {
		t.Errorf("Warnings(ptrace) = %+v, want one hint naming ptrace,process_vm_readv,process_vm_writev and no @debug", ws)
	}
}
