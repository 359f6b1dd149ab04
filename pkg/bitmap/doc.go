// Package bitmap holds sysrestrict's model of a syscall policy: the ABIs a
// binary can have, their syscall tables, and the 512-bit restriction set that
// a stamped binary carries in its note.
//
// It is pure and deterministic: it builds and tests on every OS and never
// talks to the kernel.
//
// # ABIs and syscall tables
//
// An [ABI] gives syscall numbers their meaning. It comes from the ELF header
// (elfnote.ABIFor) and names the seccomp audit arch that the kernel reports for
// its syscalls. Each known ABI has a table generated from go-seccomp-bpf's
// (see internal/gen/syscalls); [ABI.Lookup] and [ABI.Name] translate.
//
// # Sets
//
// A [Set] is the restriction bitmap of SPEC section 1: bit n set means
// syscall n is restricted, plus the DENY_BEYOND flag for every number from
// 512 up. [Set.Bitmap] and [FromNote] are the exact note encoding (byte n/8,
// mask 1<<(n%8)); docs/note-format.md draws it.
//
// # Lists and groups
//
// [Parse] and [ParseAllow] read what a person writes on the command line
// (execve,ptrace; 59; 300-310; @debug). Groups are systemd's (generated from
// `systemd-analyze syscall-filter`, internal/gen/groups) plus sysrestrict's
// own ([Groups]). [Allowlist] turns allowed syscalls into restrictions,
// keeping @default.
//
// # Warnings
//
// [Warnings] gives the advice of SPEC section 2 for a set: siblings left
// allowed (execve without execveat), io_uring left open, syscalls seccomp
// cannot see, and syscalls every program needs to end.
package bitmap
