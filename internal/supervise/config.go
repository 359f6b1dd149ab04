package supervise

import (
	"io"
	"os"
)

// Config says what to run under supervision.
type Config struct {
	// Path names PROGRAM: where it was found (execvp rules are the
	// caller's). When File is nil the child executes PROGRAM by this
	// name, as a shell would, so a script sees its own name in $0; that
	// is what Learn wants, where nothing is enforced.
	Path string
	// File is PROGRAM already opened by the caller (who read its note
	// from it); the child executes exactly this open file (execveat with
	// AT_EMPTY_PATH), so it cannot be swapped after the note was read.
	// Explain callers should set it. Optional.
	File *os.File
	// Argv is PROGRAM's argument vector, argv[0] included.
	Argv []string
	// Env is PROGRAM's environment. Nil means none.
	Env []string
	// Stdin, Stdout, Stderr are PROGRAM's standard files; nil means the
	// supervisor's own.
	Stdin, Stdout, Stderr *os.File
	// Log receives the supervisor's own lines (explain's reports); nil
	// means os.Stderr.
	Log io.Writer
	// Launcher is the executable started as the supervised child; it must
	// call Init first thing. Empty means /proc/self/exe.
	Launcher string
	// Stub, for an embedded PROGRAM (SPEC section 5), is its start-up
	// stub: at PROGRAM's exec the supervisor makes it start at its
	// original entry point instead, so that the supervisor's filter, which
	// enforces the same note, decides every syscall (docs/embed.md).
	// Requires File. Nil for any other PROGRAM.
	Stub *Stub
}

// Stub is where an embedded program's start-up stub is and where it would
// jump: what the loader read from the NT_SYSRESTRICT_EMBED note and
// checked against the file.
type Stub struct {
	Addr    uint64 // the stub's p_vaddr, unbiased: the program's e_entry
	Entry   uint64 // the original e_entry, where the stub jumps
	Payload []byte // the stub's bytes, as the file holds them
	Fixed   bool   // ET_EXEC: loaded at its p_vaddr, no load bias
}
