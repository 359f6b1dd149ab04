package supervise

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Forwarded are the signals the supervisor passes on to PROGRAM: those a
// shell, a terminal, a service manager or a person with kill(1) sends to
// the process they started, which is the supervisor. docs/learn.md,
// "Signals", says why each, and why not the others.
var Forwarded = []unix.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGALRM, unix.SIGWINCH, unix.SIGCONT, unix.SIGTSTP,
}

// How long a copy that PROGRAM got on its own matches one the supervisor
// gets (either may be seen first), and how long the supervisor waits to
// see PROGRAM's copy of a signal that may have reached both (see
// forwarder.pass). On a machine so loaded that a traced stop goes
// unanswered for longer, a signal sent to the process group may reach
// PROGRAM twice.
const (
	matchWindow = time.Second
	settleTime  = 250 * time.Millisecond
	stopWait    = time.Second
)

// forwarder passes the signals the supervisor receives on to PROGRAM, as
// if they had been sent to it (SIGINT from a script's kill -INT $!), each
// once:
//
// A signal sent to a process group reaches every process in it: the
// terminal's ^C, ^\ and ^Z, a window size change, a hangup, a shell's fg
// or bg (SIGCONT), kill -SIG -PGID. PROGRAM is in the supervisor's group
// unless it made one of its own, so it gets such a signal itself; passing
// the supervisor's copy on too would deliver it twice (a server that
// shuts down cleanly on the first ^C and at once on the second would do
// the latter). The supervisor cannot tell how its own copy was sent (Go
// gives a handler no siginfo), but as PROGRAM's tracer it sees each
// signal PROGRAM gets, and who sent it: PROGRAM's own copy of the same
// signal, pending or seen within matchWindow, means the signal reached
// both, and the supervisor's copy is dropped. Every other copy is sent to
// PROGRAM.
//
// SIGTSTP also stops the supervisor, once PROGRAM has stopped, so that the
// shell sees its job stop; a program that ignores SIGTSTP or handles it
// without stopping keeps running, and so does the supervisor.
//
// Signals go to PROGRAM's process (a pidfd: never another process that
// reused its pid once it is gone), not to its children: a signal sent to
// a pid reaches that process only. Nothing is forwarded once PROGRAM has
// ended.
type forwarder struct {
	pid   int // PROGRAM: the supervised child
	pidfd int
	self  int
	sigs  chan os.Signal
	done  chan struct{}

	mu       sync.Mutex
	copies   map[unix.Signal][]time.Time // PROGRAM's own copies, unmatched
	stopped  bool                        // PROGRAM is in a group-stop
	gone     bool                        // PROGRAM has ended
	untraced bool                        // the tracer let go of PROGRAM (Enforce): see passUntraced
	news     chan struct{}               // poked at each change of the above
}

// forwardSignals starts passing the Forwarded signals the supervisor gets
// on to pid, until the returned forwarder's stop. Call it after the child
// is started: a signal the supervisor ignored when it started (SIGINT in
// a shell's background job) is inherited so by PROGRAM, as without a
// supervisor, while Notify makes the supervisor catch it.
func forwardSignals(pid int) *forwarder {
	f := &forwarder{pid: pid, pidfd: -1, self: os.Getpid(), sigs: make(chan os.Signal, 16), done: make(chan struct{}),
		copies: map[unix.Signal][]time.Time{}, news: make(chan struct{}, 1)}
	// The child is ours and not yet waited for: its pid cannot be reused.
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		f.pidfd = fd
	}
	notify := make([]os.Signal, len(Forwarded))
	for i, s := range Forwarded {
		notify[i] = s
	}
	signal.Notify(f.sigs, notify...)
	go f.loop()
	return f
}

// stop ends the forwarding: the signals are handled as before again.
func (f *forwarder) stop() {
	signal.Stop(f.sigs)
	close(f.sigs)
	<-f.done
	if f.pidfd >= 0 {
		unix.Close(f.pidfd)
	}
}

func (f *forwarder) loop() {
	defer close(f.done)
	for s := range f.sigs {
		sig := s.(unix.Signal)
		if f.isUntraced() {
			if f.passUntraced(sig) {
				stopSelf()
			}
			continue
		}
		f.pass(sig, time.Now())
		if sig == unix.SIGTSTP && f.waitStopped() {
			stopSelf()
		}
	}
}

// untrace tells the forwarder that the tracer let go of PROGRAM at its
// exec (Enforce): it no longer sees the signals PROGRAM gets.
func (f *forwarder) untrace() {
	f.mu.Lock()
	f.untraced = true
	f.mu.Unlock()
}

func (f *forwarder) isUntraced() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.untraced
}

