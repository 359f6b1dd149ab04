package elfnote

import (
	"bytes"
	"fmt"
	"slices"
)

// The legacy removal: for notes without an undo record, those stamped
// before it existed (commit 850dcc2 and earlier), removal reconstructs the
// original layout from what the headers and bytes show. New stamps carry
// an undo record and never come here (remove.go). docs/stamping.md,
// "Removal", describes both.

// removeLegacy plans the removal of a note stamped before the undo record
// existed (or linked in at build time without PT_NOTE of its own), from
// what the headers show: the old program header table still in place
// behind a moved one, the usual .shstrtab layout, Go's layout. When they
// show how the note was added, the plan restores the file as it was, byte
// for byte, and says so in Exact.
func (im *image) removeLegacy(p *Plan) (*Plan, error) {
	progsExact := im.removeProgs(p)
	var sectsExact bool
	if !im.removeGoMove(p) {
		sectsExact = im.removeSect(p)
	} else {
		sectsExact = true
	}
	p.Exact = progsExact && sectsExact
	// Cut what the restored headers no longer use (an appended segment,
	// copied section headers and names): the stamper refused files with
	// bytes past their image, so this is the original size.
	im2, err := parse(&overlay{base: im.r, plan: p})
	if err != nil {
		return nil, fmt.Errorf("re-reading the file without its note: %w", err)
	}
	if end := int64(im2.imageEnd()); end < p.Cut {
		p.Cut, p.Size = end, end
		kept := p.Patches[:0]
		for _, pt := range p.Patches {
			if pt.Off < end {
				pt.Data = pt.Data[:min(int64(len(pt.Data)), end-pt.Off)]
				kept = append(kept, pt)
			}
		}
		p.Patches = kept
	}
	return p, nil
}

// removeProgs removes the PT_NOTE. A table moved by strategies 3 and 4 is
// restored from the original, still in place; in a table left in place
// (strategy 2), a PT_NOTE that is not the last entry took a PT_NULL's place
// and becomes an all-zero PT_NULL again, the last one is dropped; a
// PT_LOAD grown to hold the note shrinks back.
func (im *image) removeProgs(p *Plan) bool {
	k := im.note.Prog
	ent := uint64(im.phentsize)
	n := uint64(len(im.progs))
	noteOff, noteEnd := uint64(im.note.Offset), uint64(im.note.Offset+im.note.Size)
	moved := im.phoff != uint64(im.ehsize)
	if moved && im.restoreProgs(p, k, noteEnd) {
		return true
	}
	progs := slices.Clone(im.progs)
	if !moved && k != len(progs)-1 {
		progs[k] = prog{}
	} else {
		progs = slices.Delete(progs, k, k+1)
	}
	count := uint64(len(progs))
	newTableEnd := im.phoff + count*ent
	afterTable := noteOff == alignUp(im.phoff+n*ent, 4)
	exact := !moved
	for i, l := range progs {
		if l.Type != ptLoad || l.Off+l.Filesz != noteEnd || l.Filesz != l.Memsz {
			continue
		}
		switch {
		case afterTable && !moved && l.Off <= im.phoff:
			progs[i].Filesz, progs[i].Memsz = newTableEnd-l.Off, newTableEnd-l.Off
		case !afterTable && !moved && l.Filesz >= uint64(im.note.Size):
			progs[i].Filesz, progs[i].Memsz = l.Filesz-uint64(im.note.Size), l.Memsz-uint64(im.note.Size)
		default:
			exact = false
		}
	}
	tab := make([]byte, n*ent)
	for i, pr := range progs {
		if pr.Type == ptPhdr {
			pr.Filesz, pr.Memsz = count*ent, count*ent
		}
		im.encodeProg(tab[uint64(i)*ent:], pr)
	}
	p.patch(im.phoff, tab)
	if count != n {
		p.patch(uint64(im.offPhnum), im.half(uint16(count)))
	}
	if !im.coveredElsewhere(noteOff, noteEnd, k) {
		p.patch(noteOff, make([]byte, im.note.Size))
	} else {
		exact = false
	}
	return exact
}

