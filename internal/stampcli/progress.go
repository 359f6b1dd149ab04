package stampcli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressDelay is how long a run goes before it shows progress: a run
// shorter than that says nothing it would have to erase. Tests set it to
// 0.
var progressDelay = time.Second

// progressEvery is how often the progress line is redrawn.
const progressEvery = 100 * time.Millisecond

// progress shows how far a long run is, on a terminal: one line on stderr,
// "sysrestrict-stamp: stamping 412/1000 files", redrawn in place and
// erased before anything else is written and when the run ends, so that
// it never mixes with the output. It is used from the run's goroutine
// only. A nil *progress shows nothing: stderr is not a terminal, or -q or
// --json was given.
type progress struct {
	w     io.Writer
	start time.Time
	drawn time.Time // when the line was last drawn
	width int       // the width of the line on the terminal; 0: none shown
	phase string
}

// newProgress returns a progress for a run writing to stderr, or nil when
// there is to be none.
func newProgress(stderr io.Writer, quiet, json bool) *progress {
	if quiet || json {
		return nil
	}
	f := terminal(stderr)
	if f == nil {
		return nil
	}
	return &progress{w: f, start: time.Now()}
}

// update shows that done of total files are through phase, once the run
// has lasted progressDelay, at most every progressEvery (a new phase is
// shown at once).
func (p *progress) update(phase string, done, total int) {
	if p == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.start) < progressDelay || (phase == p.phase && now.Sub(p.drawn) < progressEvery) {
		return
	}
	line := fmt.Sprintf("sysrestrict-stamp: %s %d/%d files", phase, done, total)
	// Blanks over what is left of a longer line drawn before.
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", max(p.width-len(line), 0)))
	p.drawn, p.width, p.phase = now, max(p.width, len(line)), phase
}

// hide erases the line, if one is shown: before the run writes anything
// else, and at its end. Blanks, not an escape sequence: it works on every
// terminal.
func (p *progress) hide() {
	if p == nil || p.width == 0 {
		return
	}
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	p.width = 0
}
