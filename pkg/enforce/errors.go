package enforce

import (
	"errors"

	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// Sentinel errors. Callers test for them with errors.Is. The compiler's
// own (filter.ErrAction, filter.ErrValue, filter.ErrTooLong, ...) come
// through unchanged.
var (
	// ErrABI: the set's or the program's ABI cannot be enforced here: not
	// one the running kernel serves for this process (or unknown). It is
	// filter.ErrABI, so one errors.Is covers both.
	ErrABI = filter.ErrABI

	// ErrUnavailable: the kernel lacks a seccomp return action the filter
	// needs. Enforcement fails rather than degrade to a weaker action.
	ErrUnavailable = errors.New("seccomp action not available in this kernel")

	// ErrNoLandlock: the kernel cannot make the Landlock domain that keeps
	// a restricted program from tracing processes outside its own tree
	// (no Landlock, disabled at boot, or ABI 1). The loader runs the
	// program without it and says so with -v.
	ErrNoLandlock = errors.New("no Landlock domain for the program")

	// ErrUnsupported: seccomp enforcement is not available on this OS.
	ErrUnsupported = errors.New("seccomp enforcement is not supported on this platform")
)
