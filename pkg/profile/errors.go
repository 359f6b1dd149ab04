package profile

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test for them with errors.Is.
var (
	// ErrVersion: the profile's version is not one this package reads.
	ErrVersion = errors.New("unsupported profile version")

	// ErrNoABI: the profile records no syscall of the requested ABI, e.g.
	// an i386 profile offered for an x86_64 binary.
	ErrNoABI = errors.New("profile has no syscalls for this ABI")

	// ErrNoExecutable: the profile records nothing of the executable a
	// stamp is for, nor of anything that ran under it (Profile.For):
	// e.g. it was learned from another build.
	ErrNoExecutable = errors.New("profile has no syscalls of this executable")

	// ErrBeyond: the profile records syscall numbers >= bitmap.Size, which
	// no note can allow one by one (an allowlist sets DENY_BEYOND).
	ErrBeyond = errors.New("profile records syscall numbers beyond the bitmap")
)

// FormatError reports a malformed profile. Offset is the byte offset in the
// input where the problem was found, with its Line and Column (1-based),
// or -1 when it is a property of a decoded field. Field, when set, names
// the field (e.g. "syscalls[3].name").
type FormatError struct {
	Offset       int64
	Line, Column int // of Offset; 0 when Offset is -1
	Field        string
	Msg          string
}

func (e *FormatError) Error() string {
	msg := e.Msg
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	switch {
	case e.Offset >= 0 && e.Line > 0:
		return fmt.Sprintf("malformed profile at byte %d (line %d, column %d): %s", e.Offset, e.Line, e.Column, msg)
	case e.Offset >= 0:
		return fmt.Sprintf("malformed profile at byte %d: %s", e.Offset, msg)
	case e.Field != "":
		return fmt.Sprintf("malformed profile: %s: %s", e.Field, e.Msg)
	}
	return "malformed profile: " + e.Msg
}
