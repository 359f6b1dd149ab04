package elfnote

import (
	"fmt"
	"slices"
)

// sectLayout is where the section header table and the section names go
// once .note.sysrestrict is added.
type sectLayout struct {
	strOff, strSize uint64 // new .shstrtab
	shoff           uint64 // new section header table
	end             uint64 // end of both
	inPlace         bool   // .shstrtab grown in place, table moved just behind it
	name            uint32 // sh_name of the new section
	reuse           int    // the section header of a damaged stamp, reused in place
}

// planSects decides where the section names and headers go. With the
// usual layout (.shstrtab, padding, the table, end of file) the name is
// appended to .shstrtab and the table moved up behind it; otherwise both
// are copied to the end of the file, and the old ones are left unused.
func (im *image) planSects() (*sectLayout, error) {
	if im.staleSect != 0 {
		return &sectLayout{reuse: im.staleSect}, nil
	}
	if im.damage != nil && im.note.Section != 0 {
		return &sectLayout{reuse: im.note.Section}, nil
	}
	if len(im.sects) == 0 || len(im.shstrtab) == 0 {
		return nil, nil
	}
	if len(im.sects) >= shnLoreserve-1 {
		return nil, fmt.Errorf("%w: too many sections to add one", ErrUnsupported)
	}
	st := im.sects[im.shstrndx]
	add := uint64(len(Section) + 1)
	word := uint64(im.word)
	tableEnd := im.shoff + uint64(len(im.sects)*im.shentsize)
	strEnd := st.Off + st.Size
	// A legacy removal found the old names and table by their bytes, and
	// the undo record restores them from where they move: they must not
	// share bytes with the headers that stamping changes.
	phEnd := im.phoff + uint64(len(im.progs)*im.phentsize)
	overlap := func(a, b, c, d uint64) bool { return a < d && c < b }
	if overlap(st.Off, strEnd, 0, uint64(im.ehsize)) || overlap(st.Off, strEnd, im.phoff, phEnd) ||
		overlap(im.shoff, tableEnd, 0, uint64(im.ehsize)) || overlap(im.shoff, tableEnd, im.phoff, phEnd) ||
		overlap(st.Off, strEnd, im.shoff, tableEnd) {
		return nil, formatErr(int64(im.shoff), "the section names or headers overlap the ELF or program headers")
	}
	for i := range im.sects {
		if uint64(im.sects[i].Name) >= st.Size && im.sects[i].Name != 0 {
			// It would name whatever is appended to the names.
			return nil, formatErr(int64(im.shoff)+int64(i*im.shentsize), "section %d's name lies outside the section name table", i)
		}
	}
	sl := &sectLayout{strSize: st.Size + add, name: uint32(st.Size)}
	if im.shoff == alignUp(strEnd, word) && tableEnd == uint64(im.size) && !im.used(strEnd, im.shoff, -1, im.shstrndx) {
		pad := make([]byte, im.shoff-strEnd)
		if err := im.readAt(pad, strEnd); err != nil {
			return nil, err
		}
		if isZero(pad) {
			sl.strOff, sl.inPlace = st.Off, true
		}
	}
	if !sl.inPlace {
		sl.strOff = uint64(im.size)
	}
	sl.shoff = alignUp(sl.strOff+sl.strSize, word)
	sl.end = sl.shoff + uint64((len(im.sects)+1)*im.shentsize)
	return sl, nil
}

// emitSects writes the section names and headers with the note's section,
// which covers size bytes at noteOff, address noteVaddr.
func (im *image) emitSects(p *Plan, sl *sectLayout, noteOff, noteVaddr, size uint64) {
	if sl == nil {
		return
	}
	if sl.reuse != 0 {
		b := make([]byte, im.shentsize)
		im.encodeSect(b, sect{
			Name: im.sects[sl.reuse].Name, Type: shtNote, Flags: shfAlloc,
			Addr: noteVaddr, Off: noteOff, Size: size, Addralign: 4,
		})
		p.patch(im.shoff+uint64(sl.reuse*im.shentsize), b)
		return
	}
	st := im.sects[im.shstrndx]
	var strtab []byte
	if sl.inPlace {
		strtab = []byte(Section + "\x00")
	} else {
		strtab = slices.Concat(im.shstrtab, []byte(Section+"\x00"))
	}
	tab := make([]byte, sl.end-(st.Off+st.Size))
	if !sl.inPlace {
		tab = make([]byte, sl.end-sl.strOff)
	}
	copy(tab, strtab)
	base := sl.end - uint64(len(tab))
	sh := tab[sl.shoff-base:]
	for i, s := range im.sects {
		if i == im.shstrndx {
			s.Off, s.Size = sl.strOff, sl.strSize
		}
		im.encodeSect(sh[i*im.shentsize:], s)
	}
	im.encodeSect(sh[len(im.sects)*im.shentsize:], sect{
		Name: sl.name, Type: shtNote, Flags: shfAlloc,
		Addr: noteVaddr, Off: noteOff, Size: size, Addralign: 4,
	})
	p.patch(base, tab)
	b := make([]byte, im.word)
	im.putWord(b, sl.shoff)
	p.patch(uint64(im.offShoff), b)
	p.patch(uint64(im.offShnum), im.half(uint16(len(im.sects)+1)))
}

func (im *image) half(v uint16) []byte {
	b := make([]byte, 2)
	im.putHalf(b, v)
	return b
}
