package supervise

import (
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Status describes how a process ended, as a profile's run records it:
// "exit 0", "signal SIGSYS" ("signal SIGSYS (core dumped)").
func Status(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return "exit " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		s := "signal " + unix.SignalName(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return "status " + strconv.Itoa(int(ws))
}

// Exit ends the calling process the way PROGRAM ended, so that whoever
// waits for the supervisor sees what it would have seen without it: the
// same exit code, or death by the same signal. For a signal it restores the
// default disposition, unblocks it, turns core dumps off (the core would be
// the supervisor's, not PROGRAM's) and sends it to the calling thread; if
// the process survives that (a signal whose default is to ignore), it exits
// 128+n like a shell reports it.
func Exit(ws unix.WaitStatus) {
	switch {
	case ws.Exited():
		os.Exit(ws.ExitStatus())
	case ws.Signaled():
		sig := ws.Signal()
		// The unblocking below and the tgkill must be on one thread: a
		// goroutine moved in between sends the signal to a thread that
		// may block it, and the process exits 128+n instead of dying.
		runtime.LockOSThread()
		unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
		// struct sigaction for rt_sigaction(2): handler SIG_DFL (0),
		// flags, restorer, mask; all zero. The Go runtime's handler is
		// replaced behind its back: the process is about to die.
		var act [4]uint64
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
		var set unix.Sigset_t
		set.Val[(int(sig)-1)/64] |= 1 << ((uint(sig) - 1) % 64)
		unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_UNBLOCK, uintptr(unsafe.Pointer(&set)), 0, 8, 0, 0)
		unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
		os.Exit(128 + int(sig))
	}
	os.Exit(exitSetup)
}
