package execcli

import (
	"bytes"
	"errors"
	"strconv"
)

// A #! script is run the way the kernel runs it (fs/binfmt_script.c,
// load_script), but by the loader: it reads the #! line from the script it
// opened, opens the interpreter, checks it as it checks any PROGRAM (its
// note, if it carries one, is enforced) and executes the interpreter's
// descriptor with the argument vector the kernel would build:
//
//	interpreter [optional-arg] script-path arg...
//
// So nothing is executed by path: a file renamed over the script between
// the check and the exec cannot run in its place (the interpreter reads
// the script by path, as it does when the kernel starts it, and a binary
// put there is text to it). The script sees itself in $0 as it would
// without the loader.

// binprmBufSize is BINPRM_BUF_SIZE (include/uapi/linux/binfmts.h): how
// much of the file the kernel reads for the #! line.
const binprmBufSize = 256

// maxInterpreters is how many #! interpreters in a row the kernel follows
// (fs/exec.c, exec_binprm: ELOOP past depth 5).
const maxInterpreters = 5

func spacetab(c byte) bool { return c == ' ' || c == '\t' }

// nextNonSpacetab and nextTerminator are the kernel's helpers of the same
// names: the first index in [first, last] (last included) that is not a
// space or tab, or that is a space, tab or NUL; -1 if none.
func nextNonSpacetab(b []byte, first, last int) int {
	for ; first <= last; first++ {
		if !spacetab(b[first]) {
			return first
		}
	}
	return -1
}

func nextTerminator(b []byte, first, last int) int {
	for ; first <= last; first++ {
		if spacetab(b[first]) || b[first] == 0 {
			return first
		}
	}
	return -1
}

// cstring returns the NUL-terminated string at b[i:].
func cstring(b []byte, i int) string {
	if n := bytes.IndexByte(b[i:], 0); n >= 0 {
		return string(b[i : i+n])
	}
	return string(b[i:])
}

// parseShebang parses the #! line of head (the file's first bytes) as
// load_script does, step for step: the interpreter's name and, if the line
// has one, its single optional argument. ok is false where the kernel
// answers ENOEXEC (no interpreter, or one truncated by the 256-byte
// buffer).
func parseShebang(head []byte) (name, arg string, hasArg, ok bool) {
	var buf [binprmBufSize]byte // NUL-padded, as the kernel's buffer
	copy(buf[:], head)
	b := buf[:]
	if b[0] != '#' || b[1] != '!' {
		return "", "", false, false
	}
	bufEnd := len(b) - 1
	iEnd := bytes.IndexByte(b, '\n')
	if iEnd < 0 {
		iEnd = nextNonSpacetab(b, 2, bufEnd)
		if iEnd < 0 {
			return "", "", false, false // all spaces and tabs
		}
		// No later space, tab or NUL: the name is truncated.
		if nextTerminator(b, iEnd, bufEnd) < 0 {
			return "", "", false, false
		}
		iEnd = bufEnd
	}
	for spacetab(b[iEnd-1]) {
		iEnd--
	}
	iName := nextNonSpacetab(b, 2, iEnd)
	if iName < 0 || iName == iEnd {
		return "", "", false, false // no interpreter name
	}
	iArg := -1
	iSep := nextTerminator(b, iName, iEnd)
	if iSep >= 0 && b[iSep] != 0 {
		iArg = nextNonSpacetab(b, iSep, iEnd)
	}
	b[iEnd] = 0
	if iArg >= 0 {
		b[iSep] = 0
		arg, hasArg = cstring(b, iArg), true
	}
	return cstring(b, iName), arg, hasArg, true
}

// interpret turns the plan for a #! script into the plan for its
// interpreter, as the kernel would (see the top of this file): p.Path,
// p.File and p.Kind become the interpreter's, p.Argv the kernel's argument
// vector, p.Script the script's path; the interpreter's note is read and
// stacked on as any PROGRAM's. A #! line the kernel would refuse, or an
// interpreter that cannot be opened and checked, is 126.
func interpret(o *options, p *Plan) error {
	for depth := 0; p.Kind == KindScript; depth++ {
		if depth == maxInterpreters {
			return fail(ExitCannotRun, p.Script, ": more than ", strconv.Itoa(maxInterpreters), " #! interpreters in a row (ELOOP); nothing was run")
		}
		head := make([]byte, binprmBufSize)
		n, _ := p.File.ReadAt(head, 0)
		name, arg, hasArg, ok := parseShebang(head[:n])
		if !ok {
			return fail(ExitCannotRun, p.Path, ": cannot execute: exec format error (its #! line names no interpreter the kernel would start)")
		}
		f, kind, err := open(name)
		if err != nil {
			var fl *failure
			if errors.As(err, &fl) {
				return failWith(ExitCannotRun, err, p.Path, ": bad #! interpreter: ", fl.msg)
			}
			return err
		}
		argv := append(make([]string, 0, len(p.Argv)+2), name)
		if hasArg {
			argv = append(argv, arg)
		}
		argv = append(append(argv, p.Path), p.Argv[1:]...)
		p.File.Close()
		if p.Script == "" {
			p.Script = p.Path
		}
		p.Path, p.File, p.Kind, p.Argv = name, f, kind, argv
	}
	if p.Kind != KindELF {
		return nil // binfmt_misc's: executed through its descriptor
	}
	if err := readNote(o, p); err != nil {
		return err
	}
	if p.Restricted {
		return restrict(o, p)
	}
	return nil
}
