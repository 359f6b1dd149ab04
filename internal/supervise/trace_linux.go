package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/internal/identity"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// WaitStatus is how PROGRAM ended, as wait4(2) reports it.
type WaitStatus = unix.WaitStatus

// syscallInfo is struct ptrace_syscall_info (include/uapi/linux/ptrace.h)
// with the seccomp member of its union, as PTRACE_GET_SYSCALL_INFO fills it
// at a PTRACE_EVENT_SECCOMP stop (op PTRACE_SYSCALL_INFO_SECCOMP).
type syscallInfo struct {
	Op      uint8
	_       [3]uint8
	Arch    uint32
	IP      uint64
	SP      uint64
	Nr      uint64
	Args    [6]uint64
	RetData uint32
	_       uint32
}

func getSyscallInfo(pid int) (syscallInfo, error) {
	si, err := getSyscallInfoAny(pid)
	if err != nil {
		return si, err
	}
	if si.Op != unix.PTRACE_SYSCALL_INFO_SECCOMP {
		return si, fmt.Errorf("ptrace(PTRACE_GET_SYSCALL_INFO, %d): op %d, want seccomp", pid, si.Op)
	}
	return si, nil
}

// getSyscallInfoAny is PTRACE_GET_SYSCALL_INFO at any stop. At a
// syscall-entry stop (op PTRACE_SYSCALL_INFO_ENTRY) Nr and Args are the
// syscall's, as at a seccomp stop; at a syscall-exit stop
// (PTRACE_SYSCALL_INFO_EXIT) Nr holds the return value and the low byte
// of Args[0] is_error (struct ptrace_syscall_info's exit member).
func getSyscallInfoAny(pid int) (syscallInfo, error) {
	var si syscallInfo
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GET_SYSCALL_INFO, uintptr(pid), unsafe.Sizeof(si), uintptr(unsafe.Pointer(&si)), 0, 0)
	if e != 0 {
		return si, fmt.Errorf("ptrace(PTRACE_GET_SYSCALL_INFO, %d): %w", pid, e)
	}
	return si, nil
}

// abiOf returns the ABI of a syscall as seccomp saw it, and its number in
// that ABI's table.
func abiOf(arch uint32, nr uint64) (bitmap.ABI, int) {
	n := int(int32(uint32(nr)))
	switch arch {
	case bitmap.AUDIT_ARCH_X86_64:
		if n >= 0 && n&bitmap.X32SyscallBit != 0 {
			return bitmap.X32, n &^ bitmap.X32SyscallBit
		}
		return bitmap.X86_64, n
	case bitmap.AUDIT_ARCH_I386:
		return bitmap.I386, n
	case bitmap.AUDIT_ARCH_AARCH64:
		return bitmap.AARCH64, n
	case bitmap.AUDIT_ARCH_ARM:
		return bitmap.ARM, n
	}
	return bitmap.Unknown, n
}

// tracee is what the tracer knows of one traced thread.
type tracee struct {
	exe  string     // the executable it runs, from /proc/PID/exe at its exec
	id   profile.ID // its identity, when the tracer identifies (Record)
	root bool       // the thread started as the supervised child (PROGRAM's first thread)
}

// handler is called at every seccomp stop of PROGRAM and its descendants
// (never for the child's own syscalls before it executes PROGRAM). It may
// change the tracee's registers; the tracer resumes it afterwards.
type handler func(pid int, t *tracee, si syscallInfo) error

// setup is what the supervised child does before it executes PROGRAM:
// env, NAME=VALUE, is the variable that tells it (Init). With detach, the
// supervisor stops tracing PROGRAM at its exec (Enforce).
type setup struct {
	env    string
	detach bool
}

// installing returns the setup of a child that installs filters, in order,
// and executes PROGRAM (Learn, Explain).
func installing(filters ...[]bpf.RawInstruction) setup {
	return setup{env: envChild + "=" + encodeFilters(filters...)}
}

// run starts the supervised child with its setup, traces it and every
// thread and child it makes until the last one is gone (or, with
// su.detach, until PROGRAM's exec, then waits for it), and returns
// PROGRAM's wait status. started, if not nil, is called at PROGRAM's exec.
//
// It waits with wait4(-1, __WALL): the caller must not have other children
// that it waits for while run runs.
func run(ctx context.Context, c Config, su setup, h handler, started func(exe string)) (unix.WaitStatus, error) {
	return runTracer(ctx, c, su, &tracer{h: h, started: started})
}

