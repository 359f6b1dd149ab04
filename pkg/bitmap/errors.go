package bitmap

import "errors"

// Sentinel errors. Callers test for them with errors.Is.
var (
	// ErrBadNote: a note's bitmap or flags cannot be decoded.
	ErrBadNote = errors.New("invalid sysrestrict note")

	// ErrUnknownName: a LIST names a syscall or group the ABI does not have.
	ErrUnknownName = errors.New("unknown syscall")

	// ErrRange: a LIST holds a number outside the bitmap's 0..511.
	ErrRange = errors.New("syscall number out of range")

	// ErrSyntax: a LIST item is malformed (empty, a backward range, ...).
	ErrSyntax = errors.New("malformed syscall list")

	// ErrNoNames: names were used for an ABI without a syscall table.
	ErrNoNames = errors.New("syscall names need a known ABI")
)
