package supervise

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// Audit runs PROGRAM under the filter of note ∪ deny (SPEC section 3, as
// Explain), with SECCOMP_RET_USER_NOTIF as the action: a restricted
// syscall of PROGRAM, its threads or children waits for the supervisor,
// which records it (name, number, ABI, executable, thread) and answers
// SECCOMP_USER_NOTIF_FLAG_CONTINUE: it runs as without the filter. Allowed
// syscalls never leave the kernel: the filter reads only arch and nr, so
// the action cache serves them. docs/learn.md, "--audit", describes the
// design: how the supervisor gets the listener, and why PROGRAM can never
// reach it.
//
// If the supervisor dies, nothing is loosened: the kernel fails every
// restricted syscall with ENOSYS from then on, without running it.
//
// It returns when PROGRAM and everything it started are gone, with
// PROGRAM's wait status.
func Audit(ctx context.Context, c Config, note, deny bitmap.Set) (*AuditReport, unix.WaitStatus, error) {
	abi := note.ABI()
	set := note.Union(deny.WithABI(abi))
	f, err := filter.Build(set, filter.Options{Action: filter.UserNotif()})
	if err != nil {
		return nil, 0, err
	}
	a := &auditor{listener: -1, hits: map[hitKey]*Hit{}, exes: map[exeKey]profile.ID{}, served: make(chan struct{})}
	rec := profile.Run{Mode: profile.ModeAudit, Argv: c.Argv, ABI: abi, Time: time.Now()}

	// Set-up, on one locked thread (the tracer): start the child, take
	// its listener, let it execute PROGRAM, detach. EXITKILL kills the
	// child if the supervisor dies meanwhile.
	type setup struct {
		pid int
		ws  unix.WaitStatus
		err error
	}
	started := make(chan setup, 1)
	handed := make(chan setup, 1)
	go func() {
		runtime.LockOSThread()
		pid, err := start(c, auditSeizeOptions, installing(f.Instructions()).env, envListener+"=1")
		started <- setup{pid, 0, err}
		if err != nil {
			runtime.UnlockOSThread()
			return
		}
		ws, err := a.handOver(pid)
		if err == nil || errors.Is(err, ErrNotStarted) {
			runtime.UnlockOSThread()
		}
		handed <- setup{pid, ws, err}
	}()
	s := <-started
	if s.err != nil {
		return nil, 0, s.err
	}
	// The signals the supervisor gets go on to PROGRAM, as under
	// --learn; once PROGRAM runs, untraced, as under Enforce.
	fwd := forwardSignals(s.pid)
	defer fwd.stop()
	defer context.AfterFunc(ctx, func() { unix.Kill(s.pid, unix.SIGKILL) })()
	if s = <-handed; s.err != nil {
		if !errors.Is(s.err, ErrNotStarted) {
			// Killed by handOver, or by EXITKILL as its thread ended:
			// reaped here, it no longer holds the filter.
			var ws unix.WaitStatus
			unix.Kill(s.pid, unix.SIGKILL)
			wait4(s.pid, &ws)
		}
		if a.listener >= 0 {
			<-a.served // the child is gone: so is every user of the filter
		}
		return nil, s.ws, s.err
	}
	rec.Executable = a.program.Path
	fwd.untrace()

	// PROGRAM runs, untraced; the supervisor is its parent.
	ws, err := waitProgram(s.pid, fwd)
	if err != nil {
		return nil, 0, err
	}
	<-a.served // until every process under the filter is gone
	if a.err != nil {
		return nil, ws, fmt.Errorf("the audit listener failed (restricted syscalls made after it fail with ENOSYS): %w", a.err)
	}
	rec.Status = Status(ws)
	r := &AuditReport{Program: a.program, Profile: &profile.Profile{Runs: []profile.Run{rec}}}
	for _, h := range a.hits {
		r.Hits = append(r.Hits, *h)
		if h.Nr >= 0 {
			r.Profile.Add(h.Exe, a.program, h.ABI, h.Nr, h.Count)
		}
	}
	slices.SortFunc(r.Hits, func(x, y Hit) int {
		return cmp.Or(cmp.Compare(x.Exe.Path, y.Exe.Path), cmp.Compare(x.Exe.BuildID, y.Exe.BuildID),
			cmp.Compare(x.ABI, y.ABI), cmp.Compare(x.Nr, y.Nr))
	})
	return r, ws, ctx.Err()
}