// passUntraced is pass for an untraced PROGRAM, whose own copies the
// supervisor cannot see. A signal a terminal sends (SIGINT, SIGQUIT,
// SIGTSTP, SIGWINCH, SIGCONT) goes to the whole foreground process group:
// while PROGRAM is in the supervisor's group it got its own copy, and the
// supervisor's is not passed on; any other signal is. SIGTSTP and SIGCONT
// show in PROGRAM's state, so for them the supervisor looks: one that
// does not stop PROGRAM (or go on with it) within settleTime reached the
// supervisor alone, and is passed on. So `kill -INT` of the supervisor
// alone does not reach a PROGRAM in its group, and a SIGTERM or SIGHUP
// sent to the whole group reaches it twice (docs/embed.md). It reports
// whether the supervisor is to stop: at a SIGTSTP, once PROGRAM has
// stopped (or stopWait passed), so that the shell sees the job stop.
func (f *forwarder) passUntraced(sig unix.Signal) (stop bool) {
	terminal := sig == unix.SIGINT || sig == unix.SIGQUIT || sig == unix.SIGTSTP || sig == unix.SIGWINCH || sig == unix.SIGCONT
	pg, err := unix.Getpgid(f.pid)
	if !terminal || err != nil || pg != unix.Getpgrp() {
		f.send(sig)
		return sig == unix.SIGTSTP && f.waitState(true, stopWait)
	}
	switch sig {
	case unix.SIGTSTP:
		if !f.waitState(true, settleTime) {
			f.send(sig)
		}
		f.waitState(true, stopWait)
		return true
	case unix.SIGCONT:
		if !f.waitState(false, settleTime) {
			f.send(sig)
		}
	}
	return false
}

// waitState waits, up to d, for PROGRAM to be stopped (or, with stopped
// false, not stopped), and says whether it is.
func (f *forwarder) waitState(stopped bool, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		st := f.state()
		if st == 0 || (st == 'T') == stopped {
			return st != 0
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// state is PROGRAM's state letter in /proc/PID/stat (T: stopped), or 0.
func (f *forwarder) state() byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(f.pid) + "/stat")
	if err != nil {
		return 0
	}
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2]
	}
	return 0
}

// pass sends sig, received at t, on to PROGRAM, unless PROGRAM got the
// same signal itself. It looks, in this order, for a copy the tracer saw
// PROGRAM get; for one still pending in PROGRAM; and for a thread of
// PROGRAM in a ptrace stop, which may be the delivery of its copy that the
// tracer has yet to see (the kernel dequeues a signal and stops the thread
// in one step, under the siglock, so a copy that is no longer pending is
// in such a stop or was seen). While there is one, it waits for the
// tracer, up to settleTime.
func (f *forwarder) pass(sig unix.Signal, t time.Time) {
	deadline := t.Add(settleTime)
	for {
		if f.match(sig, t) || f.pending(sig) {
			return
		}
		if !f.inTraceStop() {
			if f.match(sig, t) {
				return
			}
			break
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		select {
		case <-f.news:
		case <-time.After(min(wait, 5*time.Millisecond)):
		}
	}
	f.send(sig)
}

// send sends sig to PROGRAM, if it has not ended.
func (f *forwarder) send(sig unix.Signal) {
	f.mu.Lock()
	gone := f.gone
	f.mu.Unlock()
	switch {
	case gone:
	case f.pidfd >= 0:
		unix.PidfdSendSignal(f.pidfd, sig, nil, 0)
	default:
		unix.Kill(f.pid, sig)
	}
}

// match consumes a copy of sig that PROGRAM got within matchWindow of t,
// and forgets older ones.
func (f *forwarder) match(sig unix.Signal, t time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	cs := f.copies[sig]
	for len(cs) > 0 && cs[0].Before(t.Add(-matchWindow)) {
		cs = cs[1:]
	}
	found := len(cs) > 0 && cs[0].Before(t.Add(matchWindow))
	if found {
		cs = cs[1:]
	}
	f.copies[sig] = cs
	return found
}

// saw notes that PROGRAM got a copy of sig on its own. The tracer calls
// it, at the signal-delivery-stop of a thread of PROGRAM.
func (f *forwarder) saw(sig unix.Signal) {
	f.mu.Lock()
	f.copies[sig] = append(f.copies[sig], time.Now())
	f.mu.Unlock()
	f.poke()
}

// programStopped notes that PROGRAM entered a group-stop (true) or goes
// on running (false); the tracer calls it.
func (f *forwarder) programStopped(on bool) {
	f.mu.Lock()
	changed := f.stopped != on
	f.stopped = on
	f.mu.Unlock()
	if changed {
		f.poke()
	}
}

// programGone notes that PROGRAM has ended: nothing more is sent.
func (f *forwarder) programGone() {
	f.mu.Lock()
	f.gone = true
	f.mu.Unlock()
	f.poke()
}

func (f *forwarder) poke() {
	select {
	case f.news <- struct{}{}:
	default:
	}
}

// waitStopped waits, up to stopWait, for PROGRAM to be in a group-stop,
// and says whether it is.
func (f *forwarder) waitStopped() bool {
	deadline := time.After(stopWait)
	for {
		f.mu.Lock()
		stopped, gone := f.stopped, f.gone
		f.mu.Unlock()
		switch {
		case stopped:
			return true
		case gone:
			return false
		}
		select {
		case <-f.news:
		case <-deadline:
			return false
		}
	}
}

// pending reports whether sig is pending for PROGRAM's whole thread group
// (ShdPnd in /proc/PID/status), where a signal sent to a process or a
// group waits for a thread to take it.
func (f *forwarder) pending(sig unix.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(f.pid) + "/status")
	if err != nil {
		return false
	}
	_, rest, ok := bytes.Cut(b, []byte("\nShdPnd:\t"))
	if !ok {
		return false
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	mask, err := strconv.ParseUint(string(line), 16, 64)
	return err == nil && mask&(1<<(uint(sig)-1)) != 0
}

// inTraceStop reports whether a thread of PROGRAM is in a ptrace stop
// (state t in /proc/PID/task/TID/stat).
func (f *forwarder) inTraceStop() bool {
	stats, _ := filepath.Glob("/proc/" + strconv.Itoa(f.pid) + "/task/*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ...: comm may hold anything, ')' included.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 't' {
			return true
		}
	}
	return false
}