// restoreProgs restores the table left in place by strategies 3 and 4, if
// it is intact: the same entries but the PT_NOTE, the appended PT_LOAD, and
// PT_PHDR and the grown PT_LOAD as they were.
func (im *image) restoreProgs(p *Plan, k int, noteEnd uint64) bool {
	appended := -1
	for i, l := range im.progs {
		if i != k && l.Type == ptLoad && l.Off == im.phoff && noteEnd <= l.Off+l.Filesz {
			appended = i
		}
	}
	expect := slices.Clone(im.progs)
	expect = slices.Delete(expect, k, k+1)
	if appended >= 0 {
		if appended > k {
			return false
		}
		expect = slices.Delete(expect, appended, appended+1)
	}
	ent := uint64(im.phentsize)
	oldN := uint64(len(expect))
	old := uint64(im.ehsize)
	if old+oldN*ent > uint64(im.size) {
		return false
	}
	b := make([]byte, oldN*ent)
	if err := im.readAt(b, old); err != nil {
		return false
	}
	grown, grownEnd := -1, uint64(0)
	for i, c := range expect {
		o := im.decodeProg(b[uint64(i)*ent:])
		switch {
		case c.Type == ptPhdr:
			if o.Type != ptPhdr || o.Off != old || o.Filesz != oldN*ent || o.Memsz != o.Filesz || o.Flags != c.Flags || o.Align != c.Align {
				return false
			}
		case o == c:
		case grown < 0 && appended < 0 && c.Type == ptLoad && o.Type == c.Type && o.Flags == c.Flags &&
			o.Off == c.Off && o.Vaddr == c.Vaddr && o.Paddr == c.Paddr && o.Align == c.Align &&
			o.Filesz < c.Filesz && o.Memsz < c.Memsz && c.Off+c.Filesz == noteEnd:
			grown, grownEnd = i, o.Off+o.Filesz
		default:
			return false
		}
	}
	if appended < 0 && grown < 0 {
		return false
	}
	b = make([]byte, im.word)
	im.putWord(b, old)
	p.patch(uint64(im.offPhoff), b)
	p.patch(uint64(im.offPhnum), im.half(uint16(oldN)))
	if grown >= 0 {
		p.patch(grownEnd, make([]byte, noteEnd-grownEnd))
	}
	return true
}

// coveredElsewhere reports whether [off, end) is used by a section other
// than .note.sysrestrict or a segment other than a PT_LOAD and program
// header k.
func (im *image) coveredElsewhere(off, end uint64, k int) bool {
	for i, pr := range im.progs {
		if i != k && pr.Type != ptLoad && pr.Type != ptNull && off < pr.Off+pr.Filesz && pr.Off < end {
			return true
		}
	}
	for i := range im.sects {
		s := &im.sects[i]
		if i != im.note.Section && s.fileEnd() > s.Off && off < s.fileEnd() && s.Off < end {
			return true
		}
	}
	return false
}

// removeSect removes the .note.sysrestrict section header; with the usual
// layout it also takes the name out of .shstrtab and moves the table back.
func (im *image) removeSect(p *Plan) bool {
	i := im.note.Section
	if i == 0 {
		return true
	}
	ent := uint64(im.shentsize)
	word := uint64(im.word)
	st := im.sects[im.shstrndx]
	add := uint64(len(Section) + 1)
	nameOK := st.Size >= add && uint64(im.sects[i].Name) == st.Size-add
	last := i == len(im.sects)-1
	tableEnd := im.shoff + uint64(len(im.sects))*ent
	sects := slices.Clone(im.sects)
	if last && nameOK {
		sects[im.shstrndx].Size -= add
	}
	if last && nameOK {
		if old, ok := im.findOldSects(sects[:i], st.Off); ok {
			// The table and names were copied to the end (at the old end of
			// the file); the originals are intact.
			b := make([]byte, im.word)
			im.putWord(b, old)
			p.patch(uint64(im.offShoff), b)
			p.patch(uint64(im.offShnum), im.half(uint16(i)))
			return true
		}
	}
	if last && nameOK && im.shoff == alignUp(st.Off+st.Size, word) && !im.usedAfter(tableEnd) {
		strEnd := st.Off + st.Size - add
		shoff := alignUp(strEnd, word)
		buf := make([]byte, shoff-strEnd+uint64(i)*ent)
		for j, s := range sects[:i] {
			im.encodeSect(buf[shoff-strEnd+uint64(j)*ent:], s)
		}
		p.patch(strEnd, buf)
		b := make([]byte, im.word)
		im.putWord(b, shoff)
		p.patch(uint64(im.offShoff), b)
		p.patch(uint64(im.offShnum), im.half(uint16(i)))
		return true
	}
	if last {
		tab := make([]byte, uint64(len(sects))*ent)
		for j, s := range sects[:i] {
			im.encodeSect(tab[uint64(j)*ent:], s)
		}
		p.patch(im.shoff, tab)
		p.patch(uint64(im.offShnum), im.half(uint16(i)))
		return false
	}
	p.patch(im.shoff+uint64(i)*ent, make([]byte, ent)) // SHT_NULL keeps the indexes
	return false
}