// AuditTo audits PROGRAM like Audit and merges what it recorded into the
// profile file at profilePath (created if missing, written atomically),
// which is checked before PROGRAM starts (CheckProfile), as Learn does.
// The profile is written whatever PROGRAM's exit status, but not when it
// never started or the supervision failed. When the run was audited but
// could not be merged, the report comes back with a *ProfileError naming
// the file its profile was saved in instead.
func AuditTo(ctx context.Context, c Config, note, deny bitmap.Set, profilePath string) (*AuditReport, unix.WaitStatus, error) {
	if err := CheckProfile(profilePath); err != nil {
		return nil, 0, err
	}
	r, ws, err := Audit(ctx, c, note, deny)
	if err != nil {
		return nil, ws, err
	}
	defer holdSignals()()
	if err := profile.Update(profilePath, r.Profile); err != nil {
		saved, _ := save(r.Profile)
		return r, ws, &ProfileError{Path: profilePath, Err: err, Saved: saved}
	}
	return r, ws, nil
}

// waitProgram waits for PROGRAM (pid, the supervisor's untraced child) to
// end, and tells fwd, which sends nothing more.
func waitProgram(pid int, fwd *forwarder) (unix.WaitStatus, error) {
	defer fwd.programGone()
	var ws unix.WaitStatus
	_, err := wait4(pid, &ws)
	return ws, err
}

// auditSeizeOptions are the set-up's ptrace options: syscall stops marked
// (PTRACE_O_TRACESYSGOOD) to see the child's seccomp(2) return its
// listener, its exec as an event, its death if the supervisor dies. No
// fork, clone or seccomp events: only the child's own thread is traced,
// and only until PROGRAM's exec.
const auditSeizeOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL

// auditor is Audit's state.
type auditor struct {
	listener int           // the listener, in the supervisor; -1 until taken
	started  atomic.Bool   // PROGRAM has executed: its notifications are recorded
	program  profile.ID    // PROGRAM's identity, set before started
	served   chan struct{} // closed when serve ends
	err      error         // why serve ended early; read after served

	hits map[hitKey]*Hit
	exes map[exeKey]profile.ID // identities read, by what stat said of /proc/PID/exe
}

type hitKey struct {
	exe profile.ID
	abi bitmap.ABI
	nr  int
}

// exeKey is what the supervisor reads of /proc/PID/exe at each hit: where
// the link points, and the file's device, inode, size and modification
// time. It identifies the file as well as its build ID and size would, at
// the cost of two syscalls.
type exeKey struct {
	path     string
	dev, ino uint64
	size     int64
	mtime    unix.Timespec
}

// handOver follows the child (pid, traced) from its first stop to
// PROGRAM's exec: at the exit of its seccomp(2) with
// SECCOMP_FILTER_FLAG_NEW_LISTENER it takes the listener the call returned
// (pidfd_getfd: the child's descriptor is close-on-exec, and the child's
// next syscall, which may be restricted, already finds the supervisor
// listening), then at PROGRAM's exec event records PROGRAM's identity and
// detaches. From then on nothing traces PROGRAM.
func (a *auditor) handOver(pid int) (unix.WaitStatus, error) {
	armed, entered := false, false
	for {
		var ws unix.WaitStatus
		if _, err := wait4(pid, &ws); err != nil {
			return 0, err
		}
		if ws.Exited() || ws.Signaled() {
			return ws, fmt.Errorf("%w: %s", ErrNotStarted, Status(ws))
		}
		if !ws.Stopped() {
			continue
		}
		sig, event, deliver := ws.StopSignal(), int(ws)>>16, 0
		switch {
		case int(sig) == int(unix.SIGTRAP)|0x80:
			if err := a.onSyscallStop(pid, &entered); err != nil {
				unix.Kill(pid, unix.SIGKILL)
				return 0, err
			}
		case !armed && sig == unix.SIGSTOP && event == 0:
			armed = true // Init stopped itself: from now on, its syscalls
		case sig == unix.SIGTRAP && event == unix.PTRACE_EVENT_EXEC && armed:
			if a.listener < 0 {
				unix.Kill(pid, unix.SIGKILL)
				return 0, errors.New("the supervised child executed PROGRAM without a listener")
			}
			path, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
			a.program = identify(pid, path)
			a.started.Store(true)
			if err := unix.PtraceDetach(pid); err != nil {
				unix.Kill(pid, unix.SIGKILL)
				return 0, fmt.Errorf("ptrace(PTRACE_DETACH, %d): %w", pid, err)
			}
			return 0, nil
		case event == unix.PTRACE_EVENT_STOP && isStopSignal(sig):
			if err := ptraceListen(pid); err != nil && !errors.Is(err, unix.ESRCH) {
				return 0, fmt.Errorf("ptrace(PTRACE_LISTEN, %d): %w", pid, err)
			}
			continue
		case sig == unix.SIGTRAP && event != 0, event == unix.PTRACE_EVENT_STOP:
			// the launcher's own exec (racing the seize), a new-tracee stop
		default:
			deliver = int(sig)
		}
		resume := unix.PtraceCont
		if armed && a.listener < 0 {
			resume = unix.PtraceSyscall
		}
		if err := resume(pid, deliver); err != nil && !errors.Is(err, unix.ESRCH) {
			return 0, fmt.Errorf("ptrace(resume, %d): %w", pid, err)
		}
	}
}

