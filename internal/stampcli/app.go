package stampcli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sysrestrict/sysrestrict/internal/version"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Exit statuses of SPEC section 2.
const (
	ExitOK     = 0 // every file done
	ExitFailed = 1 // a file failed (the others were still processed), or --check found one short
	ExitUsage  = 2 // usage error, including a LIST that does not resolve: no file touched
)

// usageError marks an error as a usage error: exit 2, nothing touched.
// located: the message names the policy file and line at fault, so it
// needs no pointer to --help.
type usageError struct {
	err     error
	located bool
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{err: fmt.Errorf(format, args...)}
}

// locatedf is a usage error whose message names the policy file and line.
func locatedf(format string, args ...any) error {
	return usageError{err: fmt.Errorf(format, args...), located: true}
}

// failed reports that some files failed; each failure was already
// printed. It unwraps to each file's error, in FILE order.
type failed struct{ errs []error }

func (e failed) Error() string {
	if len(e.errs) == 1 {
		return "1 file failed"
	}
	return fmt.Sprintf("%d files failed", len(e.errs))
}

func (e failed) Unwrap() []error { return e.errs }

const description = `Writes a syscall restriction bitmap into the .note.sysrestrict note of
already-linked ELF binaries, for sysrestrict-exec to enforce with seccomp.

LIST is comma-separated: syscall names (execve), numbers (59), inclusive
ranges (300-310) and groups (@debug); names are resolved with each binary's
own ABI. Restrictions accumulate: without --replace a stamp never loosens a
binary, but for the syscalls --permit names, which it lifts. So an
allowlist stamped on a binary that carries one intersects the two: where
that would restrict what the binary allows now, the stamper says so and
exits 2 unless --narrow (or --replace) is given; --permit adds to an
allowlist.

A restricted syscall is killed unless the note says otherwise: --action
gives the default (kill, errno[=NAME] with ENOSYS by default, or log), and
an item of a --deny LIST may end in :ACTION for its own, systemd's way:
--deny clone3:ENOSYS,execve (clone3 fails with ENOSYS, execve kills;
:EPERM or any errno name or number, :kill, :log; @fork:EPERM gives every
member EPERM). An allowlist's restricted syscalls get --action. Without
--replace, each syscall keeps the stricter of its two actions (kill over
errno over log): loosening one needs --replace. --action alone (no LIST)
gives every syscall the note restricts that action. --check also fails a
file whose action is weaker than asked (--action and :ACTION, kill by
default).

--allow-profile takes from a profile (sysrestrict-exec --learn, --audit)
the syscalls of the executable being stamped, matched by build ID (else
by path and size), and of everything that ran under it: its filter is
theirs too. A profile learned through a shell or a test runner holds their
syscalls as well; they are left out unless --profile-all-executables.

Options may come before or after FILEs; -- ends them (a FILE after it may
start with -). --check without --deny, --allow or --allow-profile checks
that every FILE carries a valid, intact note. Files are worked on -j at a
time; the output is in FILE order, the same for every -j.

With --policy FILE --root DIR, the FILEs are those under DIR that the
rules of the policy FILE match, each stamped (or checked) with the options
of every rule that matches it: one rule a line, a glob relative to DIR then
--deny, --allow, --allow-profile, --permit, --action, --replace, --narrow
or --embed (paths relative to FILE), or skip. Symlinks are not followed;
hard links are stamped once and stay one file. --strict also fails on
every executable ELF file under DIR no rule covers. Errors name the
policy file and line. See docs/policy.md.

--embed makes the stamp self-enforcing: a start-up stub, written into the
binary with the note, sets no_new_privs and installs the note's filter
before any code of the program runs, however it is started (a shell,
systemd, cron), or exits 126. An embedded binary stays embedded when
stamped again (its stub's filter follows the note); --remove takes the
stub out with the note. x86_64 and aarch64 programs (executables, PIE,
static-pie); shared libraries are refused. See docs/embed.md.

Examples:
   sysrestrict-stamp --deny @exec,ptrace ./server
   sysrestrict-stamp --embed --deny @debug,@mount,kexec_load ./server
   sysrestrict-stamp --deny clone:ENOSYS,clone3:ENOSYS,@exec ./server
   sysrestrict-stamp --action log --allow-profile server.profile.json ./server
   sysrestrict-stamp --permit setitimer ./server
   sysrestrict-stamp --allow-profile server.profile.json ./server
   sysrestrict-stamp --allow-profile tests.profile.json --profile-all-executables ./tool
   sysrestrict-stamp ./server --show --json
   sysrestrict-stamp --check --deny @exec ./dist/bin/*
   sysrestrict-stamp --check ./dist/bin/*
   sysrestrict-stamp --check --embed ./dist/bin/server
   sysrestrict-stamp --policy debian/pkg.sysrestrict --root debian/pkg
   sysrestrict-stamp --check --strict --policy debian/pkg.sysrestrict --root debian/pkg

Exit status: 0 all files done; 1 a file failed or --check found one short
(the other files are still processed); 2 usage error, including a LIST
that does not resolve, in which case no file is touched.

Written files keep owner, mode (setuid included), ACLs, capabilities and
other xattrs, and under fakeroot the faked owner and mode; security.ima and
security.evm are dropped, with a warning. SOURCE_DATE_EPOCH, when set, is
the modification time of every file written.

Stamp last: GNU strip or objcopy run after stamping can undo the stamp,
and break an embedded binary (--check detects both). See docs/stamping.md.`

