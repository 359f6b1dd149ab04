// Package enforce turns a set of restricted syscalls into a seccomp filter
// and installs it: on a program about to be executed (the loader,
// sysrestrict-exec) or on the calling Go process itself (Restrict).
//
// # The filter
//
// Build compiles a bitmap.Set into a classic BPF program that, for every
// syscall, checks in this order (SPEC section 3; docs/filter.md draws it
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
// (for a ptrace supervisor). Installing fails if the kernel lacks
// KILL_PROCESS or the chosen action: enforcement never degrades.
//
// # The exec gate
//
// With Options.Secret set, exactly one execveat is allowed although the set
// restricts it: the loader's execveat(Fd, "", argv, envp, AT_EMPTY_PATH)
// with the secret in the sixth argument register, which execveat does not
// use. Exec installs the filter on the calling thread and makes that call
// at once. docs/exec.md explains why no other process can pass the gate.
//
// # Self-restriction
//
// Restrict stacks a filter on the calling process, all threads at once
// (SECCOMP_FILTER_FLAG_TSYNC), irrevocably. See examples/selfrestrict.
//
// Only Linux enforces; elsewhere Exec and Restrict return ErrUnsupported.
// Build and the Filter methods are pure and work everywhere.
package enforce
