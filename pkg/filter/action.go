package filter

import (
	"fmt"
	"strconv"
	"strings"
)

// Action is what a restricted syscall gets. The zero value is Kill.
type Action struct {
	kind actionKind
	data uint16
}

type actionKind uint8

const (
	kindKill actionKind = iota
	kindErrno
	kindTrap
	kindLog
	kindTrace
	kindUserNotif
)

// Kill returns the action SECCOMP_RET_KILL_PROCESS: the whole process dies
// of SIGSYS. It is the default.
func Kill() Action { return Action{kind: kindKill} }

// Errno returns the action SECCOMP_RET_ERRNO: the syscall is not run and
// returns -errno. errno must be 1..4095 (the kernel's MAX_ERRNO).
func Errno(errno int) Action {
	if errno < 0 || errno > 0xffff {
		errno = 0 // rejected by Build
	}
	return Action{kind: kindErrno, data: uint16(errno)}
}

// Trap returns the action SECCOMP_RET_TRAP: the thread gets a SIGSYS it may
// catch.
func Trap() Action { return Action{kind: kindTrap} }

// Log returns the action SECCOMP_RET_LOG: the syscall runs and the kernel
// logs it (audit mode).
func Log() Action { return Action{kind: kindLog} }

// Trace returns the action SECCOMP_RET_TRACE with the given data: a ptrace
// tracer using PTRACE_O_TRACESECCOMP is told, and sees data as the event
// message. Without a tracer the syscall fails with ENOSYS.
func Trace(data uint16) Action { return Action{kind: kindTrace, data: data} }

// UserNotif returns the action SECCOMP_RET_USER_NOTIF: the syscall waits
// for the filter's listener to answer it (--audit answers "continue": the
// syscall runs, and is recorded). Without a listener it fails with ENOSYS.
func UserNotif() Action { return Action{kind: kindUserNotif} }

// Ret returns the seccomp return value of the action.
func (a Action) Ret() uint32 {
	switch a.kind {
	case kindErrno:
		return SECCOMP_RET_ERRNO | uint32(a.data)
	case kindTrap:
		return SECCOMP_RET_TRAP
	case kindLog:
		return SECCOMP_RET_LOG
	case kindTrace:
		return SECCOMP_RET_TRACE | uint32(a.data)
	case kindUserNotif:
		return SECCOMP_RET_USER_NOTIF
	}
	return SECCOMP_RET_KILL_PROCESS
}

func (a Action) valid() error {
	if a.kind == kindErrno && (a.data == 0 || a.data > 4095) {
		return fmt.Errorf("%w: errno %d is not in 1..4095", ErrAction, a.data)
	}
	return nil
}

// String returns the action as --action takes it: kill, errno=38, trap,
// log; or trace=7, user_notif (the supervisors' actions).
func (a Action) String() string {
	switch a.kind {
	case kindErrno:
		return "errno=" + strconv.Itoa(int(a.data))
	case kindTrap:
		return "trap"
	case kindLog:
		return "log"
	case kindTrace:
		return "trace=" + strconv.Itoa(int(a.data))
	case kindUserNotif:
		return "user_notif"
	}
	return "kill"
}

// Name returns the action as --action takes it, an errno by its name
// where Linux has one: kill, errno=ENOSYS, errno=4000, trap, log,
// trace=7.
func (a Action) Name() string {
	if a.kind == kindErrno {
		if n := ErrnoName(int(a.data)); n != "" {
			return "errno=" + n
		}
	}
	return a.String()
}

// IsErrno reports whether the action is Errno, and with which errno.
func (a Action) IsErrno() (int, bool) { return int(a.data), a.kind == kindErrno }

// ParseAction parses an action as --action takes it: kill, errno (ENOSYS),
// errno=NAME (EPERM, eperm, an alias such as EWOULDBLOCK, or a number
// 1..4095), trap, log. Its errors match ErrAction and, for an unknown
// errno name, suggest the closest ones.
func ParseAction(s string) (Action, error) {
	name, arg, hasArg := strings.Cut(s, "=")
	switch {
	case name == "kill" && !hasArg:
		return Kill(), nil
	case name == "trap" && !hasArg:
		return Trap(), nil
	case name == "log" && !hasArg:
		return Log(), nil
	case name == "errno" && !hasArg:
		return Errno(errnoENOSYS), nil
	case name == "errno":
		return parseErrno(arg)
	}
	return Action{}, fmt.Errorf("%w: %q: want kill, errno[=NAME], trap or log", ErrAction, s)
}

// errnoENOSYS is ENOSYS, the errno of a bare "errno": what the kernel
// returns for a syscall it does not have.
const errnoENOSYS = 38

// parseErrno returns the Errno action of an errno name or number.
func parseErrno(s string) (Action, error) {
	if n, ok := ErrnoNumber(s); ok {
		return Errno(n), nil
	}
	if _, err := strconv.Atoi(s); err == nil {
		return Action{}, fmt.Errorf("%w: errno %s is not in 1..4095", ErrAction, s)
	}
	hint := ""
	if c := closestErrnos(s); len(c) > 0 {
		hint = "; did you mean " + strings.Join(c, " or ") + "?"
	}
	return Action{}, fmt.Errorf("%w: unknown errno %q (give a name like EPERM or ENOSYS, or a number 1..4095)%s", ErrAction, s, hint)
}

// RetName names a seccomp return value as the disassembly does:
// KILL_PROCESS, ERRNO(38), TRACE(7), ALLOW, ...; "" for a value that is
// no action.
func RetName(k uint32) string {
	data := k & SECCOMP_RET_DATA
	switch k & SECCOMP_RET_ACTION_FULL {
	case SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS"
	case SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD"
	case SECCOMP_RET_TRAP:
		return "TRAP"
	case SECCOMP_RET_ERRNO:
		return "ERRNO(" + strconv.Itoa(int(data)) + ")"
	case SECCOMP_RET_TRACE:
		return "TRACE(" + strconv.Itoa(int(data)) + ")"
	case SECCOMP_RET_USER_NOTIF:
		return "USER_NOTIF"
	case SECCOMP_RET_LOG:
		return "LOG"
	case SECCOMP_RET_ALLOW:
		return "ALLOW"
	}
	return ""
}
