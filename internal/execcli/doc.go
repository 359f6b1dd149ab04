// Package execcli is the behaviour of sysrestrict-exec, the loader: find
// PROGRAM, open it once, read its note from that descriptor, stack --deny
// on it, compile the seccomp filter (pkg/filter) with the exec gate and
// render the descriptor and a fresh secret into it, install it on the
// loader's thread and exec that same descriptor through the gate
// (pkg/enforce).
//
// # Command line
//
// The options are parsed by hand (options.go): a flag library costs more
// start-up time than the loader's budget of 0.5 ms over a Go program that
// only execs (docs/exec.md). Options come before PROGRAM; "--" ends them.
//
// # Exit statuses
//
// PROGRAM's own once it runs; before that 125 (usage or loader error), 126
// (PROGRAM cannot be run: not executable, bad note, --require and no note,
// ABI the host cannot enforce), 127 (not found).
//
// # Supervising modes
//
// --learn and --explain dispatch through runSupervised (supervise.go), the
// one place internal/supervise plugs in.
package execcli
