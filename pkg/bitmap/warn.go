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
	// OneWay are syscalls that can do the members' job and more, which no
	// member can do for them: open_by_handle_at opens a file by handle,
	// past every path lookup (and so past chroots and mounts), which
	// open cannot. Left allowed, one of them is a way around a denied
	// member; denied alone, it leaves nothing open.
	OneWay []string
	// Group is a group that contains every member (OneWay too) on every
	// ABI (TestFamilyGroupsCover checks it), or "" when no group does.
	// A warning gives it as the fix where it restricts nothing the
	// family does not have on that ABI; else it names the syscalls.
	Group string
}

// Families are the sibling families of SPEC section 2. A family only counts
// on an ABI for the members that ABI has.
var Families = []Family{
	{[]string{"execve", "execveat"}, nil, "@exec"},
	{[]string{"creat", "open", "openat", "openat2"}, []string{"open_by_handle_at"}, "@open"},
	{[]string{"clone", "clone3", "fork", "vfork"}, nil, "@fork"},
	// rt_sigqueueinfo and rt_tgsigqueueinfo send a signal to a process
	// or thread as kill and tgkill do, with the same permission check.
	{[]string{"kill", "pidfd_send_signal", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "tgkill", "tkill"}, nil, "@kill"},
	{[]string{"access", "faccessat", "faccessat2"}, nil, ""},
	// fchmod and fchown change the file an open descriptor names: open
	// it, then change it.
	{[]string{"chmod", "fchmod", "fchmodat", "fchmodat2"}, nil, ""},
	{[]string{"chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32"}, nil, "@chown"},
	{[]string{"link", "linkat"}, nil, ""},
	{[]string{"mkdir", "mkdirat"}, nil, ""},
	{[]string{"mknod", "mknodat"}, nil, ""},
	{[]string{"readlink", "readlinkat"}, nil, ""},
	{[]string{"rename", "renameat", "renameat2"}, nil, ""},
	{[]string{"rmdir", "unlink", "unlinkat"}, nil, ""},
	{[]string{"symlink", "symlinkat"}, nil, ""},
	{[]string{"utime", "utimensat", "utimes", "futimesat", "utimensat_time64"}, nil, ""},
	{[]string{"stat", "stat64", "lstat", "lstat64", "newfstatat", "fstatat64", "statx"}, nil, ""},
	{[]string{"dup2", "dup3"}, nil, ""},
	{[]string{"pipe", "pipe2"}, nil, ""},
	{[]string{"mmap", "mmap2"}, nil, ""},
	// systemd's @debug has ptrace but not process_vm_readv/writev (they
	// are in @ipc, which has no ptrace): no group covers this family.
	{[]string{"ptrace", "process_vm_readv", "process_vm_writev"}, nil, ""},
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

// ioUringDoes are the syscalls whose job an io_uring operation does, with
// no syscall of its own for a filter to see: the opcodes of enum
// io_uring_op (include/uapi/linux/io_uring.h, Linux 6.18) and the
// syscalls each stands in for. A name counts on an ABI that has it.
var ioUringDoes = []string{
	"read", "pread64", "readv", "preadv", "preadv2", // READ, READV, READ_FIXED, READ_MULTISHOT
	"write", "pwrite64", "writev", "pwritev", "pwritev2", // WRITE, WRITEV, WRITE_FIXED
	"fsync", "fdatasync", "sync_file_range", "sync_file_range2", "arm_sync_file_range", // FSYNC, SYNC_FILE_RANGE
	"poll", "ppoll", "ppoll_time64", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", // POLL_ADD, EPOLL_CTL, EPOLL_WAIT
	"open", "creat", "openat", "openat2", "close", // OPENAT, OPENAT2, CLOSE
	"stat", "lstat", "fstat", "newfstatat", "statx", "stat64", "lstat64", "fstat64", "fstatat64", // STATX
	"fallocate", "ftruncate", "ftruncate64", "fadvise64", "fadvise64_64", "arm_fadvise64_64", "madvise", // FALLOCATE, FTRUNCATE, FADVISE, MADVISE
	"splice", "tee", // SPLICE, TEE
	"rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "mkdir", "mkdirat", // RENAMEAT, UNLINKAT, MKDIRAT
	"symlink", "symlinkat", "link", "linkat", // SYMLINKAT, LINKAT
	"setxattr", "fsetxattr", "getxattr", "fgetxattr", // SETXATTR, FSETXATTR, GETXATTR, FGETXATTR
	"socket", "bind", "listen", "accept", "accept4", "connect", "shutdown", // SOCKET, BIND, LISTEN, ACCEPT, CONNECT, SHUTDOWN
	"sendmsg", "recvmsg", "sendto", "recvfrom", "send", "recv", // SENDMSG, RECVMSG, SEND, RECV, SEND_ZC, SENDMSG_ZC
	"getsockopt", "setsockopt", // URING_CMD on a socket
	"waitid", "futex", "futex_time64", "futex_waitv", "pipe", "pipe2", // WAITID, FUTEX_*, PIPE
}

// Warnings returns SPEC section 2's warnings for the restriction set s, in
// a stable order, taking every syscall s restricts as asked for by name:
// right for a deny list. An Unknown ABI has no names, and so no warnings.
func Warnings(s Set) []Warning { return WarningsFor(s, s) }

// WarningsFor returns the warnings for the restriction set s of which
// denied is what was asked for by name (--deny, a deny list stamped
// before); the rest s restricts because an allowlist leaves it out.
//
// The sibling warning is about what was denied: an allowlist that allows
// openat and so restricts open did not forget open's sibling, it left open
// out; but --deny execve on top of an allowlist that allows execveat
// leaves a way around. The io_uring warning is about what s restricts,
// asked for or not: an allowlist that allows io_uring_setup restricts no
// file or network operation io_uring makes. The other warnings are about
// s as it is.
func WarningsFor(s, denied Set) []Warning {
	abi := s.abi
	if !abi.Known() {
		return nil
	}
	var ws []Warning
	restricted := func(name string) bool {
		nrs := abi.Lookup(name)
		return len(nrs) > 0 && s.Has(nrs[0])
	}
	asked := func(name string) bool {
		nrs := abi.Lookup(name)
		return len(nrs) > 0 && s.Has(nrs[0]) && denied.Has(nrs[0])
	}
	exists := func(name string) bool { return abi.Lookup(name) != nil }

	for _, f := range Families {
		var deniedNames, open, present []string
		for _, m := range append(slices.Clip(f.Members), f.OneWay...) {
			switch {
			case !exists(m):
				continue
			case !restricted(m):
				open = append(open, m)
			case asked(m) && slices.Contains(f.Members, m):
				deniedNames = append(deniedNames, m)
			}
			present = append(present, m)
		}
		if len(deniedNames) == 0 || len(open) == 0 {
			continue
		}
		msg := fmt.Sprintf("%s %s restricted but %s %s not: a program can do the same with %s",
			strings.Join(deniedNames, ", "), isAre(deniedNames), strings.Join(open, ", "), isAre(open), orList(open))
		// The hint is a LIST that --deny takes as it is: the family's
		// group where it restricts nothing the family does not have on
		// this ABI, else the siblings left open by name. On x32 a name may
		// be numbered past the bitmap, where no --deny can reach.
		fix, whole := "", false
		if g, ok := LookupGroup(f.Group); ok && f.Group != "" {
			if nrs, err := g.Resolve(abi); err == nil && within(abi, nrs, present) {
				if _, err := Parse(abi, f.Group); err == nil {
					fix, whole = f.Group, true
				}
			}
		}
		if list := strings.Join(open, ","); fix == "" {
			if _, err := Parse(abi, list); err == nil {
				fix = list
			}
		}
		switch {
		case whole:
			msg += "; restrict " + fix + " to cover them all"
		case fix != "":
			msg += "; restrict " + fix + " too"
		default:
			msg += fmt.Sprintf("; %s numbers some of them from %d up, where only an allowlist (--allow) restricts", abi, Size)
		}
		ws = append(ws, Warning{Kind: WarnSibling, Syscalls: deniedNames, Fix: fix, Msg: msg})
	}

	if exists("io_uring_setup") && !restricted("io_uring_setup") {
		// What io_uring does past the filter: for a deny list what was
		// denied, for an allowlist whatever it restricts.
		var bypassed []string
		for _, name := range ioUringDoes {
			if asked(name) || s.DenyBeyond() && restricted(name) {
				bypassed = append(bypassed, name)
			}
		}
		slices.SortFunc(bypassed, func(a, b string) int { return abi.Lookup(a)[0] - abi.Lookup(b)[0] })
		bypassed = slices.Compact(bypassed)
		switch {
		case len(bypassed) == 0:
		case s.DenyBeyond():
			ws = append(ws, Warning{Kind: WarnIOUring, Syscalls: bypassed, Fix: "@io-uring", Msg: fmt.Sprintf(
				"the allowlist allows io_uring_setup, and io_uring operations do the work of %d syscalls it restricts (%s) with no syscall of their own; restrict @io-uring too, unless the program needs io_uring",
				len(bypassed), abbrev(bypassed))})
		default:
			ws = append(ws, Warning{Kind: WarnIOUring, Syscalls: bypassed, Fix: "@io-uring", Msg: fmt.Sprintf(
				"%s %s restricted but io_uring_setup is not: io_uring operations do the same with no syscall of their own; restrict @io-uring too",
				abbrev(bypassed), isAre(bypassed))})
		}
	}

	for _, name := range unenforceable[abi] {
		if asked(name) {
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

// within reports whether every number of nrs is that of one of names on
// abi.
func within(abi ABI, nrs []int, names []string) bool {
	for _, nr := range nrs {
		if !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(abi.Lookup(n), nr) }) {
			return false
		}
	}
	return true
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
