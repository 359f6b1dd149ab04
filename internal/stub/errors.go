package stub

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test for them with errors.Is; the errors
// returned wrap them with what was found.
var (
	// ErrABI: there is no stub for this ABI (SPEC section 5: x86_64 and
	// aarch64; any other is refused until supported).
	ErrABI = errors.New("no start-up stub for this ABI")

	// ErrFilter: the filter cannot be embedded: empty, or longer than
	// MaxFilter.
	ErrFilter = errors.New("filter cannot be embedded")

	// ErrAddress: the stub's address or the original entry cannot be
	// used: the stub address is misaligned or wraps, the entry lies inside
	// the stub, is misaligned, or is out of the stub's jump's reach.
	ErrAddress = errors.New("stub address or entry point not usable")

	// ErrNotStub: the bytes are not a stub this package built (Parse).
	ErrNotStub = errors.New("not a sysrestrict start-up stub")
)

// A FormatError reports a payload that is not a stub this package built, at
// the byte offset in the payload where it departs from one. It matches
// ErrNotStub.
type FormatError struct {
	Off int64
	Msg string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%v: %s at offset %#x", ErrNotStub, e.Msg, e.Off)
}

func (e *FormatError) Unwrap() error { return ErrNotStub }

func formatErr(off int, format string, args ...any) error {
	return &FormatError{Off: int64(off), Msg: fmt.Sprintf(format, args...)}
}

func filterErr(n int) error {
	return fmt.Errorf("%w: %d instructions, want 1 to %d (BPF_MAXINSNS)", ErrFilter, n, MaxFilter)
}
