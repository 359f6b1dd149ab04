//go:build linux

package enforce

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Landlock domain of a program under the loader (docs/exec.md,
// "Threat model").
//
// A seccomp filter says which syscalls a program may make, not what it may
// do to other processes with the allowed ones. Without Yama (or with
// ptrace_scope 0), a filtered program can write its unfiltered parent's
// memory through /proc/PPID/mem, PTRACE_ATTACH to it or
// process_vm_writev into it, and so run code outside its filter. Landlock
// forbids a process in a domain to ptrace, or to access the memory of, any
// process outside that domain or its nested ones (ptrace_may_access, in
// security/landlock/task.c), whatever the domain restricts otherwise. So
// the loader puts the program into a domain of its own just before its
// filter: the program and all it starts can still trace one another, and
// anything outside can still trace them.
//
// A domain must restrict some access (landlock_create_ruleset refuses an
// empty ruleset with ENOMSG). This one handles only
// LANDLOCK_ACCESS_FS_REFER — linking or renaming a file into another
// directory — and grants it beneath "/" again, so no file access is taken
// away. REFER is the cheapest right to handle: the kernel checks it on
// cross-directory links and renames only, never on open. Like any domain
// that handles a file access, it also denies changing the mount topology
// (mount, umount, pivot_root, move_mount: EPERM). REFER exists from
// Landlock ABI 2 (Linux 5.19); with ABI 1 a ruleset that handles any file
// access denies cross-directory renames outright, so the loader does not
// use Landlock there.

// ptraceScopeAccess is the one access right the domain handles.
const ptraceScopeAccess = unix.LANDLOCK_ACCESS_FS_REFER

// landlockRulesetAttr is the first member of struct landlock_ruleset_attr
// (include/uapi/linux/landlock.h): the kernel takes a prefix of the
// struct, and this one works with every ABI.
type landlockRulesetAttr struct {
	handledAccessFs uint64
}

// rootPath is "/", in static memory.
var rootPath = [2]byte{'/', 0}

// LandlockABI returns the kernel's Landlock ABI version
// (landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION), or an
// error matching ErrNoLandlock that says why the loader's programs get no
// domain here.
func LandlockABI() (int, error) {
	v, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch {
	case e == unix.ENOSYS:
		return 0, fmt.Errorf("%w: this kernel has no Landlock (landlock_create_ruleset: %v)", ErrNoLandlock, e)
	case e == unix.EOPNOTSUPP:
		return 0, fmt.Errorf("%w: Landlock is disabled at boot (landlock_create_ruleset: %v; add landlock to the lsm= kernel parameter)", ErrNoLandlock, e)
	case e != 0:
		return 0, fmt.Errorf("%w: landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION): %v", ErrNoLandlock, e)
	case v < 2:
		return int(v), fmt.Errorf("%w: Landlock ABI %d has no LANDLOCK_ACCESS_FS_REFER, so no domain can leave files alone (Linux 5.19 has ABI 2)", ErrNoLandlock, v)
	}
	return int(v), nil
}

// newPtraceScope returns the descriptor of a Landlock ruleset that
// handles only LANDLOCK_ACCESS_FS_REFER and grants it beneath "/", ready
// for landlock_restrict_self; the descriptor is close-on-exec (the kernel
// makes it so). Where the kernel cannot make such a ruleset it returns -1
// and an error matching ErrNoLandlock; any other error is a failure.
func newPtraceScope() (int, error) {
	attr := landlockRulesetAttr{handledAccessFs: ptraceScopeAccess}
	fd, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		if e == unix.ENOSYS || e == unix.EOPNOTSUPP || e == unix.EINVAL {
			// No Landlock, disabled, or ABI 1 (REFER unknown): say which.
			if _, err := LandlockABI(); err != nil {
				return -1, err
			}
		}
		return -1, fmt.Errorf("landlock_create_ruleset: %w", e)
	}
	// openat(_, "/", O_PATH): the path is absolute, the dirfd unused.
	root, _, e := unix.RawSyscall6(unix.SYS_OPENAT, 0, uintptr(unsafe.Pointer(&rootPath[0])),
		unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0, 0, 0)
	if e != 0 {
		unix.Close(int(fd))
		return -1, fmt.Errorf("open(/, O_PATH): %w", e)
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: ptraceScopeAccess, Parent_fd: int32(root)}
	_, _, e = unix.RawSyscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
	unix.Close(int(root))
	if e != 0 {
		unix.Close(int(fd))
		return -1, fmt.Errorf("landlock_add_rule(/, LANDLOCK_ACCESS_FS_REFER): %w", e)
	}
	return int(fd), nil
}

// ScopePtrace puts the calling thread into a new Landlock domain that
// takes no file or network access away, but from which no process can
// ptrace, or read or write the memory of, a process outside it (see the
// comment at the top of this file). Threads and children the thread
// starts afterwards inherit the domain, and an execve carries it into the
// new program; the process's other threads are not in it. The thread
// must have set no_new_privs (or hold CAP_SYS_ADMIN), and the goroutine
// must stay on it (runtime.LockOSThread) until it execs: Exec does both
// itself, so the loader does not call ScopePtrace. It returns an error
// matching ErrNoLandlock where the kernel cannot make such a domain.
func ScopePtrace() error {
	fd, err := newPtraceScope()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), 0, 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", e)
	}
	return nil
}
