package bitmap

import (
	"fmt"
	"slices"
	"strings"
)

// WarnKind classifies a Warning.
type WarnKind uint8

const (
	// WarnSibling: a restricted syscall has a sibling that does the same
	// job and stays allowed.
	WarnSibling WarnKind = iota + 1
	// WarnIOUring: file or network syscalls are restricted while io_uring
	// stays allowed, and io_uring operations bypass per-syscall filters.
	WarnIOUring
	// WarnUnenforceable: a restricted syscall that seccomp never sees.
	WarnUnenforceable
	// WarnFatal: a restricted syscall that every program makes to end.
	WarnFatal
)

// Warning is advice about a set: never an error, since the set is still
// enforced exactly as written.
type Warning struct {
	Kind     WarnKind
	Syscalls []string // the restricted syscalls it is about
	// Fix is a LIST that answers the warning when restricted too (a group,
	// or the syscalls by name), or "" when restricting more is not the
	// answer.
	Fix string
	Msg string
}

func (w Warning) String() string { return w.Msg }

// Family is a group of syscalls that can stand in for each other: denying
// one while another stays allowed leaves the job possible.
type Family struct {
	Members []string
	// Group is a group that contains every member on every ABI
	// (TestFamilyGroupsCover checks it), or "" when no group does: the
	// warning then names the members themselves.
	Group string
}

// Families are the sibling families of SPEC section 2. A family only counts
// on an ABI for the members that ABI has.
var Families = []Family{
	{[]string{"execve", "execveat"}, "@exec"},
	{[]string{"creat", "open", "openat", "openat2", "open_by_handle_at"}, "@open"},
	{[]string{"clone", "clone3", "fork", "vfork"}, "@fork"},
	{[]string{"kill", "pidfd_send_signal", "tgkill", "tkill"}, "@kill"},
	{[]string{"access", "faccessat", "faccessat2"}, ""},
	{[]string{"chmod", "fchmodat", "fchmodat2"}, ""},
	{[]string{"chown", "chown32", "fchownat", "lchown", "lchown32"}, "@chown"},
	{[]string{"link", "linkat"}, ""},
	{[]string{"mkdir", "mkdirat"}, ""},
	{[]string{"mknod", "mknodat"}, ""},
	{[]string{"readlink", "readlinkat"}, ""},
	{[]string{"rename", "renameat", "renameat2"}, ""},
	{[]string{"rmdir", "unlink", "unlinkat"}, ""},
	{[]string{"symlink", "symlinkat"}, ""},
	{[]string{"utime", "utimensat", "utimes", "futimesat", "utimensat_time64"}, ""},
	{[]string{"stat", "stat64", "lstat", "lstat64", "newfstatat", "fstatat64", "statx"}, ""},
	{[]string{"dup2", "dup3"}, ""},
	{[]string{"pipe", "pipe2"}, ""},
	{[]string{"mmap", "mmap2"}, ""},
	// systemd's @debug has ptrace but not process_vm_readv/writev (they
	// are in @ipc, which has no ptrace): no group covers this family.
	{[]string{"ptrace", "process_vm_readv", "process_vm_writev"}, ""},
}

// unenforceable lists, per ABI, syscalls that never reach seccomp: x86_64
// uretprobe is entered from a kernel-made trampoline and bypasses seccomp
// (kernel/seccomp.c passes it through unfiltered: kernel commit "seccomp:
// passthrough uretprobe systemcall without filtering").
var unenforceable = map[ABI][]string{
	X86_64: {"uretprobe"},
}

// fatal lists syscalls that every program makes to end or to return from a
// signal handler.
var fatal = []string{"exit", "exit_group", "rt_sigreturn", "sigreturn"}

// ioUringBypassed are the groups whose operations io_uring can perform
// without a syscall of their own.
var ioUringBypassed = []string{"@file-system", "@network-io", "@basic-io", "@open"}

// Warnings returns SPEC section 2's warnings for the restriction set s, in
// a stable order. An Unknown ABI has no names, and so no warnings.
func Warnings(s Set) []Warning {
	abi := s.abi
	if !abi.Known() {
		return nil
	}
	var ws []Warning
	restricted := func(name string) bool {
		nrs := abi.Lookup(name)
		return len(nrs) > 0 && s.Has(nrs[0])
	}
	exists := func(name string) bool { return abi.Lookup(name) != nil }

	for _, f := range Families {
		var denied, open, present []string
		for _, m := range f.Members {
			switch {
			case !exists(m):
				continue
			case restricted(m):
				denied = append(denied, m)
			default:
				open = append(open, m)
			}
			present = append(present, m)
		}
		if len(denied) == 0 || len(open) == 0 {
			continue
		}
		msg := fmt.Sprintf("%s %s restricted but %s %s not: a program can do the same with %s",
			strings.Join(denied, ", "), isAre(denied), strings.Join(open, ", "), isAre(open), orList(open))
		// The hint is a LIST that --deny takes as it is: the family's
		// group, else its names. On x32 a group or a name may reach past
		// the bitmap, where no --deny can.
		fix := ""
		for _, list := range []string{f.Group, strings.Join(present, ",")} {
			if _, err := Parse(abi, list); list != "" && err == nil {
				fix = list
				break
			}
		}
		if fix != "" {
			msg += "; restrict " + fix + " to cover them all"
		} else {
			msg += fmt.Sprintf("; %s numbers some of them from %d up, where only an allowlist (--allow) restricts", abi, Size)
		}
		ws = append(ws, Warning{Kind: WarnSibling, Syscalls: denied, Fix: fix, Msg: msg})
	}

	if exists("io_uring_setup") && !restricted("io_uring_setup") {
		var bypassed []string
		for _, gname := range ioUringBypassed {
			g, _ := LookupGroup(gname)
			nrs, _ := g.Resolve(abi)
			for _, nr := range nrs {
				if nr < Size && s.Has(nr) {
					bypassed = append(bypassed, abi.Name(nr))
				}
			}
		}
		slices.Sort(bypassed)
		bypassed = slices.Compact(bypassed)
		if len(bypassed) > 0 {
			ws = append(ws, Warning{Kind: WarnIOUring, Syscalls: bypassed, Fix: "@io-uring", Msg: fmt.Sprintf(
				"%s %s restricted but io_uring_setup is not: io_uring operations open, read, write and connect without those syscalls; restrict @io-uring too",
				abbrev(bypassed), isAre(bypassed))})
		}
	}

	for _, name := range unenforceable[abi] {
		if restricted(name) {
			ws = append(ws, Warning{Kind: WarnUnenforceable, Syscalls: []string{name}, Msg: fmt.Sprintf(
				"%s cannot be restricted: seccomp never sees it on %s", name, abi)})
		}
	}

	var deadly []string
	for _, name := range fatal {
		if exists(name) && restricted(name) {
			deadly = append(deadly, name)
		}
	}
	if len(deadly) > 0 {
		ws = append(ws, Warning{Kind: WarnFatal, Syscalls: deadly, Msg: fmt.Sprintf(
			"%s %s restricted: every program needs %s to end or to return from a signal handler, so it will be killed then",
			strings.Join(deadly, ", "), isAre(deadly), itThem(deadly))})
	}
	return ws
}

func isAre(names []string) string {
	if len(names) == 1 {
		return "is"
	}
	return "are"
}

func itThem(names []string) string {
	if len(names) == 1 {
		return "it"
	}
	return "them"
}

func orList(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// abbrev joins up to four names and says how many more there are.
func abbrev(names []string) string {
	if len(names) <= 4 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:4], ", "), len(names)-4)
}
