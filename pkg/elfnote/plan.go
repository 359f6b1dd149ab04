package elfnote

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Strategy is how a plan makes room for the note; strategy.go has one
// function for each way, and docs/stamping.md says why each is safe.
// An undo record names the strategy that wrote it.
type Strategy int

const (
	StrategyNone      Strategy = iota // nothing to change
	StrategyRewrite                   // 1: rewrite the existing note's descriptors
	StrategyReuse                     // 2: the table stays (a PT_NULL entry, free bytes after it); the note after it or at a PT_LOAD's end
	StrategyMoveTable                 // 3: a copy of the table in a PT_LOAD's last page; the note with it or at another's end
	StrategyAppend                    // 4: table and note in a new PT_LOAD at the end
	StrategyRemove                    // removal of the note
)

var strategyNames = [...]string{"none", "rewrite", "reuse", "move-table", "append-load", "remove"}

func (s Strategy) String() string {
	if s >= 0 && int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// A Patch is bytes to write at a file offset.
type Patch struct {
	Off  int64
	Data []byte
}

// A Plan is a change to a file: keep its first Cut bytes, extend it with
// zeros to Size, then write Patches in order. Plans are computed from the
// headers alone (PlanStamp, PlanRemove) and applied to a copy of the file
// (Apply, or the safe writers of Stamp and Remove).
type Plan struct {
	Strategy Strategy
	Cut      int64
	Size     int64
	Patches  []Patch

	// Before and After are the note's sets before and after the change.
	Before, After bitmap.Set

	// BeforeActions and AfterActions are the note's actions before and
	// after the change (the zero value: kill for every restricted
	// syscall, no NT_SYSRESTRICT_ACTION note).
	BeforeActions, AfterActions Actions

	// AddsOnly: the plan only sets bits in the existing note's descriptors,
	// so a torn write leaves a note at least as strict as before.
	AddsOnly bool

	// Exact (removal): the plan restores the file as it was before it was
	// stamped, byte for byte: from the note's undo record, or, for a note
	// stamped before the record existed, because the headers show how.
	// A repaired stamp's record restores the repaired file, not the
	// original, and removing it is not Exact.
	Exact bool

	// Embedded: after the change the file is embedded, its start-up stub
	// installing the note's filter (Options.Embed, docs/embed.md).
	Embedded bool

	orig int64 // size of the file planned for
}

// Changed reports whether applying the plan changes anything.
func (p *Plan) Changed() bool {
	return p.Cut != p.orig || p.Size != p.orig || len(p.Patches) > 0
}

// Apply applies the plan to the bytes of the file it was computed for and
// returns the result. It may reuse b's storage.
func (p *Plan) Apply(b []byte) []byte {
	b = b[:p.Cut]
	if int64(len(b)) < p.Size {
		b = append(b, make([]byte, p.Size-int64(len(b)))...)
	}
	for _, pt := range p.Patches {
		copy(b[pt.Off:], pt.Data)
	}
	return b
}

func (p *Plan) patch(off uint64, data []byte) {
	p.Patches = append(p.Patches, Patch{Off: int64(off), Data: data})
}

// PlanStamp computes the plan that gives the file read through r a note
// holding exactly set (taken as a set of the file's ABI), every
// restricted syscall killed.
func PlanStamp(r io.ReaderAt, set bitmap.Set) (*Plan, error) {
	return PlanStampWith(r, set, Options{})
}

// PlanEmbed is PlanStamp with Options.Embed: the plan also gives the file
// the start-up stub that installs the note's filter (docs/embed.md), or
// rewrites the stub of a file already embedded.
func PlanEmbed(r io.ReaderAt, set bitmap.Set) (*Plan, error) {
	return PlanStampWith(r, set, Options{Embed: true})
}

// PlanStampWith is PlanStamp with the options that shape the note
// (Options.Actions, Options.Embed; the others are the writer's and
// ignored): the note records the actions (NT_SYSRESTRICT_ACTION) unless
// every restricted syscall is killed, and an embedded stub's filter
// enforces them. Every override must be of a syscall set restricts
// (filter.ErrOverride), and every action one a note records: kill, errno
// or log (filter.ErrAction).
func PlanStampWith(r io.ReaderAt, set bitmap.Set, opts Options) (*Plan, error) {
	im, err := parseLenient(r)
	if err != nil {
		return nil, err
	}
	return im.planStamp(set, opts.Actions, opts.Embed)
}

// PlanRemove computes the plan that removes the note from the file read
// through r, by replaying its undo record (or, for a note stamped before
// the record existed, from what the headers show). It fails with
// ErrNoNote if there is none.
func PlanRemove(r io.ReaderAt) (*Plan, error) {
	im, err := parseLenient(r)
	if err != nil {
		return nil, err
	}
	return im.planRemove()
}

// checkStampable refuses what the writer does not handle.
func (im *image) checkStampable() error {
	switch im.typ {
	case ET_EXEC, ET_DYN:
	default:
		return fmt.Errorf("%w: %v (only executables and shared objects are stamped)", ErrUnsupported, im.typ)
	}
	if im.extended {
		return fmt.Errorf("%w: extended section numbering", ErrUnsupported)
	}
	if len(im.progs) == 0 {
		return fmt.Errorf("%w: no program headers", ErrUnsupported)
	}
	if i := bytes.Index(im.head, []byte("UPX!")); i >= 0 {
		return fmt.Errorf("%w: packed with UPX (its stub would not keep the note); unpack it with upx -d, stamp it, and do not repack it", ErrUnsupported)
	}
	if err := im.checkRanges(); err != nil {
		return err
	}
	if err := im.checkLayout(); err != nil {
		return err
	}
	if end := im.imageEnd(); end < uint64(im.size) {
		return fmt.Errorf("%w: %d bytes after the end of the ELF image at offset %#x (a self-extracting payload or signature would be lost)", ErrAppendedData, uint64(im.size)-end, end)
	}
	if im.size > 1<<32 && im.class == ELFCLASS32 {
		return formatErr(0, "ELF32 file larger than 4 GiB")
	}
	return nil
}

// checkRanges checks that every segment and section lies in the file and
// every PT_LOAD in the address space, so that the planner's arithmetic
// cannot overflow.
func (im *image) checkRanges() error {
	size := uint64(im.size)
	space := uint64(1) << 32
	if im.class == ELFCLASS64 {
		space = 1 << 63
	}
	for i, p := range im.progs {
		off := int64(im.phoff) + int64(i*im.phentsize)
		if p.Filesz > 0 && (p.Off > size || p.Filesz > size-p.Off) {
			return formatErr(off, "segment %d (%v, offset %#x, size %d) lies outside the file", i, p.Type, p.Off, p.Filesz)
		}
		if p.Type == ptLoad && (p.Filesz > p.Memsz || p.Vaddr >= space || p.Memsz > space-p.Vaddr || p.Align > 1<<30) {
			return formatErr(off, "segment %d (PT_LOAD at %#x, size %d in memory, %d in the file) is malformed", i, p.Vaddr, p.Memsz, p.Filesz)
		}
	}
	for i, p := range im.progs {
		if n := uint64(len(im.progs) * im.phentsize); p.Type == ptPhdr && (p.Off != im.phoff || p.Filesz != n || p.Memsz != n) {
			return formatErr(int64(im.phoff)+int64(i*im.phentsize), "PT_PHDR (offset %#x, size %d) does not describe the program header table (offset %#x, size %d)", p.Off, p.Filesz, im.phoff, n)
		}
	}
	for i := range im.sects {
		s := &im.sects[i]
		if s.fileEnd() > s.Off && (s.Off > size || s.Size > size-s.Off) {
			return formatErr(int64(im.shoff)+int64(i*im.shentsize), "section %d (offset %#x, size %d) lies outside the file", i, s.Off, s.Size)
		}
	}
	return nil
}

// imageEnd returns the end of the last byte the headers account for.
func (im *image) imageEnd() uint64 {
	end := uint64(im.ehsize)
	end = max(end, im.phoff+uint64(len(im.progs)*im.phentsize))
	if len(im.sects) > 0 {
		end = max(end, im.shoff+uint64(len(im.sects)*im.shentsize))
	}
	for _, p := range im.progs {
		if p.Filesz > 0 {
			end = max(end, p.Off+p.Filesz)
		}
	}
	for i := range im.sects {
		if s := &im.sects[i]; s.fileEnd() > s.Off {
			end = max(end, s.fileEnd())
		}
	}
	if e := &im.scan.embed; im.noteFound && im.scan.embedOff != 0 && e.Offset <= uint64(im.size) && e.Size <= uint64(im.size)-e.Offset {
		// The start-up stub's bytes, even if a later tool changed its
		// PT_LOAD: the stamp is then damaged, not followed by data.
		end = max(end, e.Offset+e.Size)
	}
	return end
}

// planStamp plans a note holding exactly set with the actions act, with
// the start-up stub (whose filter enforces them) if embed is set or the
// file is embedded already: a stamp never silently drops enforcement,
// only Remove takes the stub out.
func (im *image) planStamp(set bitmap.Set, act Actions, embed bool) (*Plan, error) {
	if err := im.checkStampable(); err != nil {
		return nil, err
	}
	if im.damage != nil {
		if embed || im.scan.embedOff != 0 {
			return nil, fmt.Errorf("%w; an embedded stamp cannot be repaired: %s", im.damage, stubAdvice)
		}
		return im.planRepair(set, act)
	}
	if im.stubDamage != nil {
		return nil, im.stubDamage
	}
	f, err := im.file()
	if err != nil {
		return nil, err
	}
	set = set.WithABI(f.ABI)
	if act, err = act.canonical(set); err != nil {
		return nil, err
	}
	desc := encodeActions(im.bo, act)
	embed = embed || f.Embed != nil
	p := &Plan{Cut: im.size, Size: im.size, orig: im.size, Before: f.Set, After: set, BeforeActions: f.Actions, AfterActions: act, Embedded: f.Embed != nil}
	// The request for a new note on a file without one (im, or the file
	// after the old note's removal).
	rqFor := func(im *image, s bitmap.Set) (*request, error) { return noteRequest(desc), nil }
	if embed {
		rqFor = func(im *image, s bitmap.Set) (*request, error) { return im.embedRequest(s, act) }
	}
	if !f.Stamped {
		rq, err := rqFor(im, set)
		if err != nil {
			return nil, err
		}
		add, err := im.planAdd(rq, set, undoBase{})
		if err != nil {
			return nil, err
		}
		add.Before, add.After, add.BeforeActions, add.AfterActions = p.Before, p.After, p.BeforeActions, p.AfterActions
		return add, nil
	}
	if f.Set.Equal(set) && f.Actions.Equal(act) && embed == (f.Embed != nil) {
		return p, nil
	}
	if im.note.Shared && embed {
		return nil, fmt.Errorf("%w: --embed: the note was linked in at build time and shares its PT_NOTE with other notes, which leaves no room for the start-up stub's record; rebuild without it", ErrUnsupported)
	}
	if embed {
		// The stub's filter changes with the set and the actions, and
		// its size with the filter: remove the stamp (stub included),
		// then embed the original again. Never in place.
		return im.planRestamp(p, rqFor, set)
	}
	if im.note.Shared && im.note.FlagsOff == 0 && set.Flags() != 0 {
		return nil, fmt.Errorf("%w: the note was linked in at build time without an NT_SYSRESTRICT_FLAGS note, which DENY_BEYOND needs; add one to the build", ErrUnsupported)
	}
	// The action note keeps its place when it stays absent, or stays
	// present with as many overrides (its size).
	sameActions := im.note.ActionOff == 0 && desc == nil ||
		im.note.ActionOff != 0 && desc != nil && len(im.scan.actDesc) == len(desc)
	if im.note.Shared && !sameActions {
		return nil, fmt.Errorf("%w: the note was linked in at build time, and its NT_SYSRESTRICT_ACTION note (%d bytes) cannot become one of %d; give the build the note it needs", ErrUnsupported, len(im.scan.actDesc), len(desc))
	}
	if sameActions && (im.note.FlagsOff != 0 || set.Flags() == 0) {
		// Strategy 1: rewrite the descriptors in place. The undo
		// record, if any, stays as it is: it restores the file as it
		// was before the first stamp. Only a change that adds bits is
		// written in place (Stamp): a torn write of actions could
		// leave a note no reader accepts.
		p.Strategy = StrategyRewrite
		p.AddsOnly = set.Contains(f.Set) && f.Actions.Equal(act)
		bm := set.Bitmap()
		p.patch(uint64(im.note.BitmapOff), bm[:])
		if im.note.FlagsOff != 0 {
			b := make([]byte, 4)
			im.bo.PutUint32(b, set.Flags())
			p.patch(uint64(im.note.FlagsOff), b)
		}
		if desc != nil && !f.Actions.Equal(act) {
			p.patch(uint64(im.note.ActionOff), desc)
		}
		return p, nil
	}
	// The note must change its layout (DENY_BEYOND without a flags note,
	// an action note added, dropped, grown or shrunk): remove it, then
	// stamp the result.
	return im.planRestamp(p, rqFor, set)
}

// planRestamp plans a stamp that cannot keep the note's layout: the note
// is removed (by its undo record, or by the legacy removal), and the
// request rq makes of the result (from its headers: an embedded stamp's
// stub jumps to the original entry) is planned on it. The new undo record restores what the removal
// restores: the file as it was before it was first stamped if the
// removal is exact, and says so; a stamped file never carries two
// records.
func (im *image) planRestamp(p *Plan, rqFor func(*image, bitmap.Set) (*request, error), set bitmap.Set) (*Plan, error) {
	rm, err := im.planRemove()
	if err != nil {
		return nil, err
	}
	im2, err := parse(&overlay{base: im.r, plan: rm})
	if err != nil {
		return nil, fmt.Errorf("re-reading the file without its note: %w", err)
	}
	rq, err := rqFor(im2, set)
	if err != nil {
		return nil, err
	}
	base := undoBase{}
	if !rm.Exact {
		base.flags = undoInexact
	}
	add, err := im2.planAdd(rq, set, base)
	if err != nil {
		return nil, err
	}
	p.Strategy = add.Strategy
	p.Embedded = add.Embedded
	p.Cut = min(rm.Cut, add.Cut)
	p.Size = add.Size
	for _, pt := range rm.Patches {
		if pt.Off < p.Cut {
			pt.Data = pt.Data[:min(int64(len(pt.Data)), p.Cut-pt.Off)]
			p.Patches = append(p.Patches, pt)
		}
	}
	p.Patches = append(p.Patches, add.Patches...)
	return p, nil
}

// planRepair plans a new note for a stamp damaged by a later tool: the
// damaged note's program header and section are reused or replaced by
// a fresh note. Its undo record restores the file with the damaged
// note removed (removeDamaged), not the original, and says so.
func (im *image) planRepair(set bitmap.Set, act Actions) (*Plan, error) {
	set = set.WithABI(im.abi())
	act, err := act.canonical(set)
	if err != nil {
		return nil, err
	}
	before, beforeAct, err := im.damagedPolicy()
	if err != nil {
		before, beforeAct = bitmap.NewSet(im.abi()), Actions{}
	}
	rm := im.removeDamaged(before)
	base := undoBase{r: &overlay{base: im.r, plan: rm}, pre: rm.Patches, flags: undoInexact}
	p, err := im.planAdd(noteRequest(encodeActions(im.bo, act)), set, base)
	if err != nil {
		return nil, err
	}
	p.Before, p.After, p.BeforeActions, p.AfterActions = before, set, beforeAct, act
	return p, nil
}

func (im *image) abi() bitmap.ABI { return ABIFor(im.machine, im.class) }

// damagedSet returns the set of a damaged note: from its PT_NOTE, or from
// the bytes its section names.
func (im *image) damagedSet() (bitmap.Set, error) {
	s, _, err := im.damagedPolicy()
	return s, err
}

// damagedPolicy returns the set and the actions of a damaged note: from
// its PT_NOTE, or from the bytes its section names.
func (im *image) damagedPolicy() (bitmap.Set, Actions, error) {
	ns := im.scan
	if !im.noteFound {
		s := im.sects[im.staleSect]
		if s.Off > uint64(im.size) || s.Size > uint64(im.size)-s.Off || s.Size > maxNoteSeg {
			return bitmap.Set{}, Actions{}, badNote(int64(s.Off), "section %s lies outside the file", Section)
		}
		seg := make([]byte, s.Size)
		if err := im.readAt(seg, s.Off); err != nil {
			return bitmap.Set{}, Actions{}, err
		}
		var err error
		if ns, err = scanNotes(seg, int64(s.Off), 4, im.bo); err != nil {
			return bitmap.Set{}, Actions{}, err
		}
		if ns.bitmapOff == 0 {
			return bitmap.Set{}, Actions{}, badNote(int64(s.Off), "section %s holds no NT_SYSRESTRICT_BITMAP note", Section)
		}
	}
	set, err := bitmap.FromNote(im.abi(), ns.bitmap, ns.flags&^FlagEmbedded)
	if err != nil || ns.actOff == 0 {
		return set, Actions{}, err
	}
	act, err := decodeActions(ns.actDesc, ns.actOff, im.bo, set)
	return set, act, err
}

// baseProgs returns the program headers a new note is planned from: those
// of the file, with the PT_NOTE of a damaged stamp turned into a PT_NULL.
func (im *image) baseProgs() []prog {
	progs := slices.Clone(im.progs)
	if im.damage != nil && im.noteFound {
		progs[im.note.Prog] = prog{}
	}
	return progs
}

// overlay reads a file as a plan would leave it.
type overlay struct {
	base io.ReaderAt
	plan *Plan
}

func (o *overlay) Size() int64 { return o.plan.Size }

func (o *overlay) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off >= o.plan.Size {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), o.plan.Size-off))
	clear(b[:n])
	if off < o.plan.Cut {
		m := int(min(int64(n), o.plan.Cut-off))
		if k, err := o.base.ReadAt(b[:m], off); k < m {
			return k, err
		}
	}
	for _, pt := range o.plan.Patches {
		lo, hi := max(pt.Off, off), min(pt.Off+int64(len(pt.Data)), off+int64(n))
		if lo < hi {
			copy(b[lo-off:hi-off], pt.Data[lo-pt.Off:hi-pt.Off])
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}
