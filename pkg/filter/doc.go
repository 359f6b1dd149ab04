// Package filter compiles a set of restricted syscalls into a seccomp
// filter: a classic BPF program over struct seccomp_data. It is pure and
// deterministic, builds and is tested on every OS, and never talks to the
// kernel: it imports neither golang.org/x/sys/unix nor unsafe, and never
// looks at the running process (TestImports). Installing a program is
// pkg/enforce's job.
//
// # The program
//
// Build compiles a bitmap.Set into a program that, for every syscall,
// checks in this order (SPEC section 3; docs/filter.md draws it
// instruction by instruction):
//
//  1. seccomp_data.arch is the set's ABI's audit arch, else the action:
//     this closes the i386 int 0x80 and 32/64-bit switch bypasses;
//  2. on x86_64 a number with the x32 bit gets the action; on x32 a number
//     without it does, and the bit is stripped before what follows;
//  3. numbers from 512 up get the action if the set has DENY_BEYOND;
//  4. a number in the set gets the action; every other syscall is allowed.
//
// The bitmap is tested with a balanced tree of jge over the runs of set and
// unset numbers. Every path loads only arch and nr, except the exec gate's,
// so the kernel's action cache (Linux 5.11+) serves every allowed syscall
// at no filter cost.
//
// # Actions
//
// Kill (SECCOMP_RET_KILL_PROCESS, the default), Errno, Trap, Log and Trace
// (for a ptrace supervisor). Options.Action is the default; Options.
// Overrides gives some restricted syscalls their own, and the bitmap's
// tree is cut into runs of equal verdict, so an override costs at most
// four instructions and the program still reads only arch and nr.
// ParseAction reads an action as --action spells it, with Linux's errno
// names (ErrnoName, ErrnoNumber).
//
// # Policy and run-time values
//
// Options are the policy, known ahead of time: the action, whether the
// program holds the exec gate (and for which ABI's execveat: Build never
// guesses it from the machine it runs on), whether it holds the
// supervisor's sentinel. Values are what only the installing process
// knows: the gate's secret and descriptor, the sentinel's number. Build
// compiles a placeholder for each, at a place fixed by the options alone;
// Program.Render writes the values in. So a program compiled at stamp time
// keeps its shape, and a loader or start-up stub has only those words to
// fill in (gVisor's precompiledseccomp works the same way; TestFixedShape
// compiles with two sets of stand-ins and checks that only the
// placeholders' words differ).
//
// # The exec gate
//
// With Options.Gate, exactly one execveat is allowed although the set
// restricts it: the loader's execveat(fd, "", argv, envp, AT_EMPTY_PATH)
// with the secret in the sixth argument register, which execveat does not
// use. docs/exec.md explains why no other process can pass the gate.
//
// # Reading a program
//
// Program.String and Disassemble print a readable disassembly,
// Program.Bytes the struct sock_filter records seccomp-tools reads. Eval
// runs a program on one syscall as the kernel does; ConstAllow is the
// same evaluator as the kernel's action-cache emulator runs it.
package filter