// runTracer is run with the tracer t, which may identify executables.
func runTracer(ctx context.Context, c Config, su setup, t *tracer) (unix.WaitStatus, error) {
	type result struct {
		ws  unix.WaitStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Every ptrace request must come from the thread that is the
		// tracer. This goroutine keeps its thread locked: when it ends
		// without unlocking, the thread exits, and PTRACE_O_EXITKILL
		// kills whatever tracee is left, so nothing runs unsupervised.
		runtime.LockOSThread()
		ws, err := trace(ctx, c, su, t)
		if err == nil || errors.Is(err, ErrNotStarted) {
			runtime.UnlockOSThread()
		}
		done <- result{ws, err}
	}()
	r := <-done
	return r.ws, r.err
}

// trace starts the child, passes the signals the supervisor gets on to it
// (forwardSignals) and follows every tracee until the last is gone
// (tracer.loop).
func trace(ctx context.Context, c Config, su setup, t *tracer) (unix.WaitStatus, error) {
	pid, err := start(c, seizeOptions, su.env)
	if err != nil {
		return 0, err
	}
	fwd := forwardSignals(pid)
	defer fwd.stop()
	t.pid, t.fwd, t.live, t.stub, t.detach = pid, fwd, map[int]*tracee{pid: {root: true}}, c.Stub, su.detach
	defer context.AfterFunc(ctx, t.killAll)()
	ws, err := t.loop()
	if err != nil {
		return ws, err
	}
	return ws, ctx.Err()
}

// seizeOptions are the ptrace options of the tracer (Learn, Explain,
// Enforce): every seccomp stop, fork, clone and exec of the child and all
// it starts, and death of them all if the supervisor dies. PTRACE_SEIZE
// rather than PTRACE_TRACEME: group-stops are reported as such
// (PTRACE_EVENT_STOP) and can be left in place with PTRACE_LISTEN, so job
// control works on a supervised program.
const seizeOptions = unix.PTRACE_O_TRACESECCOMP | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK |
	unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL

// start starts c.Launcher as the supervised child with its setup, the
// variables setupEnv (NAME=VALUE), in its environment, attaches to it
// with the ptrace options opts and lets it go on: it installs its filters
// and executes PROGRAM (Init). It returns the child's pid.
func start(c Config, opts int, setupEnv ...string) (int, error) {
	if c.Stub != nil && c.File == nil {
		return 0, errors.New("an embedded program's stub can be skipped only in the file the caller opened (Config.File)")
	}
	env := append(append([]string(nil), c.Env...), setupEnv...)
	prog := c.File
	if prog == nil {
		// Only to hold descriptor 3; the child executes c.Path by name.
		f, err := os.Open(os.DevNull)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		prog = f
		env = append(env, envPath+"="+c.Path)
	}
	launcher := c.Launcher
	if launcher == "" {
		launcher = "/proc/self/exe"
	}
	std := func(f, def *os.File) uintptr {
		if f == nil {
			f = def
		}
		return f.Fd()
	}
	// The child waits on a pipe until it is attached: it reads one byte
	// from fdStart before it installs anything, and exits if the pipe
	// closes first (the supervisor died).
	startR, startW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer startW.Close()
	pid, err := forkExec(launcher, c.Argv, &syscallProcAttr{
		Env:   env,
		Files: []uintptr{std(c.Stdin, os.Stdin), std(c.Stdout, os.Stdout), std(c.Stderr, os.Stderr), prog.Fd(), startR.Fd()},
	})
	startR.Close()
	if err != nil {
		return 0, fmt.Errorf("starting %s: %w", launcher, err)
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, uintptr(opts), 0, 0); e != 0 {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		wait4(pid, &ws)
		return 0, fmt.Errorf("ptrace(PTRACE_SEIZE, %d): %w", pid, e)
	}
	if _, err := startW.Write([]byte{1}); err != nil {
		return 0, fmt.Errorf("starting %s: %w", launcher, err)
	}
	return pid, nil
}

// tracer follows the supervised child and everything it starts.
type tracer struct {
	h        handler
	started  func(exe string)
	identify bool // read each executable's identity at its exec (tracee.id)
	pid      int  // the supervised child: PROGRAM once it has executed
	fwd      *forwarder

	mu   sync.Mutex // guards live: killAll reads it from another goroutine
	live map[int]*tracee

	rootWS      unix.WaitStatus
	rootDone    bool
	armed       bool // the child's own SIGSTOP seen
	programRuns bool

	stub   *Stub // PROGRAM's start-up stub, skipped at its exec (Config.Stub)
	detach bool  // stop tracing PROGRAM at its exec (Enforce)
}

