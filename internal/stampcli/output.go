package stampcli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// printer writes what happened to each file: a line a person can read, or
// one JSON object per file with --json. Errors and warnings go to stderr;
// -q keeps only errors.
type printer struct {
	stdout, stderr io.Writer
	quiet, json    bool
	warned         map[string]bool
}

// fileJSON is the --json record of one file, for every mode.
type fileJSON struct {
	File       string   `json:"file"`
	Output     string   `json:"output,omitempty"`
	ABI        string   `json:"abi,omitempty"`
	Stamped    *bool    `json:"stamped,omitempty"`
	Changed    *bool    `json:"changed,omitempty"`
	DryRun     bool     `json:"dry_run,omitempty"`
	Strategy   string   `json:"strategy,omitempty"`
	Restricted []string `json:"restricted,omitempty"`
	Numbers    []int    `json:"numbers,omitempty"`
	DenyBeyond *bool    `json:"deny_beyond,omitempty"`
	Added      []string `json:"added,omitempty"`
	Lifted     []string `json:"lifted,omitempty"`
	Missing    []string `json:"missing,omitempty"`
	OK         *bool    `json:"ok,omitempty"`
	Error      string   `json:"error,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func (p *printer) emit(rec fileJSON) {
	if p.json {
		json.NewEncoder(p.stdout).Encode(rec)
	}
}

func (p *printer) fail(name string, err error) {
	if p.json {
		p.emit(fileJSON{File: name, Error: err.Error()})
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, name+": ") { // elfnote.ReadFile names the file itself
		msg = name + ": " + msg
	}
	fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s\n", msg)
}

// note tells a person something that is neither an error nor a warning
// about the policy.
func (p *printer) note(name, msg string) {
	if !p.quiet {
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s: %s\n", name, msg)
	}
}

func (p *printer) warn(name string, ws []bitmap.Warning) {
	if p.quiet {
		return
	}
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	for _, w := range ws {
		// The same advice for file after file of one build is noise:
		// say it once, naming the first file it applies to.
		if p.warned[w.Msg] {
			continue
		}
		p.warned[w.Msg] = true
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: warning: %s: %s\n", name, w.Msg)
	}
}

// stamped reports a stamp.
func (p *printer) stamped(name string, r *elfnote.Result, req request) {
	abi := r.After.ABI()
	added, lifted := r.After.Difference(r.Before), r.Before.Difference(r.After)
	if p.json {
		p.emit(fileJSON{File: name, Output: req.output, ABI: abi.String(), Changed: ptr(r.Changed),
			DryRun: req.dryRun, Strategy: r.Strategy.String(), Added: nameList(added), Lifted: nameList(lifted),
			Numbers: r.After.Numbers(), DenyBeyond: ptr(r.After.DenyBeyond())})
		return
	}
	if p.quiet {
		return
	}
	if req.output != "" {
		name += " -> " + req.output
	}
	var what string
	if n := added.Len(); n > 0 {
		what = fmt.Sprintf("+%d restricted (%s)", n, names(added, 8))
	}
	if n := lifted.Len(); n > 0 {
		what = join(what, fmt.Sprintf("-%d lifted (%s)", n, names(lifted, 8)))
	}
	switch {
	case r.After.DenyBeyond() && !r.Before.DenyBeyond():
		what = join(what, "numbers from 512 up restricted")
	case !r.After.DenyBeyond() && r.Before.DenyBeyond():
		what = join(what, "numbers from 512 up lifted")
	}
	switch {
	case what != "":
	case r.Changed && req.output != "":
		what = "copied, restrictions unchanged"
	case r.Changed:
		what = "note added, nothing restricted"
	default:
		what = "unchanged"
	}
	total := fmt.Sprintf("%d total", r.After.Len())
	if r.After.DenyBeyond() {
		total += " and 512+"
	}
	suffix := ""
	if req.dryRun && r.Changed {
		suffix = " (dry run: nothing written)"
	}
	fmt.Fprintf(p.stdout, "%s: %s; %s%s\n", name, what, total, suffix)
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

func (p *printer) notStamped(name string) {
	if p.json {
		p.emit(fileJSON{File: name, Stamped: ptr(false), Changed: ptr(false)})
	} else if !p.quiet {
		fmt.Fprintf(p.stdout, "%s: not stamped, nothing to remove\n", name)
	}
}

func (p *printer) removed(name string, result *elfnote.Result, req request) {
	if p.json {
		p.emit(fileJSON{File: name, Output: req.output, Changed: ptr(result.Changed), DryRun: req.dryRun, Strategy: result.Strategy.String()})
		return
	}
	if p.quiet {
		return
	}
	switch {
	case req.dryRun:
		fmt.Fprintf(p.stdout, "%s: note would be removed (dry run: nothing written)\n", name)
	default:
		fmt.Fprintf(p.stdout, "%s: note removed\n", name)
	}
}

func (p *printer) show(name string, f *elfnote.File) {
	s := f.Set.WithABI(f.ABI)
	if p.json {
		rec := fileJSON{File: name, ABI: f.ABI.String(), Stamped: ptr(f.Stamped)}
		if f.Stamped {
			rec.Restricted = nameList(s)
			if rec.Restricted == nil {
				rec.Restricted = []string{}
			}
			rec.Numbers = s.Numbers()
			rec.DenyBeyond = ptr(s.DenyBeyond())
		}
		p.emit(rec)
		return
	}
	abi := f.ABI.String()
	if !f.ABI.Known() {
		abi = fmt.Sprintf("machine %v (numbers only)", f.Machine)
	}
	switch {
	case !f.Stamped:
		fmt.Fprintf(p.stdout, "%s: %s, not stamped\n", name, abi)
	case s.DenyBeyond():
		// An allowlist is easier to read as what it keeps.
		kept := s.Complement()
		fmt.Fprintf(p.stdout, "%s: %s, allowlist: %d of 0..511 and every number from 512 up restricted; allowed (%d): %s\n",
			name, abi, s.Len(), kept.Len(), names(kept, 0))
	case s.IsEmpty():
		fmt.Fprintf(p.stdout, "%s: %s, stamped, nothing restricted\n", name, abi)
	default:
		fmt.Fprintf(p.stdout, "%s: %s, %d restricted: %s\n", name, abi, s.Len(), names(s, 0))
	}
}

// check reports whether t's note restricts at least what was asked.
func (p *printer) check(t target) bool {
	have := t.f.Set.WithABI(t.f.ABI)
	missing := t.want.Difference(have)
	ok := t.f.Stamped && missing.IsEmpty()
	if p.json {
		p.emit(fileJSON{File: t.name, ABI: t.f.ABI.String(), Stamped: ptr(t.f.Stamped), OK: ptr(ok), Missing: nameList(missing)})
		return ok
	}
	switch {
	case !t.f.Stamped:
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s: not stamped\n", t.name)
	case !ok:
		what := names(missing, 12)
		if missing.DenyBeyond() {
			what = join(what, "numbers from 512 up")
		}
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s: does not restrict %s\n", t.name, what)
	case !p.quiet:
		fmt.Fprintf(p.stdout, "%s: ok\n", t.name)
	}
	return ok
}