// New returns the sysrestrict-stamp application writing to stdout and
// stderr.
func New(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:            "sysrestrict-stamp",
		Usage:           "put a syscall restriction note into ELF binaries",
		UsageText:       "sysrestrict-stamp [options] [--] FILE...\nsysrestrict-stamp [--check [--strict]] --policy FILE --root DIR",
		Description:     description,
		Version:         version.Version,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "deny", Usage: "restrict the syscalls in `LIST` (repeatable)"},
			&cli.StringSliceFlag{Name: "allow", Usage: "allowlist: restrict every syscall not in `LIST` nor in @default, and every number from 512 up (repeatable)"},
			&cli.StringSliceFlag{Name: "allow-profile", Usage: "as --allow, with the syscalls recorded in `FILE` by sysrestrict-exec --learn or --audit for the executable stamped and what it started (repeatable)"},
			&cli.BoolFlag{Name: "profile-all-executables", Usage: "with --allow-profile: take the syscalls of every executable the profile records, the shell or test runner that started FILE while learning included"},
			&cli.StringFlag{Name: "action", DefaultText: "kill",
				Usage: "what a restricted syscall gets, the note's default action `A`: kill, errno[=NAME] (ENOSYS if no NAME) or log; a --deny item NAME:ACTION gives its own (:ENOSYS, :EPERM, :kill, :log)"},
			&cli.BoolFlag{Name: "replace", Usage: "start from no restrictions instead of the binary's current ones"},
			&cli.StringSliceFlag{Name: "permit", Usage: "lift the restrictions on the syscalls in `LIST`, keeping every other (repeatable): the one loosening without --replace"},
			&cli.BoolFlag{Name: "narrow", Usage: "let --allow or --allow-profile on a binary that carries an allowlist restrict what that allowlist allows (the result allows only what both allow)"},
			&cli.BoolFlag{Name: "embed", Usage: "self-enforcing stamp (x86_64, aarch64 programs): also write a start-up stub that installs the filter however the program is started, no loader needed; make it the last build step. With --check: also fail unless every FILE is embedded with an intact stub"},
			&cli.BoolFlag{Name: "remove", Usage: "remove the note; the binary runs as before"},
			&cli.BoolFlag{Name: "show", Usage: "print each FILE's restrictions; change nothing"},
			&cli.BoolFlag{Name: "check", Usage: "change nothing; exit 1 unless every FILE carries a valid, intact note that restricts at least what --deny/--allow name (if given)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the result to `FILE` (one input only); the input is untouched"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would change; change nothing"},
			&cli.BoolFlag{Name: "list-syscalls", Usage: "print the syscall table of --arch"},
			&cli.StringFlag{Name: "arch", Value: "x86_64", Usage: "`ABI` for --list-syscalls and --list-groups: x86_64, x32, i386, aarch64, arm"},
			&cli.BoolFlag{Name: "list-groups", Usage: "print the syscall groups and their members (resolved for --arch when given)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output: one JSON object per file"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: runtime.NumCPU(), DefaultText: "the number of CPUs",
				Usage: "work on `N` files at a time; the output is in FILE order whatever N"},
			&cli.StringFlag{Name: "policy", Usage: "stamp (or --check, --show) every file under --root that a rule of the policy `FILE` matches, with that rule's options (docs/policy.md)"},
			&cli.StringFlag{Name: "root", Usage: "the `DIR` whose files the rules of --policy name (an install tree: debian/PKG, %{buildroot})"},
			&cli.BoolFlag{Name: "strict", Usage: "with --policy: also fail on every executable ELF file under --root that no rule covers"},
		},
		Action: func(c *cli.Context) error {
			return run(c, stdout, stderr)
		},
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return usageError{err: err}
		},
	}
}

