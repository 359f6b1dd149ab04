//go:build linux

package enforce

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// emptyPath is the "" path of the gate's execveat, in static memory.
var emptyPath [1]byte

// probe fails unless the kernel has SECCOMP_RET_KILL_PROCESS, the
// program's action and every per-syscall action it gives
// (SECCOMP_GET_ACTION_AVAIL, Linux 4.14), and unless the program's
// run-time values are in.
func probe(p *filter.Program) error {
	if !p.Rendered() {
		return fmt.Errorf("%w: the program's placeholders were never rendered (filter.Program.Render)", filter.ErrValue)
	}
	if err := avail(filter.SECCOMP_RET_KILL_PROCESS); err != nil {
		return err
	}
	if err := avail(p.Action().Ret()); err != nil {
		return err
	}
	for _, a := range p.Options().Overrides {
		if err := avail(a.Ret()); err != nil {
			return err
		}
	}
	return nil
}

// avail fails unless the kernel has the action of the seccomp return
// value k.
func avail(k uint32) error {
	act := k & filter.SECCOMP_RET_ACTION_FULL
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&act)))
	if e != 0 {
		return fmt.Errorf("%w: %s (seccomp(SECCOMP_GET_ACTION_AVAIL): %v)", ErrUnavailable, filter.RetName(act), e)
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

func fprog(p *filter.Program) (*unix.SockFprog, []bpf.RawInstruction) {
	prog := p.Instructions()
	return &unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}, prog
}

// Exec installs p on the calling thread and execs the file open as p's
// gate descriptor (filter.Values.Fd) with execveat(fd, "", argv, env,
// AT_EMPTY_PATH), passing the gate's secret (filter.Values.Secret) in the
// sixth argument register. p must be built with filter.Options.Gate for
// this process's ABI (NativeABI) and rendered. It is the loader's path
// (docs/exec.md):
//
//   - probe that KILL_PROCESS and p's action exist (fail, never degrade);
//   - build argv and envp, and the Landlock ruleset that keeps the program
//     from tracing processes outside its tree (landlock_linux.go; where
//     the kernel cannot make one, the program runs without: LandlockABI
//     says why);
//   - prctl(PR_SET_NO_NEW_PRIVS), landlock_restrict_self,
//     seccomp(SECCOMP_SET_MODE_FILTER), all on this thread only, and
//     execveat: raw syscalls in one assembly function (exec_linux_amd64.s;
//     elsewhere Go with the goroutine locked to its thread), with nothing
//     allocated and no other syscall in between. Landlock goes first: the
//     filter may restrict its syscalls.
//
// Exec returns an error only if no filter was installed. If the execveat
// fails once the filter is in, Exec writes failPrefix, ": ", the error and a
// newline to stderr — unless the filter would not let write(2) through —
// and ends the process with exit_group(126); it never returns then.
func Exec(p *filter.Program, argv, env []string, failPrefix string) error {
	if o := p.Options(); !o.Gate {
		return fmt.Errorf("%w: Exec needs a program with the exec gate (filter.Options.Gate) for its descriptor and secret", filter.ErrValue)
	} else if abi := NativeABI(); o.GateABI != abi {
		return fmt.Errorf("%w: exec gate for ABI %v in a process of ABI %v", ErrABI, o.GateABI, abi)
	}
	if err := probe(p); err != nil {
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
	prog, sf := fprog(p)
	v := p.Values()
	ruleset, err := newPtraceScope()
	if err != nil && !errors.Is(err, ErrNoLandlock) {
		return err
	}

	// The failure message: prefix, room for ": " + the errno text + "\n".
	msg := make([]byte, 0, len(failPrefix)+128)
	msg = append(msg, failPrefix...)
	canWrite := writeAllowed(p)

	if lockThread {
		runtime.LockOSThread() // never unlocked: the thread execs or exits
	}
	stage, errno := installExec(uintptr(unsafe.Pointer(prog)), uintptr(v.Fd), uintptr(unsafe.Pointer(&emptyPath[0])),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), uintptr(v.Secret), uintptr(ruleset))
	// The pointers went in as uintptrs: keep what they point to alive
	// until the kernel has read it.
	runtime.KeepAlive(prog)
	runtime.KeepAlive(sf)
	runtime.KeepAlive(argvp)
	runtime.KeepAlive(envp)
	e := syscall.Errno(errno)
	switch stage {
	case 1, 2, 4:
		if ruleset >= 0 {
			unix.Close(ruleset)
		}
	}
	switch stage {
	case 1:
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	case 2:
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", e)
	case 4:
		if e == unix.E2BIG {
			return fmt.Errorf("landlock_restrict_self: %w: the process is in 16 nested Landlock domains already, the kernel's limit", e)
		}
		return fmt.Errorf("landlock_restrict_self: %w", e)
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

// ExecUnrestricted execs the file open as fd with no filter:
// execveat(fd, "", argv, env, AT_EMPTY_PATH), the loader's path for a
// program with nothing to enforce. It returns only on failure, with the
// errno.
func ExecUnrestricted(fd int, argv, env []string) error {
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	_, _, e := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(&emptyPath[0])),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	return e
}

// writeAllowed reports whether p lets this process's write(2) to fd 2 run
// (allowed, logged, or answered with an errno: none of those kills).
func writeAllowed(p *filter.Program) bool {
	abi := NativeABI()
	nrs := abi.Lookup("write")
	if len(nrs) == 0 {
		return false
	}
	r := filter.Eval(p.Instructions(), abi.AuditArch(), uint32(nrs[0])|abi.NrBase(), [6]uint64{2})
	switch r & filter.SECCOMP_RET_ACTION_FULL {
	case filter.SECCOMP_RET_ALLOW, filter.SECCOMP_RET_LOG, filter.SECCOMP_RET_ERRNO:
		return true
	}
	return false
}

// Restrict adds set's restrictions to the calling process, all its threads
// and all it starts, irrevocably: the NetBSD sysrestrict call at run time.
// A restricted syscall gets act (filter.Kill(), filter.Errno(EPERM), ...).
// The set must be of the running program's ABI (NativeABI). Filters stack:
// a syscall restricted by any filter gets that filter's action.
//
// It sets no_new_privs and installs with SECCOMP_FILTER_FLAG_TSYNC, so
// every thread gets the filter at once or none does.
func Restrict(set bitmap.Set, act filter.Action) error {
	if abi := NativeABI(); set.ABI() != abi {
		return fmt.Errorf("%w: set of ABI %v in a process of ABI %v", ErrABI, set.ABI(), abi)
	}
	p, err := filter.Build(set, filter.Options{Action: act})
	if err != nil {
		return err
	}
	return restrict(p)
}

func restrict(p *filter.Program) error {
	if err := probe(p); err != nil {
		return err
	}
	prog, sf := fprog(p)
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
