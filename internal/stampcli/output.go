package stampcli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// settings are what applies to the whole run, whatever each FILE's
// request.
type settings struct {
	mode    mode
	output  string // -o: the one FILE's result goes there
	dryRun  bool
	workers int       // -j
	modTime time.Time // a written file's mtime: SOURCE_DATE_EPOCH, or zero for the time of the write
	dirs    *dirSet   // the directories the run renamed files in, fsynced once at its end
}

// result is what a job did to its file: everything the renderer says
// about it, and nothing the renderer has to look up.
type result struct {
	name string
	mode mode
	err  error // the file failed (check: could not be read)

	file *elfnote.File // show, check: the file as read

	res      *elfnote.Result // stamp, remove
	links    []string        // stamp: the file's hard links, which name the stamped file too
	noNote   bool            // remove: there was no note to remove; stamp (--permit only): nor one to lift from
	repaired error           // stamp: the damage that restamping repaired

	missing   bitmap.Set       // check: what the file should restrict and does not
	wantEmbed bool             // check: the file must be embedded (--embed)
	weaker    []string         // check: where the file's action is weaker than asked
	warnings  []bitmap.Warning // stamp: advice about the set now in the file
	unallowed bitmap.Set       // stamp: allowed by the allowlist asked for, restricted by the file's (allowlists intersect)
	notTaken  []string         // stamp: actions asked that the note's stricter ones kept out (no --replace)
}

// errShort is a --check failure: the file restricts less than asked.
var errShort = errors.New("restricts less than asked")

// errNotEmbedded is a --check --embed failure: the file is stamped but not
// embedded.
var errNotEmbedded = errors.New("not embedded: its note is enforced only through sysrestrict-exec; stamp it with --embed, as the last build step")

// failure returns the error that makes this file count as failed, or nil.
func (r *result) failure() error {
	switch {
	case r.err != nil:
		return r.err
	case r.mode != modeCheck:
		return nil
	case !r.file.Stamped:
		return &fs.PathError{Op: "check", Path: r.name, Err: elfnote.ErrNoNote}
	case !r.missing.IsEmpty():
		return &fs.PathError{Op: "check", Path: r.name, Err: errShort}
	case r.wantEmbed && r.file.Embed == nil:
		return &fs.PathError{Op: "check", Path: r.name, Err: errNotEmbedded}
	case len(r.weaker) > 0:
		return &fs.PathError{Op: "check", Path: r.name, Err: errWeaker}
	}
	return nil
}

