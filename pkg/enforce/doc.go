// Package enforce installs seccomp filters compiled by pkg/filter: on a
// program about to be executed (the loader, sysrestrict-exec: Exec) or on
// the calling Go process itself (Restrict). It is the package that talks
// to the kernel; pkg/filter, which compiles, never does.
//
// # Self-restriction
//
// Restrict stacks a filter on the calling process, all threads at once
// (SECCOMP_FILTER_FLAG_TSYNC), irrevocably: the NetBSD sysrestrict call
// at run time. A Go program gives up syscalls with
//
//	set, err := bitmap.Parse(enforce.NativeABI(), "execve,execveat")
//	...
//	err = enforce.Restrict(set, filter.Errno(int(syscall.EACCES)))
//
// See examples/selfrestrict.
//
// # Exec through the gate
//
// Exec is the loader's path (docs/exec.md). The loader builds the program
// with filter.Options.Gate for NativeABI, renders the descriptor it opened
// and a fresh secret (NewSecret) into it (filter.Program.Render), and Exec
// installs it on the calling thread and at once makes the one
// execveat(fd, "", argv, envp, AT_EMPTY_PATH) the gate lets through, with
// the secret in the sixth argument register. Nothing runs in between. A
// program with nothing to enforce is exec'd the same way, without a
// filter, by ExecUnrestricted.
//
// # Failing closed
//
// Installing fails if the kernel lacks KILL_PROCESS or the program's
// action (ErrUnavailable): enforcement never degrades. A program whose
// placeholders were never rendered is refused (filter.ErrValue). Only
// Linux enforces; elsewhere Exec and Restrict return ErrUnsupported.
package enforce