// Run runs sysrestrict-stamp with args (args[0] is the program name) and
// returns its exit status. Errors are printed as "sysrestrict-stamp: ...".
// Options may follow FILEs: Run moves them before the FILEs (reorder) for
// the app of New, which like urfave/cli takes options before FILEs only.
func Run(args []string, stdout, stderr io.Writer) int {
	app := New(stdout, stderr)
	args, err := reorder(args, app.Flags)
	if err == nil {
		err = app.Run(args)
	}
	var u usageError
	var f failed
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &f):
		return ExitFailed
	case errors.As(err, &u):
		// Several errors (every rule of a policy that matches no file)
		// come one a line.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "sysrestrict-stamp: %s\n", line)
		}
		if !u.located {
			fmt.Fprintf(stderr, "Run 'sysrestrict-stamp --help' for usage.\n")
		}
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "sysrestrict-stamp: %v\n", err)
		return ExitFailed
	}
}

// mode is what one run does.
type mode int

const (
	modeStamp mode = iota
	modeRemove
	modeShow
	modeCheck
)

func run(c *cli.Context, stdout, stderr io.Writer) error {
	asJSON := c.Bool("json")
	if c.Bool("list-syscalls") || c.Bool("list-groups") {
		abi, err := bitmap.ParseABI(c.String("arch"))
		if err != nil {
			return usageError{err: err}
		}
		if c.NArg() > 0 {
			return usagef("--list-syscalls and --list-groups take no FILE")
		}
		if c.Bool("list-syscalls") {
			return listSyscalls(stdout, abi, asJSON)
		}
		return listGroups(stdout, abi, c.IsSet("arch"), asJSON)
	}

	var modes []string
	m := modeStamp
	for _, f := range []struct {
		flag string
		m    mode
	}{{"remove", modeRemove}, {"show", modeShow}, {"check", modeCheck}} {
		if c.Bool(f.flag) {
			modes = append(modes, "--"+f.flag)
			m = f.m
		}
	}
	if len(modes) > 1 {
		return usagef("%s cannot be combined", strings.Join(modes, " and "))
	}

	s := settings{mode: m, output: c.String("output"), dryRun: c.Bool("dry-run"), workers: c.Int("jobs"), dirs: &dirSet{}}
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && v != "" {
		// The reproducible-builds convention: every time a build writes is
		// clamped to the source's (https://reproducible-builds.org/specs/source-date-epoch/).
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec < 0 {
			return usagef("SOURCE_DATE_EPOCH=%q is not a non-negative number of seconds since 1970", v)
		}
		if t := time.Unix(sec, 0); t.Before(time.Now()) {
			s.modTime = t // clamped: never later than the write
		}
	}
	req := &request{
		parts: []*part{{
			deny:           c.StringSlice("deny"),
			allow:          c.StringSlice("allow"),
			profiles:       c.StringSlice("allow-profile"),
			allExecutables: c.Bool("profile-all-executables"),
			embed:          c.Bool("embed"),
			action:         c.String("action"),
			permit:         c.StringSlice("permit"),
		}},
		replace: c.Bool("replace"),
		narrow:  c.Bool("narrow"),
	}
	files := c.Args().Slice()
	if req.parts[0].allExecutables && len(req.parts[0].profiles) == 0 {
		return usagef("--profile-all-executables goes with --allow-profile")
	}
	hasLists := req.hasLists()
	embed := req.embedded()
	polName, root, strict := c.String("policy"), c.String("root"), c.Bool("strict")
	if polName != "" || root != "" || strict {
		return runPolicy(c, s, polName, root, strict, files, hasLists || req.replace || req.narrow || embed || req.hasAction(), stdout, stderr)
	}
	switch {
	case len(files) == 0:
		return usagef("no FILE given")
	case s.workers < 1:
		return usagef("-j %d: give at least 1", s.workers)
	case s.output != "" && len(files) != 1:
		return usagef("--output takes exactly one input FILE, got %d", len(files))
	case s.output != "" && (m == modeShow || m == modeCheck):
		return usagef("--output goes with stamping or --remove, not %s", modes[0])
	case m == modeRemove && (hasLists || req.replace || req.narrow || embed || req.hasAction()):
		return usagef("--remove takes no --deny, --allow, --allow-profile, --action, --permit, --replace, --narrow or --embed (it removes an embedded stub with the note)")
	case m == modeShow && (hasLists || req.replace || req.narrow || embed || req.hasAction() || s.dryRun):
		return usagef("--show takes no --deny, --allow, --allow-profile, --action, --permit, --replace, --narrow, --embed or --dry-run (it says whether each FILE is embedded)")
	case m == modeCheck && (req.replace || req.narrow || s.dryRun):
		return usagef("--check changes nothing: --replace, --narrow and --dry-run do not apply")
	case m == modeStamp && !hasLists && !req.replace && !embed && !req.hasAction():
		return usagef("nothing to do: give --deny, --allow, --allow-profile, --permit, --action or --embed (or --show, --check, --remove)")
	}
	if err := req.parts[0].load(); err != nil {
		return err
	}

	jobs := make([]job, len(files))
	for i, name := range files {
		jobs[i] = job{name: name, req: req}
	}
	out := &renderer{stdout: stdout, stderr: stderr, quiet: c.Bool("quiet"), json: asJSON, settings: s}
	if err := s.run(jobs, out.render, newProgress(stderr, out.quiet, out.json)); err != nil {
		return err
	}
	return out.status()
}