// findOldSects looks before limit for the section header table that
// matches want (the current headers without .note.sysrestrict, .shstrtab
// at its old size) and whose .shstrtab holds the current names without
// ours. It returns the table's offset.
func (im *image) findOldSects(want []sect, limit uint64) (uint64, bool) {
	ent := uint64(im.shentsize)
	j0 := 1
	if j0 == im.shstrndx {
		j0++
	}
	if j0 >= len(want) || limit > uint64(im.size) {
		return 0, false
	}
	pat := make([]byte, ent)
	im.encodeSect(pat, want[j0])
	const chunk = 1 << 20
	buf := make([]byte, chunk+len(pat))
	for base := uint64(0); base < limit; base += chunk {
		n := min(uint64(len(buf)), limit-base)
		if err := im.readAt(buf[:n], base); err != nil {
			return 0, false
		}
		for b := buf[:n]; ; {
			k := bytes.Index(b, pat)
			if k < 0 {
				break
			}
			at := base + uint64(len(buf[:n])-len(b)+k)
			b = b[k+1:]
			if at < uint64(j0)*ent {
				continue
			}
			if cand := at - uint64(j0)*ent; im.isOldSects(cand, want, limit) {
				return cand, true
			}
		}
	}
	return 0, false
}

func (im *image) isOldSects(off uint64, want []sect, limit uint64) bool {
	ent := uint64(im.shentsize)
	if off+uint64(len(want))*ent > limit {
		return false
	}
	b := make([]byte, uint64(len(want))*ent)
	if err := im.readAt(b, off); err != nil {
		return false
	}
	var st sect
	for j, w := range want {
		got := im.decodeSect(b[uint64(j)*ent:])
		if j == im.shstrndx {
			w.Off, st = got.Off, got
		}
		if got != w {
			return false
		}
	}
	if st.Off+st.Size > limit {
		return false
	}
	names := make([]byte, st.Size)
	return im.readAt(names, st.Off) == nil && bytes.Equal(names, im.shstrtab[:st.Size])
}

// usedAfter reports whether anything but the program header table and the
// note lies past off: then the section header table was not
// at the end of the file when the note was added.
func (im *image) usedAfter(off uint64) bool {
	for i, pr := range im.progs {
		if i == im.note.Prog || pr.Filesz == 0 || pr.Off+pr.Filesz <= off {
			continue
		}
		// The appended segment of strategy 4 holds only the table and the note.
		if (pr.Type == ptLoad || pr.Type == ptPhdr) && pr.Off == im.phoff && pr.Off >= off {
			continue
		}
		return true
	}
	for i := range im.sects {
		if s := &im.sects[i]; i != im.note.Section && s.fileEnd() > s.Off && s.fileEnd() > off {
			return true
		}
	}
	return false
}

// removeGoMove undoes goMove: the PT_NOTE is the last program header, the
// table did not move, the note ends inside the first segment but not right
// after the table, and .shstrtab ends with the section's name. Then the
// section header table goes back right after the program headers, over
// the note. It reports whether it did.
func (im *image) removeGoMove(p *Plan) bool {
	k, i := im.note.Prog, im.note.Section
	if im.phoff != uint64(im.ehsize) || k != len(im.progs)-1 || i == 0 || i != len(im.sects)-1 {
		return false
	}
	ent := uint64(im.phentsize)
	newTableEnd := im.phoff + uint64(k)*ent
	noteOff, noteEnd := uint64(im.note.Offset), uint64(im.note.Offset+im.note.Size)
	if noteOff == alignUp(newTableEnd+ent, 4) {
		return false // the note follows the table: strategy 2 proper
	}
	l := loadOfIn(im.progs, im.phoff, noteEnd-im.phoff)
	if l < 0 || im.progs[l].Off+im.progs[l].Filesz <= noteEnd {
		return false
	}
	st := im.sects[im.shstrndx]
	add := uint64(len(Section) + 1)
	shdrEnd := newTableEnd + uint64(i*im.shentsize)
	if st.Size < add || uint64(im.sects[i].Name) != st.Size-add || im.shoff != alignUp(st.Off+st.Size, uint64(im.word)) ||
		noteEnd > shdrEnd || (shdrEnd-noteSize)&^3 != noteOff {
		return false
	}
	sects := slices.Clone(im.sects[:i])
	sects[im.shstrndx].Size -= add
	tab := make([]byte, uint64(i*im.shentsize))
	for j, s := range sects {
		im.encodeSect(tab[j*im.shentsize:], s)
	}
	p.patch(newTableEnd, tab)
	b := make([]byte, im.word)
	im.putWord(b, newTableEnd)
	p.patch(uint64(im.offShoff), b)
	p.patch(uint64(im.offShnum), im.half(uint16(i)))
	return true
}
