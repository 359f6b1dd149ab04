package execcli

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/sysrestrict/sysrestrict/internal/version"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/enforce"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// Exit statuses of SPEC section 3, before PROGRAM runs.
const (
	ExitUsage     = 125 // usage or loader error
	ExitCannotRun = 126 // PROGRAM found but cannot be run
	ExitNotFound  = 127 // PROGRAM not found
)

const tool = "sysrestrict-exec"

// Tool is the name the loader's messages start with.
const Tool = tool

// failure is an error that ends the loader with a status. msg is the whole
// line the loader prints; err, when set, is the error it was made from, so
// that errors.Is(err, elfnote.ErrBadNote) still holds above it.
type failure struct {
	status int
	msg    string
	err    error
}

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return f.err }

// fail returns a failure with no underlying error.
func fail(status int, parts ...string) error {
	return &failure{status, strings.Join(parts, ""), nil}
}

// failWith returns a failure caused by err; parts say it to a person (and
// usually quote err).
func failWith(status int, err error, parts ...string) error {
	return &failure{status, strings.Join(parts, ""), err}
}

// exit prints err, a failure or any other error, and returns the status
// to leave with: a failure's own, else ExitUsage.
func exit(stderr io.Writer, err error) int {
	status := ExitUsage
	var fl *failure
	if errors.As(err, &fl) {
		status = fl.status
	}
	io.WriteString(stderr, tool+": "+err.Error()+"\n")
	return status
}

// Kind is what PROGRAM's first bytes say it is.
type Kind uint8

const (
	KindELF    Kind = iota // starts with \x7fELF
	KindScript             // starts with #!
	KindOther              // anything else: left to the kernel (binfmt_misc)
)

// Plan is PROGRAM found, opened, checked and its restrictions resolved:
// what the loader execs, and what the --learn, --explain and --audit
// supervisors start from (Supervisor, supervise.go).
type Plan struct {
	Program string // PROGRAM as given
	Path    string // where it was found; for a #! script, its interpreter
	Script  string // for a #! script, where it was found (script.go); else ""
	File    *File  // the file at Path, open O_RDONLY|O_CLOEXEC: the file that is run
	Kind    Kind
	ELF     *elfnote.File // the ELF header and note; nil unless KindELF

	// Restricted says a filter is to be installed: the file carries a note
	// or --deny was given. Set is then note ∪ --deny, of the file's ABI.
	Restricted bool
	Set        bitmap.Set
	Note, Deny bitmap.Set // the two parts of Set (for --explain's report)

	// Actions is what the restricted syscalls get: the note's default
	// and per-syscall actions (elfnote.File.Actions), or with --action
	// that action for every one (ActionGiven). --deny's syscalls get the
	// default.
	Actions     elfnote.Actions
	ActionGiven bool

	Argv, Env []string
	Learn     string // --learn FILE
	Explain   bool   // --explain
	Audit     string // --audit FILE
	Verbose   bool
	Stderr    io.Writer
}

// Run is sysrestrict-exec's main: args is os.Args. It returns only when
// PROGRAM was not executed, with the exit status to leave with.
func Run(args, env []string, stdout, stderr io.Writer) int {
	o, err := parse(args[1:])
	if err != nil {
		io.WriteString(stderr, tool+": "+err.Error()+"\nRun '"+tool+" --help' for usage.\n")
		return ExitUsage
	}
	switch {
	case o.help:
		io.WriteString(stdout, usage)
		return 0
	case o.version:
		io.WriteString(stdout, tool+" "+version.Version+"\n")
		return 0
	}
	supervised := o.learn != "" || o.explain || o.audit != ""
	if supervised && Supervisor == nil {
		return exit(stderr, execSupervisor(args, env))
	}
	p, err := prepare(o, env, stderr)
	if err == nil {
		switch {
		case supervised:
			return Supervisor(p)
		case o.dump != "":
			err = dump(p, o.dump, stdout)
		case p.skipsStub() && Supervisor == nil:
			// An embedded program with another action than kill
			// (embed.go): the supervisor reads it again and runs it.
			p.File.Close()
			err = execSupervisor(args, env)
		case p.skipsStub():
			return Supervisor(p)
		default:
			err = run(p)
		}
	}
	if err == nil {
		return 0
	}
	return exit(stderr, err)
}

