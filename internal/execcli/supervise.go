package execcli

import "io"

// supervise is the one dispatch point of the supervising modes, --learn
// FILE and --explain (internal/supervise): they get the resolved Plan —
// PROGRAM found, opened, its note read and --deny stacked on it (for
// --learn, only found and opened) — and return the loader's exit status.
//
// Until internal/supervise is wired in here, both answer that they are not
// available yet, with status 125.
func supervise(p *Plan, o *options) int {
	mode := "--explain"
	if o.learn != "" {
		mode = "--learn"
	}
	io.WriteString(p.Stderr, tool+": "+mode+" is not available yet in this build\n")
	return ExitUsage
}