// runPolicy runs --policy FILE --root DIR: a job for every target the
// policy finds under DIR (SPEC section 6, policy.go).
func runPolicy(c *cli.Context, s settings, polName, root string, strict bool, files []string, cmdLists bool, stdout, stderr io.Writer) error {
	switch {
	case polName == "" || root == "":
		return usagef("--policy FILE and --root DIR go together")
	case len(files) > 0:
		return usagef("--policy takes no FILE: its rules name the files under --root (got %s)", files[0])
	case cmdLists:
		return usagef("with --policy, --deny, --allow, --allow-profile, --permit, --narrow, --action, --replace and --embed go in the policy file's rules")
	case s.mode == modeRemove || s.output != "":
		return usagef("--policy goes with stamping, --check or --show, not %s", map[bool]string{true: "--remove", false: "--output"}[s.mode == modeRemove])
	case s.mode == modeShow && (strict || s.dryRun):
		return usagef("--show takes no --strict or --dry-run")
	case s.mode == modeCheck && s.dryRun:
		return usagef("--check changes nothing: --dry-run does not apply")
	case s.workers < 1:
		return usagef("-j %d: give at least 1", s.workers)
	}
	pr, err := loadPolicy(polName, root, strict, c.App.Flags)
	if err != nil {
		return err
	}
	out := &renderer{stdout: stdout, stderr: stderr, quiet: c.Bool("quiet"), json: c.Bool("json"), settings: s}
	if err := s.run(pr.jobs, out.render, newProgress(stderr, out.quiet, out.json)); err != nil {
		return err
	}
	for _, r := range leftoverResults(pr.leftovers, s.mode) {
		out.render(r)
	}
	return out.status()
}

// status is the run's error once every result is rendered: nil, or failed
// with every failed file's error.
func (p *renderer) status() error {
	if len(p.failed) > 0 {
		return failed{p.failed}
	}
	return nil
}
