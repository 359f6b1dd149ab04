package bitmap

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		abi   ABI
		lists []string
		want  []int
	}{
		{X86_64, []string{"execve,ptrace"}, []int{59, 101}},
		{X86_64, []string{"execve", "ptrace"}, []int{59, 101}},
		{X86_64, []string{" execve , ptrace ,"}, []int{59, 101}},
		{X86_64, []string{"59"}, []int{59}},
		{X86_64, []string{"300-303"}, []int{300, 301, 302, 303}},
		{X86_64, []string{"7-7"}, []int{7}},
		{X86_64, []string{"511"}, []int{511}},
		{X86_64, []string{"@exec"}, []int{59, 322}},
		{X86_64, []string{"exec"}, nil}, // not a group without @: error below
		{AARCH64, []string{"execve,@exec"}, []int{221, 281}},
		{AARCH64, []string{"@open"}, []int{56, 265, 437}}, // openat, open_by_handle_at, openat2; no open/creat
		{I386, []string{"execve"}, []int{11}},
		{ARM, []string{"ptrace"}, []int{26}},
		{Unknown, []string{"1,2,10-11"}, []int{1, 2, 10, 11}},
	}
	for _, tt := range tests {
		if tt.want == nil {
			continue
		}
		got, err := Parse(tt.abi, tt.lists...)
		if err != nil {
			t.Errorf("Parse(%v, %q) error = %v", tt.abi, tt.lists, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got.Numbers()); diff != "" {
			t.Errorf("Parse(%v, %q) mismatch (-want +got):\n%s", tt.abi, tt.lists, diff)
		}
		if got.ABI() != tt.abi || got.DenyBeyond() {
			t.Errorf("Parse(%v, %q) = ABI %v, DenyBeyond %v", tt.abi, tt.lists, got.ABI(), got.DenyBeyond())
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		abi      ABI
		list     string
		err      error
		item     string
		suggest  []string // wanted among the suggestions, first one first
		contains string
	}{
		{X86_64, "exceve", ErrUnknownName, "exceve", []string{"execve"}, "on x86_64"},
		{X86_64, "execve,ptarce", ErrUnknownName, "ptarce", []string{"ptrace"}, ""},
		{X86_64, "opne", ErrUnknownName, "opne", []string{"open"}, ""},
		{AARCH64, "open", ErrUnknownName, "open", []string{"openat"}, "on aarch64"},
		{X86_64, "exec", ErrUnknownName, "exec", []string{"execve"}, ""},
		{X86_64, "@debgu", ErrUnknownName, "@debgu", []string{"@debug"}, "no such group"},
		{X86_64, "512", ErrRange, "512", nil, "0..511"},
		{X86_64, "500-600", ErrRange, "500-600", nil, "--allow"},
		{X86_64, "99999999999", ErrSyntax, "99999999999", nil, ""},
		{X86_64, "10-5", ErrSyntax, "10-5", nil, "backward"},
		{X86_64, "5-", ErrSyntax, "5-", nil, ""},
		{X86_64, "1x", ErrSyntax, "1x", nil, ""},
		{X86_64, "", ErrSyntax, "", nil, "empty list"},
		{X86_64, " , ", ErrSyntax, " , ", nil, "empty list"},
		{X32, "execve", ErrRange, "execve", nil, "number 520"},
		{Unknown, "execve", ErrNoNames, "execve", nil, "by number"},
		{Unknown, "@exec", ErrNoNames, "@exec", nil, ""},
	}
	for _, tt := range tests {
		_, err := Parse(tt.abi, tt.list)
		if !errors.Is(err, tt.err) {
			t.Errorf("Parse(%v, %q) error = %v, want %v", tt.abi, tt.list, err, tt.err)
			continue
		}
		var perr *ParseError
		if !errors.As(err, &perr) {
			t.Errorf("Parse(%v, %q) error %T is not a *ParseError", tt.abi, tt.list, err)
			continue
		}
		if perr.Item != tt.item || perr.ABI != tt.abi {
			t.Errorf("Parse(%v, %q) error item/ABI = %q/%v, want %q/%v", tt.abi, tt.list, perr.Item, perr.ABI, tt.item, tt.abi)
		}
		if len(tt.suggest) > 0 && (len(perr.Suggestions) == 0 || perr.Suggestions[0] != tt.suggest[0]) {
			t.Errorf("Parse(%v, %q) suggestions = %v, want %v first", tt.abi, tt.list, perr.Suggestions, tt.suggest[0])
		}
		if !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("Parse(%v, %q) error = %q, want it to contain %q", tt.abi, tt.list, err, tt.contains)
		}
	}
}

