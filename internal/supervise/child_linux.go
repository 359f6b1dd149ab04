package supervise

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/enforce"
)

// envChild marks the supervised child and carries its filter. It is removed
// from the environment PROGRAM receives.
const envChild = "SYSRESTRICT_SUPERVISED_FILTER"

// envPath, when set, names PROGRAM for an exec by name instead of through
// fdProgram. It is removed from the environment PROGRAM receives.
const envPath = "SYSRESTRICT_SUPERVISED_PATH"

// envListener, when set, makes the child install its last filter with
// SECCOMP_FILTER_FLAG_NEW_LISTENER: --audit's supervisor takes the
// listener from it (audit_linux.go). It is removed from the environment
// PROGRAM receives.
const envListener = "SYSRESTRICT_SUPERVISED_LISTENER"

// fdProgram is the descriptor, in the child, of PROGRAM opened by the
// supervisor: the child executes exactly that file.
const fdProgram = 3

// fdStart is the read end of the start pipe: the child waits for one byte
// on it, sent once the supervisor has attached to it.
const fdStart = 4

// Exit statuses of a child that never executed PROGRAM (SPEC section 3).
const (
	exitSetup = 125
	exitExec  = 126
)

var (
	childFilter, installsFilters = os.LookupEnv(envChild)
	childPolicy, enforcesPolicy  = os.LookupEnv(envPolicy)
	isChild                      = installsFilters || enforcesPolicy
)

func init() {
	if isChild {
		// Keep the main goroutine on the main thread: no_new_privs and the
		// filter are per thread, and must be on the thread that executes.
		runtime.LockOSThread()
	}
}

// Init turns the process into the supervised child when the supervisor
// started it as one, and returns otherwise. Call it first thing in main (and
// in TestMain of tests that re-execute the test binary as the launcher): in
// the child it installs the filters it was given, and executes PROGRAM,
// with the environment minus the supervisor's variables; it never returns.
// PROGRAM is the file open on descriptor 3, or, when the supervisor says
// so, PROGRAM's path (see Config.File).
//
// Between the filter and the exec the child runs Go code that may make
// syscalls (allocation, preemption); the tracer lets every syscall of the
// child through until PROGRAM's exec, and none of them are recorded. An
// Enforce child instead compiles the loader's filter and installs it as
// the loader does (enforce.Exec), with no Go code between the filter and
// the exec.
func Init() {
	if !isChild {
		return
	}
	fail := func(status int, format string, args ...any) {
		fmt.Fprintf(os.Stderr, "sysrestrict-exec: "+format+"\n", args...)
		os.Exit(status)
	}
	var start [1]byte
	if n, err := unix.Read(fdStart, start[:]); n != 1 {
		fail(exitSetup, "supervised child: the supervisor did not attach (%v)", err)
	}
	unix.Close(fdStart)
	// Tell the tracer this thread is traced and has not installed
	// anything yet (it swallows the signal).
	if err := unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGSTOP); err != nil {
		fail(exitSetup, "supervised child: tgkill: %v", err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envChild+"=") && !strings.HasPrefix(kv, envPath+"=") && !strings.HasPrefix(kv, envPolicy+"=") && !strings.HasPrefix(kv, envListener+"=") {
			env = append(env, kv)
		}
	}
	if enforcesPolicy {
		enforceChild(childPolicy, env, fail)
	}
	filters, err := decodeFilters(childFilter)
	if err != nil {
		fail(exitSetup, "supervised child: bad filter in $%s: %v", envChild, err)
	}
	argv, err := cstrings(os.Args)
	if err != nil {
		fail(exitSetup, "supervised child: %v", err)
	}
	envv, err := cstrings(env)
	if err != nil {
		fail(exitSetup, "supervised child: %v", err)
	}
	path, byName := os.LookupEnv(envPath)
	_, listener := os.LookupEnv(envListener)
	name, err := unix.BytePtrFromString(path)
	if err != nil {
		fail(exitSetup, "supervised child: %v", err)
	}
	// PROGRAM must not inherit the descriptor; but a script run through
	// /dev/fd/N needs it open, so a second try keeps it (execveat(2)).
	if _, err := unix.FcntlInt(fdProgram, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		fail(exitSetup, "supervised child: fd %d: %v", fdProgram, err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail(exitSetup, "prctl(PR_SET_NO_NEW_PRIVS): %v", err)
	}
	// PROGRAM must not take over the supervisor, its unfiltered parent
	// (docs/exec.md, "Threat model"): a Landlock domain of its own keeps
	// it from tracing or writing the memory of processes outside it. The
	// supervisor, outside, still traces it. Before the filters, which may
	// restrict Landlock's syscalls.
	if err := enforce.ScopePtrace(); err != nil && !errors.Is(err, enforce.ErrNoLandlock) {
		fail(exitSetup, "supervised child: %v", err)
	}
	for i, f := range filters {
		prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
		if listener && i == len(filters)-1 {
			// The supervisor takes the listener at this syscall's exit
			// stop, before this thread makes another; the descriptor
			// is close-on-exec, so PROGRAM never has it. WAIT_KILLABLE_RECV
			// (Linux 5.19): once received, a notified syscall is not
			// interrupted by a signal, so it is never received twice.
			flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
			_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
			if e == unix.EINVAL {
				_, _, e = unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&prog)))
			}
			if e == unix.EBUSY {
				fail(exitSetup, "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): %v: a filter with a listener is already installed above this process (a container runtime's?), and the kernel allows one; --audit cannot run here", e)
			}
			if e != 0 {
				fail(exitSetup, "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): %v", e)
			}
			continue
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); e != 0 {
			fail(exitSetup, "seccomp(SECCOMP_SET_MODE_FILTER): %v", e)
		}
	}
	exec := func() unix.Errno {
		dirfd, flags := uintptr(fdProgram), uintptr(unix.AT_EMPTY_PATH)
		if byName {
			dirfd, flags = atFDCWD, 0
		}
		_, _, e := unix.RawSyscall6(unix.SYS_EXECVEAT, dirfd, uintptr(unsafe.Pointer(name)),
			uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), flags, 0)
		return e
	}
	e := exec()
	if e == unix.ENOENT && !byName {
		unix.FcntlInt(fdProgram, unix.F_SETFD, 0)
		e = exec()
	}
	runtime.KeepAlive(filters)
	if byName {
		fail(exitExec, "%s: execve: %v", path, e)
	}
	fail(exitExec, "%s: execveat: %v", os.Args[0], e)
}

var atFDCWD = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }() // -100, sign-extended

// cstrings returns a NULL-terminated array of C strings.
func cstrings(ss []string) ([]*byte, error) {
	p := make([]*byte, len(ss)+1)
	for i, s := range ss {
		b, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		p[i] = b
	}
	return p, nil
}
