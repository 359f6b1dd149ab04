package execcli

import (
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// An embedded program (sysrestrict-stamp --embed, SPEC section 5;
// docs/embed.md) installs its note's filter itself, from a start-up stub
// that runs before any of its code. Under the loader:
//
//   - the stub is verified against the note before anything runs
//     (elfnote's VerifyEmbed): a damaged one is 126;
//   - the loader's filter lets the stub's prctl(PR_SET_NO_NEW_PRIVS, 1)
//     and seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC)
//     through even when the note restricts prctl or seccomp
//     (filter.Options.StubCalls), and the stub's filter stacks on the
//     loader's;
//   - --explain, and an --action other than kill and the note's own, are
//     run by the supervisor, which starts the program at its original
//     entry point instead of the stub: the stub's actions (the note's)
//     would win over the loader's trace, or over a less severe --action
//     (seccomp takes the most severe action of all filters);
//   - --learn is refused before anything runs.

// embedded reports whether the plan's program is an embedded ELF file.
func (p *Plan) embedded() bool { return p.ELF != nil && p.ELF.Embed != nil }

// skipsStub reports whether the plan must run under the supervisor, which
// skips the program's start-up stub: an embedded program whose restricted
// syscalls are to get, for this run, other actions than the stub's, which
// are the note's. With the note's own actions, or --action kill (the most
// severe, so the loader's filter decides anyway), the stub can run.
func (p *Plan) skipsStub() bool {
	return p.embedded() && p.ActionGiven && !p.Actions.Kill() && !p.Actions.Equal(p.ELF.Actions)
}

// verifyStub checks an embedded program's start-up stub against its note,
// read from the descriptor that will be executed.
func verifyStub(p *Plan) error {
	if err := p.ELF.VerifyEmbed(p.File); err != nil {
		return failWith(ExitCannotRun, err, p.Path, ": ", err.Error(), "; nothing was run")
	}
	return nil
}

// RefuseEmbedded is the refusal (126) of a mode that cannot run an
// embedded program, such as --learn: the line says what the stub does,
// then why (why: how it gets in the mode's way), that nothing was run, and
// instead (what to do). nil if p's program is not embedded. Other modes
// that must refuse embedded programs share it.
func RefuseEmbedded(p *Plan, why, instead string) error {
	if !p.embedded() {
		return nil
	}
	return fail(ExitCannotRun, p.Path, ": embedded (sysrestrict-stamp --embed): its start-up stub installs the note's filter whoever starts it, ",
		why, "; nothing was run. ", instead)
}

// refuseLearn refuses --learn of an embedded program, or of a #! script
// whose interpreter is one: the stub's filter would kill it at its first
// restricted syscall, mid-run, and the profile would hold the stub's own
// calls. --learn otherwise reads no note (it runs PROGRAM unrestricted),
// so a note it cannot read is left alone here, as before.
func refuseLearn(p *Plan) error {
	q := *p
	for depth := 0; q.Kind == KindScript && depth < maxInterpreters; depth++ {
		head := make([]byte, binprmBufSize)
		n, _ := q.File.ReadAt(head, 0)
		name, _, _, ok := parseShebang(head[:n])
		if !ok {
			return nil
		}
		f, kind, err := open(name)
		if err != nil {
			return nil // the kernel will say so
		}
		defer f.Close()
		q.Path, q.File, q.Kind = name, f, kind
	}
	if q.Kind != KindELF {
		return nil
	}
	ef, err := elfnote.ReadRestrictions(q.File)
	if err != nil {
		return nil
	}
	q.ELF = ef
	path := shellWord(q.Path)
	if q.Path != p.Path {
		q.Path = p.Path + ": its #! interpreter " + q.Path
	}
	return RefuseEmbedded(&q, "and --learn cannot take it off: it would kill the program at its first restricted syscall",
		"Learn the binary as built, before it was embedded, or a copy without the stamp (a stamp cannot take out only the stub): "+
			"sysrestrict-stamp --remove -o "+path+".unstamped "+path+"; "+tool+" --learn FILE "+path+".unstamped")
}

// shellWord quotes s for a POSIX shell when it needs quoting.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+=:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
