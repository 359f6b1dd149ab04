package elfnote

import (
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Options control Stamp and Remove.
type Options struct {
	// Output, if set, names the file to write the result to; the input is
	// left untouched. "" writes the input file itself.
	Output string

	// DryRun computes what would change and changes nothing.
	DryRun bool

	// Replace writes exactly the given set. Without it Stamp writes the
	// union of the given set and the file's current one, computed under
	// the file's lock, so a stamp never silently loosens a binary and two
	// concurrent stampers never lose each other's restrictions.
	Replace bool

	// Embed makes the stamp self-enforcing (SPEC section 5,
	// docs/embed.md): Stamp also writes the start-up stub that installs
	// the note's filter into the file and points e_entry at it. A file
	// that is embedded already stays embedded whether or not Embed is set
	// (its stub's filter is rewritten with the note): only Remove takes
	// the stub out. x86_64 and aarch64 programs only; anything else is
	// ErrUnsupported.
	Embed bool

	// Actions is what the restricted syscalls of set get (Stamp): a
	// default and per-syscall overrides, each of a syscall set restricts.
	// The zero value kills every one, and then no NT_SYSRESTRICT_ACTION
	// note is written. Without Replace, each syscall of the union gets the
	// stricter of the file's action and this one (kill over errno over
	// log; of two errnos this one), and so does the default: an action is
	// only loosened with Replace.
	Actions Actions

	// Lift names syscalls to un-restrict: Stamp writes the union (or with
	// Replace the given set) minus Lift, computed under the file's lock
	// like the union. The one loosening that takes no Replace, for a
	// caller that names exactly what it loosens (sysrestrict-stamp
	// --permit). DENY_BEYOND is never lifted this way, and a lifted
	// syscall's action override goes with its restriction.
	Lift bitmap.Set

	// ModTime, if not zero, is the modification time a written file gets
	// (the CLI sets it from SOURCE_DATE_EPOCH); zero leaves the time of the
	// write, as strip(1) does.
	ModTime time.Time

	// Links are the file's other names (its hard links) that must go on
	// naming it. A write that replaces the file with a new one (the
	// rename, docs/stamping.md) gives each of them the new file too,
	// after the file itself: linked to a temporary name beside it and
	// renamed over it, so that a name is at any instant the old file or
	// the new one, never missing. Each must name the same file as name
	// when the write starts, or the write fails before it begins.
	// Ignored with Output.
	Links []string

	// KeepOtherNames: names of the file other than name and Links are not
	// the caller's to change (a tool working on one tree, and a hard link
	// to a file outside it). Such a file is never written in place, which
	// would change it under every name: it is replaced, and the other
	// names keep the old file.
	KeepOtherNames bool

	// DirSynced, if set, is called with each directory whose entries a
	// write replaced, instead of fsyncing it then: a caller writing many
	// files fsyncs each directory once, after all of them (SyncDir). The
	// renames are atomic either way; they are durable once that is done.
	DirSynced func(dir string)

	// hook, set by tests, runs before each step of a write; an error makes
	// the step fail.
	hook func(step string) error
	// noTmpfile, set by tests, writes the new file as a filesystem without
	// O_TMPFILE makes the stamper write it: named from the start.
	noTmpfile bool
}

// Result says what Stamp or Remove did, or would do with DryRun.
type Result struct {
	Path          string     // the file read: the input with symlinks resolved
	Output        string     // the file written ("" if nothing was written)
	Before, After bitmap.Set // the note's sets before and after
	Changed       bool       // the file's bytes change
	Strategy      Strategy   // how room was found (StrategyNone if unchanged)
	InPlace       bool       // written in place (strategy 1, bits only added)
	Exact         bool       // Remove: the file is restored byte for byte
	Embedded      bool       // Stamp: the file is embedded after the stamp (Options.Embed, or it was already)
	DryRun        bool       // nothing was written

	// BeforeActions, AfterActions: the note's actions before and after.
	BeforeActions, AfterActions Actions

	// Reclaimed names the temporary file of a killed stamper that was
	// found beside the file and removed ("" if none; docs/stamping.md).
	Reclaimed string

	// Dropped lists the extended attributes the written file did not
	// keep: security.ima and security.evm, which sign the old bytes.
	Dropped []string
}