// prepare resolves, opens and checks PROGRAM and computes what to enforce.
//
// Its steps are functions of their own so that each error message's
// temporaries sit in a frame of its own: prepare's frame is on the stack
// while the note is read, and a loader that stays within the stack it
// starts with spares the page faults of growing it (docs/exec.md).
func prepare(o *options, env []string, stderr io.Writer) (*Plan, error) {
	p, err := resolve(o, env, stderr)
	if err != nil {
		return nil, err
	}
	switch {
	case o.learn != "":
		// Runs unrestricted: no note needed, but an embedded program
		// would restrict itself.
		return p, refuseLearn(p)
	case p.Kind == KindScript:
		if err := notELF(o, p); err != nil {
			return nil, err
		}
		return p, interpret(o, p)
	case p.Kind != KindELF:
		return p, notELF(o, p)
	}
	if err := readNote(o, p); err != nil {
		return nil, err
	}
	if p.Restricted {
		if err := restrict(o, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// resolve finds and opens PROGRAM: the Plan without its restrictions.
func resolve(o *options, env []string, stderr io.Writer) (*Plan, error) {
	pathEnv, pathSet := getenv(env, "PATH")
	path, err := lookPath(o.program, pathEnv, pathSet)
	if err != nil {
		return nil, err
	}
	p := &Plan{
		Program:     o.program,
		Path:        path,
		Actions:     elfnote.Actions{Default: o.action},
		ActionGiven: o.actionGiven,
		Argv:        append([]string{o.program}, o.args...),
		Env:         env,
		Learn:       o.learn,
		Explain:     o.explain,
		Audit:       o.audit,
		Verbose:     o.verbose,
		Stderr:      stderr,
	}
	if o.argv0 != nil {
		p.Argv[0] = *o.argv0
	}
	if p.File, p.Kind, err = open(path); err != nil {
		return nil, err
	}
	return p, nil
}

// notELF refuses a script or other non-ELF file when an option needs a
// note or an ABI; without such options it runs unrestricted.
func notELF(o *options, p *Plan) error {
	what := "a script (#!)"
	if p.Kind == KindOther {
		what = "not an ELF file"
	}
	switch {
	case o.require:
		return failWith(ExitCannotRun, elfnote.ErrNotELF, p.Path, ": ", what, ", so it carries no sysrestrict note, and --require was given;",
			" run its interpreter through the loader instead (", tool, " --require /bin/sh ", p.Path, ")")
	case len(o.deny) > 0:
		return failWith(ExitCannotRun, elfnote.ErrNotELF, p.Path, ": ", what, ": --deny needs an ELF file, whose header gives the syscall ABI;",
			" run its interpreter through the loader instead (", tool, " --deny ... /bin/sh ", p.Path, ")")
	}
	return nil
}

// readNote reads PROGRAM's ELF header and note from its descriptor and
// says whether a filter is to be installed.
func readNote(o *options, p *Plan) error {
	var err error
	if p.ELF, err = elfnote.ReadRestrictions(p.File); err != nil {
		return failWith(ExitCannotRun, err, p.Path, ": ", err.Error(), "; nothing was run.",
			" Check the file with sysrestrict-stamp --show, and rebuild or re-stamp it")
	}
	if err := kernelReads(p); err != nil {
		return err
	}
	if p.embedded() {
		if err := verifyStub(p); err != nil {
			return err
		}
	}
	if !p.ELF.Stamped && o.require {
		return failWith(ExitCannotRun, elfnote.ErrNoNote, p.Path, ": carries no sysrestrict note and --require was given;",
			" stamp it first (sysrestrict-stamp --deny LIST ", p.Path, ")")
	}
	p.Restricted = p.ELF.Stamped || len(o.deny) > 0
	return nil
}

// restrict computes the set to enforce: the note's and --deny's.
func restrict(o *options, p *Plan) error {
	abi := p.ELF.ABI
	if err := enforceable(abi, p); err != nil {
		return err
	}
	p.Note, p.Deny = p.ELF.Set, bitmap.NewSet(abi)
	if len(o.deny) > 0 {
		var err error
		if p.Deny, err = bitmap.Parse(abi, o.deny...); err != nil {
			return failWith(ExitUsage, err, "--deny: ", err.Error(), " (", abi.String(), " ABI of ", p.Path, ")")
		}
	}
	p.Set = p.Note.Union(p.Deny)
	if !p.ActionGiven {
		p.Actions = p.ELF.Actions // the note's, kill without an action note
	}
	return nil
}

// enforceable fails unless this host's kernel can filter abi's syscalls for
// the program: its own ABI, or one it runs natively beside it (x32 and
// i386 on x86_64, arm on aarch64). A foreign binary run by an emulator
// (qemu-user via binfmt_misc) makes the emulator's syscalls, not its own:
// its filter would kill the emulator at once.
func enforceable(abi bitmap.ABI, p *Plan) error {
	native := enforce.NativeABI()
	ok := abi == native ||
		native == bitmap.X86_64 && (abi == bitmap.X32 || abi == bitmap.I386) ||
		native == bitmap.AARCH64 && abi == bitmap.ARM
	switch {
	case abi == bitmap.Unknown:
		return fail(ExitCannotRun, p.Path, ": machine ", p.ELF.Machine.String(), " (", p.ELF.Class.String(),
			") is not an ABI sysrestrict knows, so its note cannot be enforced; run it without the loader only if you trust it")
	case !ok:
		return fail(ExitCannotRun, p.Path, ": a ", abi.String(), " program; this ", native.String(),
			" host cannot enforce its note (an emulator would make the syscalls); run it on a ", abi.String(), " host")
	}
	return nil
}

func getenv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// describe returns the -v line: file, ABI, action, restricted names.
func describe(p *Plan) string {
	path := p.Path
	if p.Script != "" {
		path = p.Script + ": its #! interpreter " + p.Path
	}
	if !p.Restricted {
		return tool + ": " + path + ": no sysrestrict note: runs unrestricted"
	}
	src := "note"
	switch {
	case !p.ELF.Stamped:
		src = "--deny"
	case !p.Set.Equal(p.ELF.Set):
		src = "note + --deny"
	}
	var line string
	if p.Set.DenyBeyond() {
		// An allowlist reads as what it allows, not as the hundreds of
		// numbers it restricts.
		kept := p.Set.Complement()
		kept.SetDenyBeyond(false)
		line = tool + ": " + path + " (" + p.Set.ABI().String() + "): allowlist (" + src + ") allows " + strconv.Itoa(kept.Len()) + ": " +
			kept.String() + "; " + enforced(p)
	} else {
		line = tool + ": " + path + " (" + p.Set.ABI().String() + "): " + enforced(p) + " (" + src + ")"
	}
	if p.ActionGiven && p.ELF.Stamped && !p.ELF.Actions.Equal(p.Actions) {
		line += "\n" + tool + ": " + path + ": --action " + p.Actions.Default.Name() + " replaces, for this run, what the note says: " + p.ELF.Actions.Describe(p.Set.ABI())
	}
	return line
}

// enforced says what each action of the plan is given to: the default's
// syscalls, then each other action's, in the order of their first
// number: "kill on {execve,ptrace}", "kill on {execve}, errno=ENOSYS on
// {clone,clone3}".
func enforced(p *Plan) string {
	def := p.Actions.Default
	rest := p.Set
	var others []filter.Action
	sets := map[filter.Action]bitmap.Set{}
	for nr := range p.Set.All() {
		a, ok := p.Actions.Overrides[nr]
		if !ok || a == def {
			continue
		}
		s, seen := sets[a]
		if !seen {
			others = append(others, a)
			s = bitmap.NewSet(p.Set.ABI())
		}
		s.Add(nr)
		sets[a] = s
		rest.Remove(nr)
	}
	line := def.Name() + " on " + rest.String()
	sep := ", "
	if p.Set.DenyBeyond() {
		line = def.Name() + " on every other syscall and every number from 512 up"
		sep = ", except " // the overrides, among the restricted syscalls
	}
	for _, a := range others {
		line += sep + a.Name() + " on " + sets[a].String()
		sep = ", "
	}
	return line
}
