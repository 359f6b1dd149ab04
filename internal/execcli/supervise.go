package execcli

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/sysrestrict/sysrestrict/internal/supervise"
)

// supervise is the one dispatch point of the supervising modes, --learn
// FILE and --explain, which internal/supervise implements. They get the
// resolved Plan — PROGRAM found, opened, its note read and --deny stacked
// on it (for --learn, only found and opened) — and end the loader the way
// PROGRAM ended. The loader binary is also the supervised child's launcher:
// cmd/sysrestrict-exec calls supervise.Init first.
func runSupervised(p *Plan, o *options) int {
	c := supervise.Config{Path: p.Path, Argv: p.Argv, Env: p.Env, Log: p.Stderr}
	var ws supervise.WaitStatus
	var err error
	if o.learn != "" {
		ws, err = supervise.Learn(context.Background(), c, o.learn)
	} else {
		if p.Kind != KindELF || !p.Restricted {
			io.WriteString(p.Stderr, tool+": "+p.Path+": nothing to explain: no sysrestrict note and no --deny\n")
			return ExitCannotRun
		}
		c.File = os.NewFile(uintptr(p.File.Fd), p.Path)
		ws, err = supervise.Explain(context.Background(), c, p.Note, p.Deny)
	}
	switch {
	case errors.Is(err, supervise.ErrNotStarted):
		// The child said why; its status is 125 or 126.
	case err != nil:
		io.WriteString(p.Stderr, tool+": "+p.Path+": "+err.Error()+"\n")
		return ExitUsage
	}
	supervise.Exit(ws)
	return ExitUsage // not reached
}