// message is the line for a failed FILE after "sysrestrict-stamp: ": the
// file's name, then what went wrong. An error that names the file itself
// (a *fs.PathError of this very path, as elfnote.ReadFile, Stamp and
// Remove return) does not get the name twice. Only the error itself is
// looked at, not what it wraps.
func message(name string, err error) string {
	for {
		pe, ok := err.(*fs.PathError)
		if !ok || pe.Path != name {
			break
		}
		err = pe.Err
	}
	return name + ": " + err.Error()
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
	Allowed    []string `json:"allowed,omitempty"` // an allowlist's: every name of 0..511 it does not restrict
	DenyBeyond *bool    `json:"deny_beyond,omitempty"`
	Embedded   *bool    `json:"embedded,omitempty"`   // stamped files: the note is enforced by a start-up stub (--embed)
	StubSize   uint64   `json:"stub_size,omitempty"`  // an embedded file's stub, in bytes
	FilterLen  int      `json:"filter_len,omitempty"` // the stub's filter, in instructions`
	Added      []string `json:"added,omitempty"`
	Lifted     []string `json:"lifted,omitempty"`
	Missing    []string `json:"missing,omitempty"`
	OK         *bool    `json:"ok,omitempty"`
	Error      string   `json:"error,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	Dropped    []string `json:"dropped,omitempty"` // extended attributes the written file did not keep
	Links      []string `json:"links,omitempty"`   // --policy: the file's other names under the root

	// Action is the note's default action, Overrides each syscall's own
	// (by name), as --action and LIST's :ACTION spell them; Weaker
	// (--check) where the file's action is weaker than asked ("ptrace
	// log (asked kill)"); NotTaken (stamp) the actions asked for that
	// the note's stricter ones kept out.
	Action    string            `json:"action,omitempty"`
	Overrides map[string]string `json:"overrides,omitempty"`
	Weaker    []string          `json:"weaker,omitempty"`
	NotTaken  []string          `json:"not_taken,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// record returns r as its --json record.
func (r *result) record(s settings) fileJSON {
	if r.err != nil {
		return fileJSON{File: r.name, Error: message(r.name, r.err)}
	}
	switch r.mode {
	case modeStamp:
		if r.noNote {
			return fileJSON{File: r.name, Stamped: ptr(false), Changed: ptr(false), DryRun: s.dryRun}
		}
		after := r.res.After
		rec := fileJSON{File: r.name, Output: s.output, ABI: after.ABI().String(), Changed: ptr(r.res.Changed),
			DryRun: s.dryRun, Strategy: r.res.Strategy.String(),
			Added: nameList(after.Difference(r.res.Before)), Lifted: nameList(r.res.Before.Difference(after)),
			Numbers: after.Numbers(), DenyBeyond: ptr(after.DenyBeyond()), Allowed: allowedList(after), Embedded: ptr(r.res.Embedded), NotTaken: r.notTaken}
		rec.Action, rec.Overrides = actionsJSON(after.ABI(), r.res.AfterActions)
		for _, w := range r.warnings {
			rec.Warnings = append(rec.Warnings, w.Msg)
		}
		if msg := r.unallowedMsg(); msg != "" {
			rec.Warnings = append(rec.Warnings, msg)
		}
		rec.Dropped = r.res.Dropped
		rec.Links = r.links
		return rec
	case modeRemove:
		if r.noNote {
			return fileJSON{File: r.name, Stamped: ptr(false), Changed: ptr(false)}
		}
		return fileJSON{File: r.name, Output: s.output, Changed: ptr(r.res.Changed), DryRun: s.dryRun, Strategy: r.res.Strategy.String(), Dropped: r.res.Dropped}
	case modeCheck:
		rec := fileJSON{File: r.name, ABI: r.file.ABI.String(), Stamped: ptr(r.file.Stamped), OK: ptr(r.failure() == nil),
			Missing: nameList(r.missing), Weaker: r.weaker}
		if r.file.Stamped {
			rec.Embedded = ptr(r.file.Embed != nil)
		}
		return rec
	}
	f := r.file
	rec := fileJSON{File: r.name, ABI: f.ABI.String(), Stamped: ptr(f.Stamped)}
	if f.Stamped {
		set := f.Set.WithABI(f.ABI)
		rec.Restricted = nameList(set)
		if rec.Restricted == nil {
			rec.Restricted = []string{}
		}
		rec.Numbers = set.Numbers()
		rec.DenyBeyond = ptr(set.DenyBeyond())
		rec.Allowed = allowedList(set)
		rec.Embedded = ptr(f.Embed != nil)
		if e := f.Embed; e != nil {
			rec.StubSize, rec.FilterLen = e.Size, e.FilterLen
		}
		rec.Action, rec.Overrides = actionsJSON(f.ABI, f.Actions)
	}
	return rec
}

// actionsJSON returns a note's actions for its --json record: the
// default, and each override by syscall name.
func actionsJSON(abi bitmap.ABI, a elfnote.Actions) (string, map[string]string) {
	var ov map[string]string
	for nr, o := range a.Overrides {
		if ov == nil {
			ov = map[string]string{}
		}
		ov[abi.Name(nr)] = o.Name()
	}
	return a.Default.Name(), ov
}

// allowedList is what the allowlist s allows, by name (empty, not nil, if
// nothing); nil for a deny list.
func allowedList(s bitmap.Set) []string {
	if !s.DenyBeyond() {
		return nil
	}
	if l := nameList(s.Complement()); l != nil {
		return l
	}
	return []string{}
}

// renderer writes each result, in the order it is given them (FILE
// order): a line a person can read, or with --json one record per file.
// Errors and warnings go to stderr; -q keeps only errors. It runs on one
// goroutine, so warned needs no lock, and a warning said once per run names
// the first file in FILE order it applies to.
type renderer struct {
	stdout, stderr io.Writer
	quiet, json    bool
	settings
	warned map[string]bool
	failed []error // the failed files' errors, in FILE order
}

func (p *renderer) render(r result) {
	if err := r.failure(); err != nil {
		p.failed = append(p.failed, err)
	}
	if p.json {
		json.NewEncoder(p.stdout).Encode(r.record(p.settings))
	}
	if r.err != nil {
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s\n", message(r.name, r.err))
		return
	}
	switch r.mode {
	case modeStamp:
		if r.noNote {
			if !p.json && !p.quiet {
				p.notStamped(r.name)
			}
			return
		}
		if r.repaired != nil && !p.dryRun {
			p.note(r.name, "repaired a stamp that a later tool had damaged ("+r.repaired.Error()+")")
		}
		p.warn(r.name, r.warnings)
		if msg := r.unallowedMsg(); msg != "" && !p.quiet {
			fmt.Fprintf(p.stderr, "sysrestrict-stamp: warning: %s: %s\n", r.name, msg)
		}
		if len(r.notTaken) > 0 {
			p.note(r.name, "without --replace a stamp never loosens an action, so the note's stricter ones stay: "+limited(r.notTaken, 8))
		}
		p.written(r.name, r.res)
		if !p.json && !p.quiet {
			p.stamped(r.name, r.res, r.links, r.file != nil && r.file.Stamped)
		}
	case modeRemove:
		p.written(r.name, r.res)
		if !p.json && !p.quiet {
			p.removed(r)
		}
	case modeShow:
		if !p.json {
			p.show(r.name, r.file)
		}
	case modeCheck:
		if !p.json {
			p.check(r)
		}
	}
}

// note tells a person something that is neither an error nor a warning
// about the policy.
func (p *renderer) note(name, msg string) {
	if !p.quiet {
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s: %s\n", name, msg)
	}
}

// written says what writing the file did beside its note: extended
// attributes it could not keep, and a killed stamper's leftover it
// removed.
func (p *renderer) written(name string, res *elfnote.Result) {
	if res == nil || p.quiet {
		return
	}
	if len(res.Dropped) > 0 {
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: warning: %s: dropped %s: they sign the old bytes; sign the stamped file again (evmctl ima_sign)\n", name, strings.Join(res.Dropped, " and "))
	}
	if res.Reclaimed != "" {
		p.note(name, "removed "+res.Reclaimed+", left by a stamper that was killed")
	}
}

func (p *renderer) warn(name string, ws []bitmap.Warning) {
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

// unallowedMsg says which syscalls the allowlist asked for allows and the
// file's allowlist keeps restricted, or "".
func (r *result) unallowedMsg() string {
	n := r.unallowed.Len()
	if n == 0 {
		return ""
	}
	list := strings.Join(nameList(r.unallowed), ",")
	return fmt.Sprintf("the allowlist asked for allows %d %s that the file's allowlist restricts, and an allowlist on top of one allows only what both allow: %s %s still restricted; to allow %s: --permit %s",
		n, plural(n, "syscall", "syscalls"), names(r.unallowed, 8), isAre(n), plural(n, "it", "them"), list)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func isAre(n int) string { return plural(n, "is", "are") }

// notStamped reports a --permit on a file that carries no note: nothing
// to lift, nothing written.
func (p *renderer) notStamped(name string) {
	what := "not stamped, nothing to lift"
	if p.output != "" {
		what += "; nothing written to " + p.output
	}
	fmt.Fprintf(p.stdout, "%s: %s\n", name, what)
}

// stamped reports a stamp; wasStamped: the file carried a note before. Of
// an allowlist the line says what it allows, which is what a person reads
// it for: the hundreds of names a new one restricts are left to --show
// and --json.
func (p *renderer) stamped(name string, r *elfnote.Result, links []string, wasStamped bool) {
	added, lifted := r.After.Difference(r.Before), r.Before.Difference(r.After)
	if p.output != "" {
		name += " -> " + p.output
	}
	var what string
	switch n := added.Len(); {
	case n > 0 && r.After.DenyBeyond() && !r.Before.DenyBeyond():
		what = fmt.Sprintf("+%d restricted", n)
	case n > 0:
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
	if ch := actionChanges(r); len(ch) > 0 && wasStamped {
		what = join(what, limited(ch, 8))
	}
	switch {
	case what != "":
	case r.Changed && p.output != "":
		what = "copied, restrictions unchanged"
	case r.Changed:
		what = "note added, nothing restricted"
	default:
		what = "unchanged"
	}
	total := fmt.Sprintf("%d total", r.After.Len())
	if r.After.DenyBeyond() {
		kept := r.After.Complement()
		total += fmt.Sprintf(" and 512+: allows %d (%s)", kept.Len(), names(kept, 8))
	}
	if !r.AfterActions.Equal(r.BeforeActions) {
		total += "; actions: " + r.AfterActions.Describe(r.After.ABI())
	}
	suffix := ""
	if p.dryRun && r.Changed {
		suffix = " (dry run: nothing written)"
	}
	if r.Embedded {
		total += "; embedded"
	}
	if len(links) > 0 {
		total += "; hard links kept: " + strings.Join(links, ", ")
	}
	fmt.Fprintf(p.stdout, "%s: %s; %s%s\n", name, what, total, suffix)
}

// actionChanges lists what a stamp changed of the actions of the
// syscalls the note restricted before and after: "ptrace log -> kill",
// and the default's change.
func actionChanges(r *elfnote.Result) []string {
	b, a := r.BeforeActions, r.AfterActions
	if a.Equal(b) {
		return nil
	}
	var out []string
	if b.Default != a.Default {
		out = append(out, "default "+b.Default.Name()+" -> "+a.Default.Name())
	}
	both := r.Before.WithABI(r.After.ABI()).Intersect(r.After)
	for nr := range both.All() {
		if x, y := b.For(nr), a.For(nr); x != y {
			out = append(out, r.After.ABI().Name(nr)+" "+x.Name()+" -> "+y.Name())
		}
	}
	return out
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

func (p *renderer) removed(r result) {
	switch {
	case r.noNote:
		fmt.Fprintf(p.stdout, "%s: not stamped, nothing to remove\n", r.name)
	case p.dryRun:
		fmt.Fprintf(p.stdout, "%s: note would be removed (dry run: nothing written)\n", r.name)
	default:
		fmt.Fprintf(p.stdout, "%s: note removed\n", r.name)
	}
}

func (p *renderer) show(name string, f *elfnote.File) {
	s := f.Set.WithABI(f.ABI)
	abi := f.ABI.String()
	if !f.ABI.Known() {
		abi = fmt.Sprintf("machine %v (numbers only)", f.Machine)
	}
	if e := f.Embed; e != nil {
		abi += fmt.Sprintf(", embedded (start-up stub of %d bytes, filter of %d instructions)", e.Size, e.FilterLen)
	}
	switch {
	case !f.Stamped:
		fmt.Fprintf(p.stdout, "%s: %s, not stamped\n", name, abi)
	case s.DenyBeyond():
		// An allowlist is easier to read as what it keeps.
		kept := s.Complement()
		fmt.Fprintf(p.stdout, "%s: %s, allowlist: %d of 0..511 and every number from 512 up restricted; allowed (%d): %s%s\n",
			name, abi, s.Len(), kept.Len(), names(kept, 0), showActions(f))
	case s.IsEmpty():
		fmt.Fprintf(p.stdout, "%s: %s, stamped, nothing restricted%s\n", name, abi, showActions(f))
	default:
		fmt.Fprintf(p.stdout, "%s: %s, %d restricted: %s%s\n", name, abi, s.Len(), names(s, 0), showActions(f))
	}
}

// showActions is --show's word on a note's actions: nothing when every
// restricted syscall is killed (as every note said before actions
// existed), else the default and each override by name.
func showActions(f *elfnote.File) string {
	if f.Actions.Kill() {
		return ""
	}
	return "; actions: " + f.Actions.Describe(f.ABI)
}

// limited joins list, at most n of its entries.
func limited(list []string, n int) string {
	if len(list) > n {
		list = append(list[:n:n], fmt.Sprintf("and %d more", len(list)-n))
	}
	return strings.Join(list, ", ")
}

// check reports whether the file's note restricts at least what was asked,
// with actions at least as strict, and is embedded if --embed asks.
func (p *renderer) check(r result) {
	if !r.file.Stamped {
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s: not stamped\n", r.name)
		return
	}
	ok := true
	if !r.missing.IsEmpty() {
		what := names(r.missing, 12)
		if r.missing.DenyBeyond() {
			what = join(what, "numbers from 512 up")
		}
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s: does not restrict %s\n", r.name, what)
		ok = false
	}
	if r.wantEmbed && r.file.Embed == nil {
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s\n", message(r.name, errNotEmbedded))
		ok = false
	}
	if len(r.weaker) > 0 {
		fmt.Fprintf(p.stderr, "sysrestrict-stamp: %s: gives a weaker action than asked (kill over errno over log): %s\n", r.name, limited(r.weaker, 12))
		ok = false
	}
	if ok && !p.quiet {
		fmt.Fprintf(p.stdout, "%s: ok\n", r.name)
	}
}
