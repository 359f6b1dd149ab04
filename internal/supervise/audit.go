package supervise

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// Hit is one restricted syscall that an audited run let through, by one
// executable.
type Hit struct {
	Exe   profile.ID // what made it; ID{} when its task was gone before it could be read
	ABI   bitmap.ABI
	Nr    int    // in ABI's table (x32: without the x32 bit); negative: no syscall number at all
	Arch  uint32 // the audit arch seccomp reported
	Count uint64
	Pids  []int // the first threads (their ids) that made it, at most maxPids
}

// maxPids bounds Hit.Pids.
const maxPids = 8

// AuditReport is what Audit saw.
type AuditReport struct {
	// Program is PROGRAM's identity, what every hit ran under.
	Program profile.ID
	// Hits is sorted by executable, ABI and number.
	Hits []Hit
	// Profile holds the hits as a profile of one run (mode "audit"): what
	// --allow-profile adds to an allowlist so that the run would pass.
	Profile *profile.Profile
}

// WriteAuditSummary writes, one line each, the restricted syscalls r
// records (by name, number, ABI, count, executable and thread ids, and
// what restricted each), then where they were recorded and how to allow
// them: the summary --audit prints on stderr at exit. stamped names
// the file whose note was enforced (PROGRAM as found; for a script, its
// interpreter); note and deny are what Audit enforced, act the actions a
// run enforced would give (the note's);
// profilePath is the file the hits were merged into, "" if they could not
// be.
func WriteAuditSummary(w io.Writer, r *AuditReport, stamped, profilePath string, note, deny bitmap.Set, act elfnote.Actions) {
	const tool = "sysrestrict-exec: "
	var b strings.Builder
	if len(r.Hits) == 0 {
		if profilePath == "" {
			fmt.Fprintf(&b, "%s--audit %s: no restricted syscall was made\n", tool, stamped)
		} else {
			fmt.Fprintf(&b, "%s--audit %s: no restricted syscall was made (the run is recorded in %s)\n", tool, stamped, profilePath)
		}
		io.WriteString(w, b.String())
		return
	}
	var calls uint64
	for _, h := range r.Hits {
		calls += h.Count
	}
	fmt.Fprintf(&b, "%s--audit %s: %s of %s restricted syscall%s let through; enforced, each would get its action:\n",
		tool, stamped, plural(calls, "call"), strconv.Itoa(len(r.Hits)), map[bool]string{true: "", false: "s"}[len(r.Hits) == 1])
	loosen := bitmap.NewSet(note.ABI()) // hits the note restricts, of its ABI
	fromDeny, foreign := false, false
	for _, h := range r.Hits {
		exe := h.Exe.Path
		if exe == "" {
			exe = "a process gone before it could be named"
		}
		var pids []string
		for _, p := range slices.Sorted(slices.Values(h.Pids)) {
			pids = append(pids, strconv.Itoa(p))
		}
		fmt.Fprintf(&b, "%s  %s: %s by %s (%s %s): ", tool, hitName(h), plural(h.Count, "call"), exe,
			map[bool]string{true: "pid", false: "pids"}[len(pids) == 1], strings.Join(pids, ", "))
		a := act.Default // what the filter gives all but the bitmap's own numbers
		switch {
		case h.Nr < 0:
			b.WriteString("no syscall number; the filter stops it, and no stamp allows it")
			foreign = true
		case h.ABI != note.ABI():
			fmt.Fprintf(&b, "another ABI than the note's (%s); no stamp allows it", note.ABI())
			foreign = true
		case h.Nr >= bitmap.Size:
			fmt.Fprintf(&b, "a number from %d up, all restricted by the note's allowlist (DENY_BEYOND); no stamp allows one", bitmap.Size)
			foreign = true
		case !note.Has(h.Nr):
			b.WriteString("restricted by --deny")
			fromDeny = true
		case note.DenyBeyond():
			b.WriteString("restricted by the note's allowlist")
			loosen.Add(h.Nr)
			a = act.For(h.Nr)
		default:
			b.WriteString("restricted by the note")
			loosen.Add(h.Nr)
			a = act.For(h.Nr)
		}
		b.WriteString("; enforced: " + actionEffect(a) + "\n")
	}
	if profilePath == "" {
		fmt.Fprintf(&b, "%snot recorded in a profile\n", tool)
		io.WriteString(w, b.String())
		return
	}
	fmt.Fprintf(&b, "%srecorded in %s", tool, profilePath)
	switch {
	case loosen.IsEmpty():
	case note.DenyBeyond():
		fmt.Fprintf(&b, "; to allow them, stamp again from the profile the allowlist came from and this one: sysrestrict-stamp --replace --allow-profile PROFILE --allow-profile %s %s",
			shellQuote(profilePath), shellQuote(stamped))
	default:
		rest := note.Difference(loosen)
		if rest.IsEmpty() {
			fmt.Fprintf(&b, "; to allow them: sysrestrict-stamp --remove %s", shellQuote(stamped))
		} else {
			fmt.Fprintf(&b, "; to allow them: sysrestrict-stamp --replace --deny %s %s", strings.Trim(rest.String(), "{}"), shellQuote(stamped))
		}
	}
	if fromDeny {
		b.WriteString("; drop from --deny what it restricted")
	}
	if foreign {
		b.WriteString("; what no stamp allows, a kill-mode run dies of")
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
}

// actionEffect says what action a does to a restricted syscall.
func actionEffect(a filter.Action) string {
	switch {
	case a == filter.Kill():
		return "kill"
	case a == filter.Log():
		return "log (it runs)"
	}
	if _, ok := a.IsErrno(); ok {
		return a.Name() + " (it fails, the program goes on)"
	}
	return a.Name()
}

// hitName is a hit as the summary names it: "fstat (5, x86_64)", or
// "syscall 39 of ABI x32".
func hitName(h Hit) string {
	if h.Nr < 0 || !h.ABI.Known() {
		return fmt.Sprintf("syscall %d of arch %#x", h.Nr, h.Arch)
	}
	return fmt.Sprintf("%s (%d, %s)", h.ABI.Name(h.Nr), h.Nr, h.ABI)
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatUint(n, 10) + " " + what + "s"
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+=:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
