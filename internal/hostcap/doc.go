// Package hostcap probes what the running kernel can do that hosts of the
// same kind differ in, so that a test skips only what this host's kernel
// cannot do, and says which capability and how it was probed.
//
// # Why
//
// Two machines of one kind can disagree: on one, 32-bit x86 programs run;
// on another (same kernel build, IA-32 emulation switched off at run time)
// execve(2) of the same file fails with ENOEXEC. A test that runs an i386
// fixture must then skip, and everything about that fixture that needs no
// kernel (parsing, stamping, the filter in the BPF model) must still be
// checked. A missing tool is not a capability: CI installs tools, so a
// test that needs one fails without it.
//
// # Use
//
// In a test:
//
//	hostcap.Need(t, hostcap.I386Exec)
//
// skips with "host kernel cannot exec an i386 ELF (probed: execve of a
// minimal i386 ELF: exec format error)". Outside tests, [Probe] returns the
// same facts; `go run ./internal/hostcap/probe` prints them, for shell
// scripts (testdata/elf/check.sh, scripts/bench.sh).
//
// Each probe runs once per process and caches its answer. Probes never
// install a seccomp filter or Landlock domain in the calling process.
package hostcap