func TestParseAllowAndAllowlist(t *testing.T) {
	allowed, err := ParseAllow(X86_64, "read,write,openat")
	if err != nil {
		t.Fatal(err)
	}
	r := Allowlist(allowed)
	if !r.DenyBeyond() {
		t.Errorf("Allowlist(...).DenyBeyond() = false, want true")
	}
	for _, name := range []string{"read", "write", "openat", "exit_group", "rt_sigreturn", "brk", "futex"} {
		if r.Has(X86_64.Lookup(name)[0]) {
			t.Errorf("Allowlist(read,write,openat) restricts %s", name)
		}
	}
	for _, name := range []string{"execve", "execveat", "ptrace", "socket", "open"} {
		if !r.Has(X86_64.Lookup(name)[0]) {
			t.Errorf("Allowlist(read,write,openat) does not restrict %s", name)
		}
	}
	if !r.Has(400) || !r.Has(600) {
		t.Errorf("Allowlist restricts neither unnamed 400 nor 600: %v", r)
	}
	// An allowlist may name x32 syscalls past the bitmap: DENY_BEYOND covers them.
	if _, err := ParseAllow(X32, "execve"); err != nil {
		t.Errorf("ParseAllow(x32, execve) error = %v, want nil", err)
	}
	if _, err := ParseAllow(X86_64, "600"); !errors.Is(err, ErrRange) {
		t.Errorf("ParseAllow(600) error = %v, want ErrRange", err)
	}
}

func TestDefaultGroup(t *testing.T) {
	g, ok := LookupGroup("@default")
	if !ok || g.Source != SourceSysrestrict {
		t.Fatalf("LookupGroup(@default) = %v, %v, want sysrestrict's own", g, ok)
	}
	for _, m := range []string{"execve", "execveat"} {
		if slices.Contains(g.Members, m) {
			t.Errorf("@default contains %s; SPEC keeps it out", m)
		}
	}
	for _, m := range []string{"exit", "exit_group", "rt_sigreturn", "brk", "futex"} {
		if !slices.Contains(g.Members, m) {
			t.Errorf("@default lacks %s", m)
		}
	}
	// systemd's own @system-service still includes systemd's @default with execve.
	ss, _ := LookupGroup("@system-service")
	nrs, err := ss.Resolve(X86_64)
	if err != nil || !slices.Contains(nrs, 59) {
		t.Errorf("@system-service.Resolve(x86_64) = %v, %v, want execve in it as systemd has it", len(nrs), err)
	}
}

func TestEveryGroupResolves(t *testing.T) {
	for _, g := range Groups() {
		for _, abi := range ABIs {
			nrs, err := g.Resolve(abi)
			if err != nil {
				t.Errorf("%s.Resolve(%v) error = %v", g.Name, abi, err)
			}
			if len(nrs) == 0 && g.Name != "@cpu-emulation" && g.Name != "@pkey" && g.Name != "@raw-io" {
				t.Logf("%s is empty on %v", g.Name, abi)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"execve,ptrace", "59", "300-310", "@debug", "exceve", "", ",", "1-", "-1", "@", "511-511", "0-511", "@system-service,@known"} {
		f.Add(uint8(X86_64), seed)
	}
	f.Fuzz(func(t *testing.T, abi uint8, list string) {
		a := ABI(abi % uint8(len(abiNames)))
		s, err := Parse(a, list)
		if err != nil {
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%v, %q) error %T is not a *ParseError", a, list, err)
			}
			return
		}
		if s.DenyBeyond() {
			t.Fatalf("Parse(%v, %q) set DENY_BEYOND", a, list)
		}
		// What a set prints with numbers parses back to the same set.
		var nums []string
		for nr := range s.All() {
			nums = append(nums, strconv.Itoa(nr))
		}
		if len(nums) > 0 {
			back, err := Parse(a, strings.Join(nums, ","))
			if err != nil || !back.Equal(s) {
				t.Fatalf("Parse(numbers of %v) = %v, %v", s, back, err)
			}
		}
	})
}
