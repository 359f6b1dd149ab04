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
// ABI, and checks the warning's hint: a LIST that parses on that ABI and,
// restricted too, leaves no sibling open; the family's group only where it
// restricts nothing the family does not have there ("to cover them all"),
// else the siblings left open, by name ("too"). A one-way member
// (open_by_handle_at) denied alone gets no warning: no sibling does its
// job.
func TestSiblingHintsCover(t *testing.T) {
	for _, f := range Families {
		for _, abi := range ABIs {
			var present []string
			for _, m := range append(slices.Clip(f.Members), f.OneWay...) {
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
				if len(present) == 1 || slices.Contains(f.OneWay, m) {
					if w != nil {
						t.Errorf("Warnings(%s %s) = %q, want no sibling warning", abi, m, w.Msg)
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
				want := "restrict " + w.Fix + " too"
				if strings.HasPrefix(w.Fix, "@") {
					want = "restrict " + w.Fix + " to cover them all"
				}
				if !strings.HasSuffix(w.Msg, want) {
					t.Errorf("Warnings(%s %s) = %q, want it to end %q", abi, m, w.Msg, want)
				}
				fix, err := Parse(abi, w.Fix)
				if err != nil {
					t.Errorf("Warnings(%s %s) hint %q does not parse: %v", abi, m, w.Fix, err)
					continue
				}
				for _, sib := range present {
					if nr := abi.Lookup(sib)[0]; !fix.Has(nr) && !s.Has(nr) {
						t.Errorf("Warnings(%s %s) hint %q leaves %s (%d) allowed", abi, m, w.Fix, sib, nr)
					}
				}
				if strings.HasPrefix(w.Fix, "@") {
					for nr := range fix.All() {
						if !slices.ContainsFunc(present, func(n string) bool { return slices.Contains(abi.Lookup(n), nr) }) {
							t.Errorf("Warnings(%s %s) hint %s restricts %s too, which is not of the family", abi, m, w.Fix, abi.Name(nr))
						}
					}
				} else if fix.Has(abi.Lookup(m)[0]) {
					t.Errorf("Warnings(%s %s) hint %q names %s, restricted already", abi, m, w.Fix, m)
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
	want := "ptrace is restricted but process_vm_readv, process_vm_writev are not: a program can do the same with process_vm_readv or process_vm_writev; restrict process_vm_readv,process_vm_writev too"
	if len(ws) != 1 || ws[0].Fix != "process_vm_readv,process_vm_writev" || ws[0].Msg != want {
		t.Errorf("Warnings(ptrace) = %+v, want one: %q", ws, want)
	}
}

// TestWarningsFitWhatWasAsked (issue 14): the warnings, exactly, for what
// was denied by name and for what an allowlist leaves out. An allowlist
// that allows openat did not forget open's siblings; denying
// open_by_handle_at (@privileged) leaves no sibling that does its job;
// io_uring is named where it does the work of what is restricted.
func TestWarningsFitWhatWasAsked(t *testing.T) {
	allow := func(list string) Set {
		a, err := ParseAllow(X86_64, list)
		if err != nil {
			t.Fatal(err)
		}
		return Allowlist(a)
	}
	deny := func(list string) Set {
		s, err := Parse(X86_64, list)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := NewSet(X86_64)
	tests := []struct {
		name     string
		s, asked Set
		want     []string
	}{
		{"--deny @privileged", deny("@privileged"), deny("@privileged"), nil},
		{"--deny open_by_handle_at", deny("open_by_handle_at"), deny("open_by_handle_at"), nil},
		{"--deny open", deny("open"), deny("open"), []string{
			"open is restricted but creat, openat, openat2, open_by_handle_at are not: a program can do the same with creat, openat, openat2 or open_by_handle_at; restrict @open to cover them all",
			"open is restricted but io_uring_setup is not: io_uring operations do the same with no syscall of their own; restrict @io-uring too",
		}},
		{"--deny kill", deny("kill"), deny("kill"), []string{
			"kill is restricted but pidfd_send_signal, rt_sigqueueinfo, rt_tgsigqueueinfo, tgkill, tkill are not: a program can do the same with pidfd_send_signal, rt_sigqueueinfo, rt_tgsigqueueinfo, tgkill or tkill; restrict @kill to cover them all",
		}},
		{"--deny @file-system,@io-uring", deny("@file-system,@io-uring"), deny("@file-system,@io-uring"), []string{
			"creat, open, openat, openat2 are restricted but open_by_handle_at is not: a program can do the same with open_by_handle_at; restrict @open to cover them all",
		}},
		{"--allow openat,read,write,close", allow("openat,read,write,close"), none, nil},
		{"--allow openat,execveat,read --deny execve", allow("openat,execveat,read").Union(deny("execve")), deny("execve"), []string{
			"execve is restricted but execveat is not: a program can do the same with execveat; restrict @exec to cover them all",
		}},
		{"--allow read,write,openat,io_uring_setup", allow("read,write,openat,io_uring_setup"), none, []string{
			"the allowlist allows io_uring_setup, and io_uring operations do the work of 64 syscalls it restricts (open, close, stat, fstat and 60 more) with no syscall of their own; restrict @io-uring too, unless the program needs io_uring",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, w := range WarningsFor(tt.s, tt.asked) {
				got = append(got, w.Msg)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("WarningsFor(%s) =\n%q\nwant\n%q", tt.name, got, tt.want)
			}
		})
	}
}
