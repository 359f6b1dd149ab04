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
}
