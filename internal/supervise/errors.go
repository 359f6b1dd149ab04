package supervise

import "errors"

// Sentinel errors. Callers test for them with errors.Is.
var (
	// ErrNotStarted: the supervised child ended before it executed PROGRAM
	// (it said why on its stderr). The returned wait status is the child's:
	// 126 PROGRAM could not be executed, 125 the child could not set up.
	ErrNotStarted = errors.New("program was not started")

	// ErrABI: the set's ABI is not one the supervisor can enforce.
	ErrABI = errors.New("cannot enforce this ABI")

	// ErrUnsupported: this operating system has no seccomp or ptrace
	// supervision: only Linux does.
	ErrUnsupported = errors.New("supervision needs Linux")

	// ErrArch: this host architecture has no supervisor support (the
	// tracer must rewrite syscall numbers, which is per architecture).
	ErrArch = errors.New("supervision is not supported on this architecture")
)
