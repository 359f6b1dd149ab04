package elfnote

import (
	"errors"
	"fmt"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Sentinel errors. Callers test for them with errors.Is; the errors
// returned wrap them with the file name and what was found.
var (
	// ErrNotELF: the file does not start with an ELF identification this
	// package understands (magic, class, data encoding, version).
	ErrNotELF = errors.New("not an ELF file")

	// ErrNoNote: the file carries no sysrestrict note (Remove).
	ErrNoNote = errors.New("no sysrestrict note")

	// ErrBadNote: the file carries a sysrestrict note that is malformed,
	// uses a reserved type or flag, appears twice, or no longer agrees with
	// the headers (a stamp damaged by strip or objcopy). It is
	// bitmap.ErrBadNote, so either package's name matches.
	ErrBadNote = bitmap.ErrBadNote

	// ErrBadAction: the note's NT_SYSRESTRICT_ACTION note is malformed or
	// not in its canonical form (docs/note-format.md). It matches
	// ErrBadNote too.
	ErrBadAction error = actionError{}

	// ErrUnsupported: a valid ELF file this package does not stamp:
	// relocatable objects, core files, extended numbering, packed files.
	ErrUnsupported = errors.New("unsupported ELF file")

	// ErrNoRoom: no strategy of docs/stamping.md found room for the note.
	ErrNoRoom = errors.New("no room for the note")

	// ErrAppendedData: the file has bytes after the end of its ELF image
	// (a self-extracting payload, a signature); stamping would lose them.
	ErrAppendedData = errors.New("data appended after the ELF image")

	// ErrDamagedStub: the file is embedded (an NT_SYSRESTRICT_EMBED note),
	// but its start-up stub is not what the note says: its PT_LOAD is
	// missing or changed, e_entry no longer points at it, or the stub's
	// code, entry or filter differ from what the note compiles to
	// (docs/embed.md, "Verification"). GNU strip run after embedding does
	// this. It also matches ErrBadNote: a damaged stamp fails closed
	// wherever a bad note does.
	ErrDamagedStub = fmt.Errorf("%w: damaged start-up stub", ErrBadNote)
)

// A FormatError reports a malformed or inconsistent ELF file, at the byte
// offset where the problem was found. Err, when set, is the sentinel the
// error matches (ErrNotELF, ErrBadNote).
type FormatError struct {
	Off int64
	Msg string
	Err error
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("%s at offset %#x", e.Msg, e.Off)
	if e.Err != nil {
		s = e.Err.Error() + ": " + s
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(off int64, format string, args ...any) error {
	return &FormatError{Off: off, Msg: fmt.Sprintf(format, args...)}
}

func badNote(off int64, format string, args ...any) error {
	return &FormatError{Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrBadNote}
}

func damagedStub(off int64, format string, args ...any) error {
	return &FormatError{Off: off, Msg: fmt.Sprintf(format, args...), Err: ErrDamagedStub}
}

// actionError is ErrBadAction: a type rather than a wrapped error, so
// that the variable needs no code at start-up (the loader links this
// package).
type actionError struct{}

func (actionError) Error() string { return ErrBadNote.Error() + ": NT_SYSRESTRICT_ACTION" }
func (actionError) Unwrap() error { return ErrBadNote }
