package filter

import "errors"

// Sentinel errors. Callers test for them with errors.Is.
var (
	// ErrABI: an ABI the compiler does not know (the set's, or the exec
	// gate's: one without an execveat number).
	ErrABI = errors.New("ABI cannot be enforced")

	// ErrGateABI: the exec gate was asked for without the ABI of the
	// loader's execveat (Options.GateABI). Build is a pure function: it
	// does not guess the running process's ABI, which need not be the
	// one the program is for (a stamper on amd64 compiling for aarch64).
	ErrGateABI = errors.New("exec gate without the ABI of its execveat")

	// ErrAction: an Action that is not valid (errno 0 or above 4095, ...).
	ErrAction = errors.New("invalid seccomp action")

	// ErrOverride: an override (Options.Overrides) of a syscall the set
	// does not restrict, or of a number outside 0..511.
	ErrOverride = errors.New("override of a syscall that is not restricted")

	// ErrTooLong: the program exceeds BPF_MAXINSNS.
	ErrTooLong = errors.New("seccomp filter too long")

	// ErrValue: a run-time value (Values) is missing or invalid: a zero
	// secret, a negative descriptor, a sentinel that is 0 or the gate's
	// own execveat, or a program installed before Render filled in its
	// placeholders.
	ErrValue = errors.New("invalid run-time value for the filter")
)
