//go:build linux

package enforce

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// emptyPath is the "" path of the gate's execveat, in static memory.
var emptyPath [1]byte

// probe fails unless the kernel has SECCOMP_RET_KILL_PROCESS and the
// filter's action (SECCOMP_GET_ACTION_AVAIL, Linux 4.14).
func probe(f *Filter) error {
	for _, act := range []uint32{SECCOMP_RET_KILL_PROCESS, f.opts.Action.Ret() & SECCOMP_RET_ACTION_FULL} {
		_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&act)))
		if e != 0 {
			return fmt.Errorf("%w: %s (seccomp(SECCOMP_GET_ACTION_AVAIL): %v)", ErrUnavailable, retName(act), e)
		}
	}
	return nil
}

// bpf.RawInstruction and struct sock_filter have the same layout (u16
// code, u8 jt, u8 jf, u32 k): the program is handed to the kernel as it is,
// with no copy to allocate on the loader's path.
var _ [unsafe.Sizeof(unix.SockFilter{}) - unsafe.Sizeof(bpf.RawInstruction{})]struct{}
var _ [unsafe.Sizeof(bpf.RawInstruction{}) - unsafe.Sizeof(unix.SockFilter{})]struct{}
var _ [unsafe.Offsetof(unix.SockFilter{}.K) - unsafe.Offsetof(bpf.RawInstruction{}.K)]struct{}
var _ [unsafe.Offsetof(bpf.RawInstruction{}.Jf) - unsafe.Offsetof(unix.SockFilter{}.Jf)]struct{}

func (f *Filter) fprog() (*unix.SockFprog, []bpf.RawInstruction) {
	return &unix.SockFprog{Len: uint16(len(f.prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&f.prog[0]))}, f.prog
}

// Exec installs f on the calling thread and execs the file open as f's
// gate descriptor (Options.Fd) with execveat(fd, "", argv, env,
// AT_EMPTY_PATH), passing the gate's secret in the sixth argument register.
// It is the loader's path (docs/exec.md):
//
//   - probe that KILL_PROCESS and f's action exist (fail, never degrade);
//   - build argv and envp;
//   - prctl(PR_SET_NO_NEW_PRIVS), seccomp(SECCOMP_SET_MODE_FILTER) on this
//     thread only, execveat: three raw syscalls in one assembly function
//     (exec_amd64.s; elsewhere Go with the goroutine locked to its
//     thread), with nothing allocated and no other syscall in between.
//
// Exec returns an error only if nothing was installed. If the execveat
// fails once the filter is in, Exec writes failPrefix, ": ", the error and a
// newline to stderr — unless the filter would not let write(2) through —
// and ends the process with exit_group(126); it never returns then.
//
// f should be built with a nonzero Options.Secret whenever it restricts
// execveat; without one the exec itself gets the action.
func Exec(f *Filter, argv, env []string, failPrefix string) error {
	if err := probe(f); err != nil {
		return err
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return fmt.Errorf("argument list: %w", err)
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	prog, sf := f.fprog()

	// The failure message: prefix, room for ": " + the errno text + "\n".
	msg := make([]byte, 0, len(failPrefix)+128)
	msg = append(msg, failPrefix...)
	canWrite := writeAllowed(f)

	if lockThread {
		runtime.LockOSThread() // never unlocked: the thread execs or exits
	}
	stage, errno := installExec(uintptr(unsafe.Pointer(prog)), uintptr(f.opts.Fd), uintptr(unsafe.Pointer(&emptyPath[0])),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), uintptr(f.opts.Secret))
	// The pointers went in as uintptrs: keep what they point to alive
	// until the kernel has read it.
	runtime.KeepAlive(prog)
	runtime.KeepAlive(sf)
	runtime.KeepAlive(argvp)
	runtime.KeepAlive(envp)
	e := syscall.Errno(errno)
	switch stage {
	case 1:
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	case 2:
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", e)
	}

	// The filter is in and the exec failed. No allocation from here on
	// (it could mmap): errno texts are static strings.
	if canWrite {
		msg = append(msg, ": "...)
		if len(msg)+len(e.Error())+1 <= cap(msg) {
			msg = append(msg, e.Error()...)
		}
		msg = append(msg, '\n')
		unix.RawSyscall(unix.SYS_WRITE, 2, uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg)))
	}
	for {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 126, 0, 0)
	}
}

// writeAllowed reports whether f lets this process's write(2) to fd 2 run
// (allowed, logged, or answered with an errno: none of those kills).
func writeAllowed(f *Filter) bool {
	abi := NativeABI()
	nrs := abi.Lookup("write")
	if len(nrs) == 0 {
		return false
	}
	r := eval(f.prog, abi.AuditArch(), uint32(nrs[0])|abi.NrBase(), [6]uint64{2})
	switch r & SECCOMP_RET_ACTION_FULL {
	case SECCOMP_RET_ALLOW, SECCOMP_RET_LOG, SECCOMP_RET_ERRNO:
		return true
	}
	return false
}

// Restrict adds set's restrictions to the calling process, all its threads
// and all it starts, irrevocably: the NetBSD sysrestrict call at run time.
// The set must be of the running program's ABI (NativeABI); opts.Secret
// must be 0 (a running process has no exec gate). Filters stack: a syscall
// restricted by any filter gets that filter's action.
//
// It sets no_new_privs and installs with SECCOMP_FILTER_FLAG_TSYNC, so
// every thread gets the filter at once or none does.
func Restrict(set bitmap.Set, opts Options) error {
	if abi := NativeABI(); set.ABI() != abi {
		return fmt.Errorf("%w: set of ABI %v in a process of ABI %v", ErrABI, set.ABI(), abi)
	}
	if opts.Secret != 0 {
		return fmt.Errorf("%w: Restrict takes no exec gate secret", ErrAction)
	}
	f, err := Build(set, opts)
	if err != nil {
		return err
	}
	return f.restrict()
}

func (f *Filter) restrict() error {
	if err := probe(f); err != nil {
		return err
	}
	prog, sf := f.fprog()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(prog)))
	runtime.KeepAlive(sf)
	if e != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): %w", e)
	}
	if r != 0 {
		// TSYNC failed: r is the id of a thread whose filters diverge.
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): thread %d cannot be synchronized; nothing was installed", r)
	}
	return nil
}