// onSyscallStop handles a syscall stop of the child: entered says the
// syscall that stopped at its entry asks for a listener.
func (a *auditor) onSyscallStop(pid int, entered *bool) error {
	si, err := getSyscallInfoAny(pid)
	if err != nil {
		return err
	}
	switch si.Op {
	case unix.PTRACE_SYSCALL_INFO_ENTRY:
		*entered = si.Nr == unix.SYS_SECCOMP && uint32(si.Args[0]) == unix.SECCOMP_SET_MODE_FILTER &&
			si.Args[1]&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
	case unix.PTRACE_SYSCALL_INFO_EXIT:
		if !*entered {
			return nil
		}
		*entered = false
		rval, isError := int64(si.Nr), uint8(si.Args[0]) != 0
		if isError || rval < 0 {
			return nil // the child says why, and exits
		}
		fd, err := takeFd(pid, int(rval))
		if err != nil {
			return err
		}
		a.listener = fd
		// The notifying thread and the supervisor take turns: a
		// synchronous wake-up (Linux 6.6) runs the supervisor on the
		// waker's CPU. Only a speed-up: older kernels refuse it.
		notifSyncWakeUp(fd)
		go a.serve(fd)
	}
	return nil
}

// takeFd duplicates descriptor fd of process pid into the supervisor
// (pidfd_getfd(2), Linux 5.6; the copy is close-on-exec).
func takeFd(pid, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(pidfd)
	n, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd_getfd(%d, %d): %w", pid, fd, err)
	}
	return n, nil
}

// serve answers every notification on listener fd until no process uses
// the filter any more: it records each one from PROGRAM on and lets it
// run. Whatever ends it, the listener is closed, and the kernel fails
// the restricted syscalls made after that with ENOSYS.
func (a *auditor) serve(fd int) {
	defer close(a.served)
	defer unix.Close(fd)
	for {
		ok, err := waitNotif(fd)
		if err != nil {
			a.err = err
			return
		}
		if !ok {
			return
		}
		var n seccompNotif
		if err := notifRecv(fd, &n); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // killed while it waited
			}
			a.err = fmt.Errorf("ioctl(SECCOMP_IOCTL_NOTIF_RECV): %w", err)
			return
		}
		if a.started.Load() {
			a.record(fd, &n)
		} // else: the child's own syscall before PROGRAM (its exec, say)
		if err := notifContinue(fd, n.ID); err != nil && !errors.Is(err, unix.ENOENT) {
			a.err = fmt.Errorf("ioctl(SECCOMP_IOCTL_NOTIF_SEND): %w", err)
			return
		}
	}
}

// record counts notification n. Nothing of the syscall is read from the
// task's memory and nothing is decided: every notification is answered
// CONTINUE. A thread that changes memory while another waits here changes
// nothing the supervisor looks at (the number and arch come from the
// kernel's copy of the registers), which is what makes CONTINUE safe here
// (seccomp_unotify(2) warns against deciding on memory and continuing).
func (a *auditor) record(fd int, n *seccompNotif) {
	abi, nr := abiOf(n.Data.Arch, uint64(uint32(n.Data.Nr)))
	exe := a.exe(int(n.Pid))
	if !notifValid(fd, n.ID) {
		exe = profile.ID{} // the task died meanwhile: its pid may be another's now
	}
	k := hitKey{exe, abi, nr}
	h := a.hits[k]
	if h == nil {
		h = &Hit{Exe: exe, ABI: abi, Nr: nr, Arch: n.Data.Arch}
		a.hits[k] = h
	}
	h.Count++
	if len(h.Pids) < maxPids && !slices.Contains(h.Pids, int(n.Pid)) {
		h.Pids = append(h.Pids, int(n.Pid))
	}
}

// exe returns the identity of what thread tid runs, reading the file
// only the first time it is seen.
func (a *auditor) exe(tid int) profile.ID {
	link := "/proc/" + strconv.Itoa(tid) + "/exe"
	path, err := os.Readlink(link)
	if err != nil {
		return profile.ID{}
	}
	var st unix.Stat_t
	if err := unix.Stat(link, &st); err != nil {
		return profile.ID{Path: path}
	}
	k := exeKey{path, st.Dev, st.Ino, st.Size, st.Mtim}
	if id, ok := a.exes[k]; ok {
		return id
	}
	id := identify(tid, path)
	a.exes[k] = id
	return id
}

// Undumpable makes the calling process undumpable (PR_SET_DUMPABLE 0):
// a process without CAP_SYS_PTRACE can no longer ptrace it, read its
// memory or take its descriptors (pidfd_getfd, /proc/PID/fd), whatever
// its uid. The --audit supervisor calls it before it starts PROGRAM, as
// a second wall around its listener where the kernel gives PROGRAM no
// Landlock domain. It takes nothing from the supervisor but core dumps.
func Undumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}
