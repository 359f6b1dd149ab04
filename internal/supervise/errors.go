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

	// ErrStub: an embedded program's start-up stub could not be skipped
	// at its exec exactly as the note says (the memory at AT_ENTRY is not
	// the stub, the registers or the auxiliary vector are not what the
	// kernel leaves); the program was killed before any of it ran.
	ErrStub = errors.New("cannot skip the start-up stub")

	// ErrArch: this host architecture has no supervisor support (the
	// tracer must rewrite syscall numbers, which is per architecture).
	ErrArch = errors.New("supervision is not supported on this architecture")
)
