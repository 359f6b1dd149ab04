// Package supervise runs a program under a supervisor: the --learn,
// --explain and --audit modes of sysrestrict-exec. docs/learn.md describes
// the design and the measurements behind it.
//
// # The supervised child
//
// The supervisor starts Config.Launcher (the running executable, which must
// call [Init] first thing in main) with a filter in its environment and
// attaches to it with PTRACE_SEIZE; Init waits for that, installs the
// filter and executes PROGRAM. Under Record and Explain every thread
// and child of PROGRAM is traced from its first instruction
// (PTRACE_O_TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC) and dies if the
// supervisor dies (PTRACE_O_EXITKILL).
//
// # Learning
//
// [Record] and [Learn] install a filter that answers SECCOMP_RET_TRACE to
// every syscall, and note the ABI, number and executable of each at its
// seccomp stop. Learn merges the result into a profile file (pkg/profile).
//
// # Explaining
//
// [Explain] installs the enforcing filter of pkg/filter with the action
// SECCOMP_RET_TRACE, so only restricted syscalls stop. At such a stop it
// reports the syscall and rewrites its number to a sentinel that a second
// filter kills on: the kernel's re-check of the filters after the stop kills
// the process with SIGSYS before the syscall runs.
//
// # Auditing
//
// [Audit] installs the enforcing filter with SECCOMP_RET_USER_NOTIF as the
// action, takes the filter's listener from the child before PROGRAM runs,
// and detaches: every restricted syscall of PROGRAM and all it starts is
// recorded (by executable, from /proc/PID/exe, checked with
// SECCOMP_IOCTL_NOTIF_ID_VALID) and answered
// SECCOMP_USER_NOTIF_FLAG_CONTINUE. [AuditTo] merges the result into a
// profile file.
//
// # Embedded programs
//
// An embedded PROGRAM (sysrestrict-stamp --embed) would install its own
// filter from its start-up stub, whose kill outranks the supervisor's
// SECCOMP_RET_TRACE. With Config.Stub the tracer starts it past the stub
// at its exec stop, rewriting AT_ENTRY (where ld.so jumps) and, when the
// kernel entered the program itself, the program counter, after checking
// that the memory there is the stub. [Enforce] does the same for the
// loader's filter with another action than kill (log, errno, trap): its
// child installs that filter as the loader does, and the supervisor
// detaches at the exec.
//
// # Exit status
//
// Learn, Explain and Audit return PROGRAM's wait status; [Exit] ends the caller
// the same way (same code, or death by the same signal).
//
// Only Linux supervises; elsewhere every entry point fails with
// [ErrUnsupported].
package supervise
