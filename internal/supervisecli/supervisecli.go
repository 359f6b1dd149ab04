// Package supervisecli runs sysrestrict-exec's supervising modes, --learn
// FILE and --explain, for cmd/sysrestrict-supervise.
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
	"io"
	"os"

	"github.com/sysrestrict/sysrestrict/internal/execcli"
	"github.com/sysrestrict/sysrestrict/internal/supervise"
)

// Run is execcli.Supervisor: it gets the resolved Plan — PROGRAM found,
// opened, its note read and --deny stacked on it (for --learn, only found
// and opened) — and ends the process the way PROGRAM ended.
func Run(p *execcli.Plan) int {
	c := supervise.Config{Path: p.Path, Argv: p.Argv, Env: p.Env, Log: p.Stderr}
	var ws supervise.WaitStatus
	var err error
	if p.Learn != "" {
		// Before anything runs: a run learned into a file that cannot
		// take it is a run for nothing.
		if err := supervise.CheckProfile(p.Learn); err != nil {
			io.WriteString(p.Stderr, execcli.Tool+": --learn "+err.Error()+"; nothing was run\n")
			return execcli.ExitUsage
		}
		ws, err = supervise.Learn(context.Background(), c, p.Learn)
	} else {
		if p.Kind != execcli.KindELF || !p.Restricted {
			io.WriteString(p.Stderr, execcli.Tool+": "+p.Path+": nothing to explain: no sysrestrict note and no --deny\n")
			return execcli.ExitCannotRun
		}
		c.File = os.NewFile(uintptr(p.File.Fd), p.Path)
		ws, err = supervise.Explain(context.Background(), c, p.Note, p.Deny, p.Actions)
	}
	var pe *supervise.ProfileError
	switch {
	case errors.As(err, &pe):
		io.WriteString(p.Stderr, execcli.Tool+": --learn "+err.Error()+"\n")
		return execcli.ExitUsage
	case errors.Is(err, supervise.ErrNotStarted):
		// The child said why; its status is 125 or 126.
	case err != nil:
		io.WriteString(p.Stderr, execcli.Tool+": "+p.Path+": "+err.Error()+"\n")
		return execcli.ExitUsage
	}
	supervise.Exit(ws)
	return execcli.ExitUsage // not reached
}