// siginfo is the head of siginfo_t on the 64-bit ABIs the supervisor runs
// on (include/uapi/asm-generic/siginfo.h): signo, errno, code, then the
// union, 8-aligned, whose kill member starts with the sender's pid.
type siginfo struct {
	Signo, Errno, Code int32
	_                  int32
	Pid                int32
	UID                uint32
	_                  [104]byte
}

// si_code values of include/uapi/asm-generic/siginfo.h.
const (
	siUser   = 0    // SI_USER: kill(2), sent to a pid or a group
	siKernel = 0x80 // SI_KERNEL: the kernel, e.g. a terminal's ^C or hangup
)

// ownCopy reports whether the signal that tid, a thread of PROGRAM, is
// about to get came to PROGRAM on its own, rather than from the
// supervisor: sent by the kernel (a terminal) or by kill(2) from someone
// else, while PROGRAM is in the supervisor's process group (or a signal
// to the group could not have reached both). Call it at a
// signal-delivery-stop, from the tracer's thread.
func (f *forwarder) ownCopy(tid int) bool {
	var si siginfo
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(tid), 0, uintptr(unsafe.Pointer(&si)), 0, 0); e != 0 {
		return false
	}
	if !(si.Code == siKernel || si.Code == siUser && int(si.Pid) != f.self) {
		return false
	}
	pg, err := unix.Getpgid(f.pid)
	return err == nil && pg == unix.Getpgrp()
}

// forwards reports whether sig is one of Forwarded.
func forwards(sig unix.Signal) bool {
	for _, s := range Forwarded {
		if s == sig {
			return true
		}
	}
	return false
}

// inProgram reports whether tid is a thread of PROGRAM's thread group.
func (f *forwarder) inProgram(tid int) bool {
	if tid == f.pid {
		return true
	}
	_, err := os.Stat("/proc/" + strconv.Itoa(f.pid) + "/task/" + strconv.Itoa(tid))
	return err == nil
}

// stopSelf stops the supervisor as SIGTSTP's default action would:
// whoever waits for it (the shell) sees it stopped by SIGTSTP; it goes on
// at SIGCONT. In an orphaned process group the kernel does not stop it,
// as it would not stop a program there. The Go runtime's handler is put
// back afterwards.
func stopSelf() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// struct sigaction for rt_sigaction(2): handler, flags, restorer,
	// mask. SIG_DFL is 0.
	var dfl, old [4]uint64
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGTSTP), uintptr(unsafe.Pointer(&dfl)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		return
	}
	var set unix.Sigset_t
	set.Val[(int(unix.SIGTSTP)-1)/64] |= 1 << ((uint(unix.SIGTSTP) - 1) % 64)
	unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_UNBLOCK, uintptr(unsafe.Pointer(&set)), 0, 8, 0, 0)
	// Thread-directed: this thread takes it on its way back from the
	// syscall, and the whole process stops there.
	unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGTSTP)
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGTSTP), uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
}

// holdSignals makes the supervisor catch the Forwarded signals, and do
// nothing with them, until the returned function is called: after
// PROGRAM's end, while Learn writes the profile, a ^C must not end the
// supervisor before it has written it (and passed PROGRAM's status on).
func holdSignals() (release func()) {
	sigs := make(chan os.Signal, 16)
	notify := make([]os.Signal, len(Forwarded))
	for i, s := range Forwarded {
		notify[i] = s
	}
	signal.Notify(sigs, notify...)
	go func() {
		for range sigs {
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(sigs)
	}
}
