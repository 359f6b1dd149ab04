// Package layering has no code of its own: its tests check the module's
// layering rules of docs/design.md ("Layers") over every package's
// source, so that a change that breaks one fails go test rather than a
// review.
//
// # Who talks to the kernel
//
// Seccomp, prctl, ptrace, raw syscalls (the loader's gated and ungated
// execveat, getrandom for the gate's secret) and unsafe are in
// pkg/enforce and internal/supervise only. internal/execcli and
// pkg/elfnote make file syscalls through golang.org/x/sys/unix and
// syscall (open, stat, pread, fsync, extended attributes), and execcli
// execs the supervisor by path (syscall.Exec), nothing else;
// internal/stampcli and internal/policy read file identities
// (syscall.Stat_t). Every other package of the tools imports none of
// unix, syscall and unsafe. internal/hostcap (which probes the host
// kernel for tests), internal/testutil (which makes FIFOs for tests), the
// example and the benchmark programs are outside the rule.
package layering
