package execcli

import (
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// options is the parsed command line.
type options struct {
	require bool
	deny    []string
	action  filter.Action
	// actionGiven: --action was given; it replaces the note's actions,
	// default and overrides, for this run.
	actionGiven bool
	dump        string // "" (no dump), "text" or "raw"
	verbose     bool
	argv0       *string
	learn       string
	audit       string
	explain     bool
	help        bool
	version     bool

	program string   // PROGRAM as given
	args    []string // ARGs
}

// usageError is a command-line mistake: exit 125 with a hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...string) error {
	s := format
	for _, a := range args {
		s = strings.Replace(s, "%s", a, 1)
	}
	return &usageError{s}
}

// parse parses args (without argv[0]). Options come before PROGRAM; "--"
// ends them; a long option takes its value as --opt=value or --opt value.
// Everything from PROGRAM on is PROGRAM's.
//
// The parser is written by hand to keep the loader's start-up short: a flag
// library costs more at init than the loader's whole budget (docs/exec.md).
func parse(args []string) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			i++
			if i < len(args) {
				o.program, o.args = args[i], args[i+1:]
			}
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			o.program, o.args = arg, args[i+1:]
			break
		}
		name, value, hasValue := strings.Cut(arg, "=")
		// takeValue returns the option's value, from "=value" or the next
		// argument.
		takeValue := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(args) {
				return "", usagef("option %s needs a value", name)
			}
			i++
			return args[i], nil
		}
		noValue := func() error {
			if hasValue {
				return usagef("option %s takes no value", name)
			}
			return nil
		}
		var err error
		switch name {
		case "--require":
			err = noValue()
			o.require = true
		case "-v", "--verbose":
			err = noValue()
			o.verbose = true
		case "--explain":
			err = noValue()
			o.explain = true
		case "-h", "--help":
			err = noValue()
			o.help = true
		case "--version":
			err = noValue()
			o.version = true
		case "--dump":
			switch {
			case !hasValue:
				o.dump = "text"
			case value == "raw" || value == "text":
				o.dump = value
			default:
				err = usagef("--dump=%s: want --dump or --dump=raw", value)
			}
		case "--deny":
			var v string
			if v, err = takeValue(); err == nil {
				if strings.TrimSpace(v) == "" {
					err = usagef("--deny needs a LIST (names, numbers, ranges, @groups)")
				}
				o.deny = append(o.deny, v)
			}
		case "--action":
			var v string
			if v, err = takeValue(); err == nil {
				o.action, err = parseAction(v)
				o.actionGiven = true
			}
		case "--argv0":
			var v string
			if v, err = takeValue(); err == nil {
				o.argv0 = &v
			}
		case "--learn":
			if o.learn, err = takeValue(); err == nil && o.learn == "" {
				err = usagef("--learn needs a FILE to write the profile to")
			}
		case "--audit":
			if o.audit, err = takeValue(); err == nil && o.audit == "" {
				err = usagef("--audit needs a FILE to record the restricted syscalls in")
			}
		default:
			err = usagef("unknown option %s", name)
		}
		if err != nil {
			return nil, err
		}
	}
	if o.help || o.version {
		return o, nil
	}
	if o.program == "" {
		return nil, usagef("no PROGRAM given")
	}
	if o.learn != "" && o.explain {
		return nil, usagef("--learn and --explain cannot be used together")
	}
	if o.audit != "" {
		switch {
		case o.learn != "":
			return nil, usagef("--audit and --learn cannot be used together (--learn records every syscall, --audit the restricted ones)")
		case o.explain:
			return nil, usagef("--audit and --explain cannot be used together (--explain kills at the first restricted syscall, --audit lets each run)")
		case o.actionGiven:
			return nil, usagef("--audit takes no --action: it lets every restricted syscall run and records it")
		case o.dump != "":
			return nil, usagef("--audit takes no --dump")
		}
	}
	if o.learn != "" && (o.dump != "" || len(o.deny) > 0 || o.require) {
		return nil, usagef("--learn runs PROGRAM unrestricted: it takes no --deny, --require or --dump")
	}
	return o, nil
}

// parseAction parses --action: kill, errno, errno=NAME (EPERM, eperm or a
// number; default ENOSYS), trap, log.
func parseAction(s string) (filter.Action, error) {
	a, err := filter.ParseAction(s)
	if err != nil {
		return filter.Action{}, usagef("--action %s: %s", s, strings.TrimPrefix(err.Error(), filter.ErrAction.Error()+": "))
	}
	return a, nil
}

const usage = `usage: sysrestrict-exec [options] [--] PROGRAM [ARG...]

Run PROGRAM under the seccomp filter its .note.sysrestrict note asks for:
a restricted syscall kills it (and its threads and children) with SIGSYS,
unless the note gives it another action (errno: the call fails; log: it
runs and the kernel logs it).

Options:
  --require          refuse a PROGRAM that carries no note (exit 126)
  --deny LIST        restrict these syscalls too, on top of the note
                     (names, numbers, ranges, @groups; repeatable)
  --action A         what a restricted syscall gets, for this run: kill,
                     errno[=NAME] (default ENOSYS), trap, log (audit
                     only); replaces what the note says (its default and
                     every per-syscall action; without a note: kill)
  --argv0 NAME       run PROGRAM with argv[0] = NAME
  --dump[=raw]       print the filter (disassembly, or raw sock_filter
                     bytes for seccomp-tools) and exit
  --learn FILE       run unrestricted; record the syscalls made into FILE
  --explain          on a restricted syscall, say which one, then give it
                     its action (kill; errno, log: the program goes on)
  --audit FILE       enforce nothing new: let each restricted syscall run,
                     record it (name, ABI, executable) into FILE for
                     sysrestrict-stamp --allow-profile, summarize at exit
  -v                 say on stderr what is enforced before exec
  -h, --help         this help
  --version          print the version

Under --learn and --explain, a signal sent to sysrestrict-exec (kill PID)
is passed on to PROGRAM, once; FILE is checked before PROGRAM runs.

A #! script is run by its interpreter, checked like PROGRAM (its note, if
any, applies). PROGRAM is put in a Landlock domain where the kernel has
one: it cannot ptrace or write the memory of processes outside its tree.

An embedded PROGRAM (sysrestrict-stamp --embed) installs its note's filter
itself too; its start-up stub is checked against the note first (126 if
damaged). With --explain, or an --action other than kill and the note's
own, it is started past its stub, whose actions would win, by
sysrestrict-supervise, under the loader's filter alone. --learn refuses
it: learn the binary before it is embedded. See docs/embed.md.

Exit status: PROGRAM's own; 125 usage or loader error; 126 PROGRAM cannot
be run (not executable, not a regular file, bad note or header, damaged
start-up stub, --require and no note, ABI this host cannot enforce,
--learn of an embedded PROGRAM); 127 PROGRAM not found. Killed
by the filter: SIGSYS (159 in a shell). See docs/exec.md, also for what
the filter guarantees and what it cannot (Threat model).
`