// killAll kills every tracee: the context ended.
func (t *tracer) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p := range t.live {
		unix.Kill(p, unix.SIGKILL)
	}
}

// tracee returns what is known of wpid, learning of it if need be: a new
// thread or child can stop before its parent's fork or clone event.
func (t *tracer) tracee(wpid int) *tracee {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.live[wpid]
	if tr == nil {
		tr = &tracee{}
		t.live[wpid] = tr
	}
	return tr
}

func (t *tracer) forget(pid int) {
	t.mu.Lock()
	delete(t.live, pid)
	t.mu.Unlock()
}

// loop waits for every tracee's stops and deaths and answers each, until
// no tracee is left; it returns PROGRAM's wait status.
func (t *tracer) loop() (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		wpid, err := wait4(-1, &ws)
		if errors.Is(err, unix.ECHILD) {
			break
		}
		if err != nil {
			return 0, err
		}
		tr := t.tracee(wpid)
		if ws.Exited() || ws.Signaled() {
			t.onExit(wpid, ws)
			continue
		}
		if !ws.Stopped() {
			continue
		}
		deliver, resume, err := t.onStop(wpid, tr, ws)
		if err != nil {
			return 0, err
		}
		if !resume {
			continue
		}
		if err := unix.PtraceCont(wpid, deliver); err != nil && !errors.Is(err, unix.ESRCH) {
			return 0, fmt.Errorf("ptrace(PTRACE_CONT, %d): %w", wpid, err)
		}
	}
	if !t.rootDone {
		return 0, errors.New("tracing ended without the program's exit status")
	}
	if !t.programRuns {
		return t.rootWS, fmt.Errorf("%w: %s", ErrNotStarted, Status(t.rootWS))
	}
	return t.rootWS, nil
}

// onExit notes that wpid is gone; PROGRAM's status is the run's.
func (t *tracer) onExit(wpid int, ws unix.WaitStatus) {
	if wpid == t.pid {
		t.rootWS, t.rootDone = ws, true
		t.fwd.programGone()
	}
	t.forget(wpid)
}

// onStop answers one ptrace stop of tr (pid wpid): the signal to deliver
// when it resumes, and whether to resume it at all (a group-stop is left in
// place).
func (t *tracer) onStop(wpid int, tr *tracee, ws unix.WaitStatus) (deliver int, resume bool, err error) {
	sig := ws.StopSignal()
	event := int(ws) >> 16 // the PTRACE_EVENT_* of the stop, or 0 (for any signal; TrapCause is -1 unless SIGTRAP)
	if t.detach && t.programRuns {
		// Detached at its exec (Enforce), PROGRAM stops here only if
		// it made the supervisor its tracer again (PTRACE_TRACEME):
		// let go of it again, passing on the signal it stopped with.
		if event != 0 {
			sig = 0
		}
		t.forget(wpid)
		if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(wpid), 0, uintptr(sig), 0, 0); e != 0 && e != unix.ESRCH {
			return 0, false, fmt.Errorf("ptrace(PTRACE_DETACH, %d): %w", wpid, e)
		}
		return 0, false, nil
	}
	if wpid == t.pid && event != unix.PTRACE_EVENT_STOP {
		t.fwd.programStopped(false) // it runs: it made a syscall, got a signal, ...
	}
	switch {
	case sig == unix.SIGTRAP && event == unix.PTRACE_EVENT_SECCOMP:
		return 0, true, t.onSeccomp(wpid, tr)
	case sig == unix.SIGTRAP && (event == unix.PTRACE_EVENT_FORK || event == unix.PTRACE_EVENT_VFORK || event == unix.PTRACE_EVENT_CLONE):
		t.onFork(wpid, tr)
	case wpid == t.pid && !t.armed && sig == unix.SIGSTOP && event == 0:
		// The child stops itself once attached, before it installs
		// its filter: any exec event of it from now on is PROGRAM's
		// (one before is the launcher's own exec, racing the seize).
		t.armed = true
	case sig == unix.SIGTRAP && event == unix.PTRACE_EVENT_EXEC:
		resume, err := t.onExec(wpid, tr)
		return 0, resume, err
	case event == unix.PTRACE_EVENT_STOP:
		return t.onEventStop(wpid, sig)
	case sig == unix.SIGTRAP && event != 0:
		// another event; nothing to deliver
	default:
		// A signal-delivery-stop: PROGRAM's own copy of a signal the
		// supervisor passes on is not to be passed on again.
		if forwards(sig) && t.fwd.inProgram(wpid) && t.fwd.ownCopy(wpid) {
			t.fwd.saw(sig)
		}
		return int(sig), true, nil
	}
	return 0, true, nil
}

