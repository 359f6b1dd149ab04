// Package supervisecli runs sysrestrict-exec's supervising modes, --learn
// FILE, --explain and --audit FILE, for cmd/sysrestrict-supervise.
//
// They live in a binary of their own so that the loader, which starts on
// every exec of every restricted program, does not carry the supervisor:
// linking internal/supervise (ptrace, encoding/json, os/signal, context)
// into sysrestrict-exec cost about 20 page faults at each start, a good part
// of its start-up budget (docs/design.md). sysrestrict-exec execs
// sysrestrict-supervise, found beside it, with its own arguments.
package supervisecli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sysrestrict/sysrestrict/internal/execcli"
	"github.com/sysrestrict/sysrestrict/internal/supervise"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// Run is execcli.Supervisor: it gets the resolved Plan — PROGRAM found,
// opened, its note read and --deny stacked on it (for --learn, only found
// and opened) — and ends the process the way PROGRAM ended.
//
// Besides --learn and --explain it runs an embedded program (SPEC section
// 5) with an --action other than kill: under the loader's filter with
// that action, started at its original entry point rather than its
// start-up stub, whose kill would win (supervise.Enforce; docs/embed.md).
func Run(p *execcli.Plan) int {
	c := supervise.Config{Path: p.Path, Argv: p.Argv, Env: p.Env, Log: p.Stderr}
	var ws supervise.WaitStatus
	var err error
	switch {
	case p.Learn != "":
		// Before anything runs: a run learned into a file that cannot
		// take it is a run for nothing.
		if err := supervise.CheckProfile(p.Learn); err != nil {
			io.WriteString(p.Stderr, execcli.Tool+": --learn "+err.Error()+"; nothing was run\n")
			return execcli.ExitUsage
		}
		ws, err = supervise.Learn(context.Background(), c, p.Learn)
	case p.Audit != "":
		status, ok := runAudit(p, c)
		if !ok {
			return status
		}
		ws = supervise.WaitStatus(status)
	case p.Kind != execcli.KindELF || !p.Restricted:
		io.WriteString(p.Stderr, execcli.Tool+": "+p.Path+": nothing to explain: no sysrestrict note and no --deny\n")
		return execcli.ExitCannotRun
	default:
		c.File = os.NewFile(uintptr(p.File.Fd), p.Path)
		if c.Stub, err = stubOf(p); err != nil {
			io.WriteString(p.Stderr, execcli.Tool+": "+p.Path+": "+err.Error()+"; nothing was run\n")
			return execcli.ExitCannotRun
		}
		if p.Explain {
			ws, err = supervise.Explain(context.Background(), c, p.Note, p.Deny, p.Actions)
		} else {
			ws, err = supervise.Enforce(context.Background(), c, p.Set, filter.Options{Action: p.Actions.Default, Overrides: p.Actions.Overrides, StubCalls: c.Stub != nil})
		}
	}
	var pe *supervise.ProfileError
	switch {
	case errors.As(err, &pe):
		io.WriteString(p.Stderr, execcli.Tool+": --learn "+err.Error()+"\n")
		return execcli.ExitUsage
	case errors.Is(err, supervise.ErrNotStarted):
		// The child said why; its status is 125 or 126.
	case errors.Is(err, supervise.ErrStub):
		io.WriteString(p.Stderr, execcli.Tool+": "+p.Path+": "+err.Error()+"\n")
		return execcli.ExitCannotRun
	case err != nil:
		io.WriteString(p.Stderr, execcli.Tool+": "+p.Path+": "+err.Error()+"\n")
		return execcli.ExitUsage
	}
	supervise.Exit(ws)
	return execcli.ExitUsage // not reached
}

// stubOf returns what the supervisor needs to skip the start-up stub of an
// embedded program (its note's NT_SYSRESTRICT_EMBED record, verified by
// the loader's checks, and the stub's bytes from the descriptor that is
// executed), or nil for any other program.
func stubOf(p *execcli.Plan) (*supervise.Stub, error) {
	e := p.ELF.Embed
	if e == nil {
		return nil, nil
	}
	payload := make([]byte, e.Size)
	if n, err := p.File.ReadAt(payload, int64(e.Offset)); n != len(payload) {
		return nil, fmt.Errorf("reading the start-up stub at offset %#x: %d bytes, %v", e.Offset, n, err)
	}
	return &supervise.Stub{Addr: e.Vaddr, Entry: e.Entry, Payload: payload, Fixed: p.ELF.Type == elfnote.ET_EXEC}, nil
}

// runAudit runs --audit FILE: the supervisor first makes itself
// undumpable, so that a PROGRAM outside a Landlock domain (a kernel
// without one) and without CAP_SYS_PTRACE still cannot ptrace it or take
// its listener (pidfd_getfd and /proc/PID/fd need ptrace access). It
// returns PROGRAM's wait status and true, or an exit status of its own and
// false, having said why.
func runAudit(p *execcli.Plan, c supervise.Config) (int, bool) {
	fail := func(status int, msg string) (int, bool) {
		io.WriteString(p.Stderr, execcli.Tool+": "+msg+"\n")
		return status, false
	}
	if p.Kind != execcli.KindELF || !p.Restricted {
		return fail(execcli.ExitCannotRun, p.Path+": nothing to audit: no sysrestrict note and no --deny, so no syscall is restricted; nothing was run"+
			" (to record every syscall it makes: "+execcli.Tool+" --learn FILE "+p.Path+")")
	}
	// The stub installs the note's filter, with the note's actions, at
	// start-up, whatever started it: an audit could only watch it kill.
	path := p.Path
	if err := execcli.RefuseEmbedded(p, "which an audit cannot loosen: the first restricted syscall would still stop it",
		"Audit a copy without the stub, stamped with the same profile: sysrestrict-stamp --remove -o "+path+".audit "+path+
			"; sysrestrict-stamp --allow-profile PROFILE "+path+".audit; "+execcli.Tool+" --audit FILE "+path+".audit"+
			"; then stamp "+path+" again from PROFILE and FILE, with --embed"); err != nil {
		return fail(execcli.ExitCannotRun, err.Error())
	}
	if err := supervise.CheckProfile(p.Audit); err != nil {
		return fail(execcli.ExitUsage, "--audit "+err.Error()+"; nothing was run")
	}
	if err := supervise.Undumpable(); err != nil {
		return fail(execcli.ExitUsage, "--audit: "+err.Error()+"; nothing was run")
	}
	c.File = os.NewFile(uintptr(p.File.Fd), p.Path)
	r, ws, err := supervise.AuditTo(context.Background(), c, p.Note, p.Deny, p.Audit)
	switch {
	case errors.Is(err, supervise.ErrNotStarted):
		return int(ws), true // the child said why; it exits 125 or 126
	case r == nil && err != nil:
		return fail(execcli.ExitUsage, p.Path+": "+err.Error())
	case err != nil: // audited, not merged: the *ProfileError names where the run was saved
		supervise.WriteAuditSummary(p.Stderr, r, p.Path, "", p.Note, p.Deny, p.Actions)
		return fail(execcli.ExitUsage, "--audit "+err.Error())
	}
	supervise.WriteAuditSummary(p.Stderr, r, p.Path, p.Audit, p.Note, p.Deny, p.Actions)
	return int(ws), true
}
