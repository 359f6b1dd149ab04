package enforce

import "errors"

// Sentinel errors. Callers test for them with errors.Is.
var (
	// ErrABI: the set's ABI cannot be enforced (Unknown, or not one the
	// running kernel serves for this process).
	ErrABI = errors.New("ABI cannot be enforced")

	// ErrAction: an Action that is not valid (errno 0 or above 4095, ...).
	ErrAction = errors.New("invalid seccomp action")

	// ErrUnavailable: the kernel lacks a seccomp return action the filter
	// needs. Enforcement fails rather than degrade to a weaker action.
	ErrUnavailable = errors.New("seccomp action not available in this kernel")

	// ErrTooLong: the program exceeds BPF_MAXINSNS.
	ErrTooLong = errors.New("seccomp filter too long")

	// ErrUnsupported: seccomp enforcement is not available on this OS.
	ErrUnsupported = errors.New("seccomp enforcement is not supported on this platform")
)