// onSeccomp hands a seccomp stop of PROGRAM, its threads or children to
// the handler; the child's own stops before PROGRAM runs pass.
func (t *tracer) onSeccomp(wpid int, tr *tracee) error {
	if !t.programRuns {
		return nil
	}
	si, err := getSyscallInfo(wpid)
	if err == nil {
		err = t.h(wpid, tr, si)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}

// onFork learns of a new thread or child, which runs what its parent runs.
func (t *tracer) onFork(wpid int, tr *tracee) {
	msg, err := unix.PtraceGetEventMsg(wpid)
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := t.live[int(msg)]; n != nil {
		n.exe, n.id = tr.exe, tr.id
	} else {
		t.live[int(msg)] = &tracee{exe: tr.exe, id: tr.id}
	}
}

// onExec notes what a tracee now runs; the supervised child's first exec
// once armed is PROGRAM's. There the stub of an embedded PROGRAM is
// skipped (a failure kills PROGRAM before it runs), and with detach the
// tracer lets go of it. It returns whether to resume the tracee.
func (t *tracer) onExec(wpid int, tr *tracee) (resume bool, err error) {
	// After an exec by a non-leader thread, wpid is the thread group id
	// and the message the thread's former id.
	if msg, err := unix.PtraceGetEventMsg(wpid); err == nil && int(msg) != wpid {
		t.forget(int(msg))
	}
	tr.exe, _ = os.Readlink("/proc/" + strconv.Itoa(wpid) + "/exe")
	if t.identify {
		tr.id = identify(wpid, tr.exe)
	}
	if wpid != t.pid || !t.armed || t.programRuns {
		return true, nil
	}
	t.programRuns = true
	if t.started != nil {
		t.started(tr.exe)
	}
	if t.stub != nil {
		if err := skipStub(wpid, t.stub); err != nil {
			unix.Kill(wpid, unix.SIGKILL)
			return false, fmt.Errorf("%w: %s: %v; it was killed before it ran", ErrStub, tr.exe, err)
		}
	}
	if t.detach {
		// PROGRAM runs on its own from here, under the filter its
		// launcher installed; it stays the supervisor's child, and
		// wait4 reports its end.
		if err := unix.PtraceDetach(wpid); err != nil {
			unix.Kill(wpid, unix.SIGKILL)
			return false, fmt.Errorf("ptrace(PTRACE_DETACH, %d): %w", wpid, err)
		}
		t.forget(wpid)
		t.fwd.untrace()
		return false, nil
	}
	return true, nil
}

// onEventStop answers a seized tracee's stop that is no signal to
// deliver: the first stop of a new thread or child, or a group-stop
// (WSTOPSIG a stopping signal), which PTRACE_LISTEN leaves in place until
// SIGCONT, as without a tracer.
func (t *tracer) onEventStop(wpid int, sig unix.Signal) (deliver int, resume bool, err error) {
	if wpid == t.pid {
		t.fwd.programStopped(isStopSignal(sig))
	}
	if !isStopSignal(sig) {
		return 0, true, nil
	}
	if err := ptraceListen(wpid); err != nil && !errors.Is(err, unix.ESRCH) {
		return 0, false, fmt.Errorf("ptrace(PTRACE_LISTEN, %d): %w", wpid, err)
	}
	return 0, false, nil
}

// identify returns the identity of the executable process pid runs,
// found at path (its /proc/PID/exe link): read from the file itself,
// through the link, whatever its path now names. An executable that
// cannot be read is known by its path alone.
func identify(pid int, path string) profile.ID {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return profile.ID{Path: path}
	}
	defer f.Close()
	id, err := identity.Of(f, path)
	if err != nil {
		return profile.ID{Path: path}
	}
	return id
}

func wait4(pid int, ws *unix.WaitStatus) (int, error) {
	for {
		wpid, err := unix.Wait4(pid, ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait4: %w", err)
		}
		return wpid, nil
	}
}

func isStopSignal(sig unix.Signal) bool {
	return sig == unix.SIGSTOP || sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU
}

func ptraceListen(pid int) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_LISTEN, uintptr(pid), 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
