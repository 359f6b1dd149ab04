package elfnote

import (
	"errors"
	"fmt"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// planRemove plans the removal of the note. A note with an undo record is
// removed by replaying it: the plan restores the file as it was before it
// was stamped, byte for byte (Exact, unless the record says it restores
// a repaired file). A note without one, stamped before the record
// existed, goes to the legacy removal (legacy.go), and so does one whose
// record would not restore a file the stamper could have stamped (not
// Exact then). A damaged stamp's headers cannot be relied on: its note
// is only disabled.
func (im *image) planRemove() (*Plan, error) {
	if err := im.checkStampable(); err != nil {
		return nil, err
	}
	if im.damage != nil {
		before, err := im.damagedSet()
		if err != nil {
			before = bitmap.NewSet(im.abi())
		}
		return im.removeDamaged(before), nil
	}
	f, err := im.file()
	if err != nil {
		return nil, err
	}
	if !f.Stamped {
		return nil, ErrNoNote
	}
	if im.note.Shared {
		return nil, fmt.Errorf("%w: the note was linked in at build time and shares its PT_NOTE with other notes; rebuild without it", ErrUnsupported)
	}
	p := &Plan{Strategy: StrategyRemove, Cut: im.size, Size: im.size, orig: im.size, Before: f.Set, After: bitmap.NewSet(f.ABI)}
	rec := im.undo
	if rec == nil {
		return im.removeLegacy(p)
	}
	if err := im.replayUndo(p, rec); err != nil {
		return nil, err
	}
	// The record was checked against the file when it was read. What it
	// restores must be a file the stamper would have stamped: an ELF
	// file this package reads, without a sysrestrict note, with a
	// PT_LOAD and nothing past its image. If not, the file was changed
	// after stamping in a way the reader did not see (bytes the record
	// restores to, such as the old program header table, were changed):
	// the record is not replayed, and the legacy removal takes out the
	// note as the headers show it, not exactly.
	if err := im.checkRestored(p); err != nil {
		p = &Plan{Strategy: StrategyRemove, Cut: im.size, Size: im.size, orig: im.size, Before: f.Set, After: bitmap.NewSet(f.ABI)}
		if p, err = im.removeLegacy(p); err != nil {
			return nil, err
		}
		p.Exact = false
	}
	return p, nil
}

// checkRestored checks that p, the replay of an undo record, gives a file
// the stamper could have stamped.
func (im *image) checkRestored(p *Plan) error {
	im2, err := parseLenient(&overlay{base: im.r, plan: p})
	if err == nil && (im2.noteFound || im2.staleSect != 0) {
		err = errors.New("it still carries a sysrestrict note")
	}
	if err == nil {
		err = im2.checkStampable()
	}
	if err == nil && im2.firstLoad() < 0 {
		err = errors.New("it has no PT_LOAD")
	}
	if err != nil {
		return &FormatError{Off: im.undo.at, Msg: fmt.Sprintf("the undo record restores a file the stamper could not have stamped (%v)", err), Err: ErrBadNote}
	}
	return nil
}

// removeDamaged removes a stamp damaged by a later tool: its PT_NOTE
// becomes a PT_NULL and its section an SHT_NULL section; nothing else
// can be relied on.
func (im *image) removeDamaged(before bitmap.Set) *Plan {
	p := &Plan{Strategy: StrategyRemove, Cut: im.size, Size: im.size, orig: im.size, Before: before, After: bitmap.NewSet(im.abi())}
	if im.noteFound {
		p.patch(im.phoff+uint64(im.note.Prog*im.phentsize), make([]byte, im.phentsize))
	}
	for _, i := range []int{im.staleSect, im.note.Section} {
		if i != 0 {
			p.patch(im.shoff+uint64(i*im.shentsize), make([]byte, im.shentsize))
		}
	}
	return p
}
