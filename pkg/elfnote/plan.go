package elfnote

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Strategy is how a plan makes room for the note; docs/stamping.md says
// why each is safe.
type Strategy int

const (
	StrategyNone      Strategy = iota // nothing to change
	StrategyRewrite                   // 1: rewrite the existing note's descriptors
	StrategyReuse                     // 2: a PT_NULL entry or free bytes after the table
	StrategyMoveTable                 // 3: table and note moved into a PT_LOAD's last page
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

	// AddsOnly: the plan only sets bits in the existing note's descriptors,
	// so a torn write leaves a note at least as strict as before.
	AddsOnly bool

	// Exact (removal): the plan restores the file as it was before it was
	// stamped, byte for byte.
	Exact bool

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
// holding exactly set (taken as a set of the file's ABI).
func PlanStamp(r io.ReaderAt, set bitmap.Set) (*Plan, error) {
	im, err := parseLenient(r)
	if err != nil {
		return nil, err
	}
	return im.planStamp(set)
}

// PlanRemove computes the plan that removes the note from the file read
// through r. It fails with ErrNoNote if there is none.
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
	return end
}

func (im *image) planStamp(set bitmap.Set) (*Plan, error) {
	if err := im.checkStampable(); err != nil {
		return nil, err
	}
	if im.damage != nil {
		// Repair: the damaged note's program header and section are
		// reused or replaced by a fresh note.
		set = set.WithABI(im.abi())
		before, err := im.damagedSet()
		if err != nil {
			before = bitmap.NewSet(im.abi())
		}
		p := &Plan{Cut: im.size, Size: im.size, orig: im.size, Before: before, After: set}
		return p, im.planAdd(p, set)
	}
	f, err := im.file()
	if err != nil {
		return nil, err
	}
	set = set.WithABI(f.ABI)
	p := &Plan{Cut: im.size, Size: im.size, orig: im.size, Before: f.Set, After: set}
	if !f.Stamped {
		return p, im.planAdd(p, set)
	}
	if f.Set.Equal(set) {
		return p, nil
	}
	if im.note.Shared && im.note.FlagsOff == 0 && set.Flags() != 0 {
		return nil, fmt.Errorf("%w: the note was linked in at build time without an NT_SYSRESTRICT_FLAGS note, which DENY_BEYOND needs; add one to the build", ErrUnsupported)
	}
	if im.note.FlagsOff != 0 || set.Flags() == 0 {
		// Strategy 1: rewrite the descriptors in place.
		p.Strategy = StrategyRewrite
		p.AddsOnly = set.Contains(f.Set)
		bm := set.Bitmap()
		p.patch(uint64(im.note.BitmapOff), bm[:])
		if im.note.FlagsOff != 0 {
			b := make([]byte, 4)
			im.bo.PutUint32(b, set.Flags())
			p.patch(uint64(im.note.FlagsOff), b)
		}
		return p, nil
	}
	// The flags note must be added: remove the note, then stamp the result.
	rm, err := im.planRemove()
	if err != nil {
		return nil, err
	}
	im2, err := parse(&overlay{base: im.r, plan: rm})
	if err != nil {
		return nil, fmt.Errorf("re-reading the file without its note: %w", err)
	}
	add := &Plan{Cut: im2.size, Size: im2.size, orig: im2.size}
	if err := im2.planAdd(add, set); err != nil {
		return nil, err
	}
	p.Strategy = add.Strategy
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

func (im *image) abi() bitmap.ABI { return ABIFor(im.machine, im.class) }

// damagedSet returns the set of a damaged note: from its PT_NOTE, or from
// the bytes its section names.
func (im *image) damagedSet() (bitmap.Set, error) {
	if im.noteFound {
		return bitmap.FromNote(im.abi(), im.scan.bitmap, im.scan.flags)
	}
	s := im.sects[im.staleSect]
	if s.Off > uint64(im.size) || s.Size > uint64(im.size)-s.Off || s.Size > maxNoteSeg {
		return bitmap.Set{}, badNote(int64(s.Off), "section %s lies outside the file", Section)
	}
	seg := make([]byte, s.Size)
	if err := im.readAt(seg, s.Off); err != nil {
		return bitmap.Set{}, err
	}
	ns, err := scanNotes(seg, int64(s.Off), 4, im.bo)
	if err != nil {
		return bitmap.Set{}, err
	}
	if ns.bitmapOff == 0 {
		return bitmap.Set{}, badNote(int64(s.Off), "section %s holds no NT_SYSRESTRICT_BITMAP note", Section)
	}
	return bitmap.FromNote(im.abi(), ns.bitmap, ns.flags)
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
	// Removal finds the old names and table by their bytes: they must not
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

// emitSects writes the section names and headers with the note's section.
func (im *image) emitSects(p *Plan, sl *sectLayout, noteOff, noteVaddr uint64) {
	if sl == nil {
		return
	}
	if sl.reuse != 0 {
		b := make([]byte, im.shentsize)
		im.encodeSect(b, sect{
			Name: im.sects[sl.reuse].Name, Type: shtNote, Flags: shfAlloc,
			Addr: noteVaddr, Off: noteOff, Size: noteSize, Addralign: 4,
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
		Addr: noteVaddr, Off: noteOff, Size: noteSize, Addralign: 4,
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

// used reports whether any byte of [off, end) belongs to the ELF header,
// a header table, a section with file bytes, or a segment other than
// program header skipProg (the PT_LOAD the range is meant to lie in) and
// section skipSect.
func (im *image) used(off, end uint64, skipProg, skipSect int) bool {
	overlaps := func(o, e uint64) bool { return o < end && off < e }
	if overlaps(0, uint64(im.ehsize)) || overlaps(im.phoff, im.phoff+uint64(len(im.progs)*im.phentsize)) {
		return true
	}
	if len(im.sects) > 0 && overlaps(im.shoff, im.shoff+uint64(len(im.sects)*im.shentsize)) {
		return true
	}
	for i, pr := range im.progs {
		if i != skipProg && pr.Filesz > 0 && pr.Type != ptNull && overlaps(pr.Off, pr.Off+pr.Filesz) {
			return true
		}
	}
	for i := range im.sects {
		s := &im.sects[i]
		if i != skipSect && s.fileEnd() > s.Off && overlaps(s.Off, s.fileEnd()) {
			return true
		}
	}
	return false
}

// free reports whether [off, end) lies in the file, is used by nothing
// (see used) and holds only zeros.
func (im *image) free(off, end uint64, skipProg int) (bool, error) {
	if end > uint64(im.size) || off > end {
		return false, nil
	}
	if im.used(off, end, skipProg, -1) {
		return false, nil
	}
	b := make([]byte, end-off)
	if err := im.readAt(b, off); err != nil {
		return false, err
	}
	return isZero(b), nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// firstLoad returns the index of the first PT_LOAD.
func (im *image) firstLoad() int {
	return slices.IndexFunc(im.progs, func(p prog) bool { return p.Type == ptLoad })
}

// noteProg returns the PT_NOTE program header for a note at off.
func noteProg(off, vaddr uint64) prog {
	return prog{Type: ptNote, Flags: pfR, Off: off, Vaddr: vaddr, Paddr: vaddr, Filesz: noteSize, Memsz: noteSize, Align: 4}
}

// pageSize returns the alignment of a new PT_LOAD: the largest page size
// the machine's kernels use (64 KiB on aarch64, ppc64 and loongarch, 4 KiB
// elsewhere), raised to the largest p_align of the existing PT_LOADs, but
// not past 64 KiB.
func (im *image) pageSize() uint64 {
	ps := uint64(4096)
	switch im.machine {
	case EM_AARCH64, EM_PPC64, EM_LOONGARCH:
		ps = 65536
	}
	for _, l := range im.progs {
		if l.Type == ptLoad && l.Align > ps && l.Align&(l.Align-1) == 0 {
			ps = min(l.Align, 65536)
		}
	}
	return ps
}

// planAdd plans a note where there is none, trying strategies 2 to 4.
func (im *image) planAdd(p *Plan, set bitmap.Set) error {
	first := im.firstLoad()
	if first < 0 {
		return fmt.Errorf("%w: no PT_LOAD segment", ErrUnsupported)
	}
	if len(im.progs) >= 0xfffe {
		return fmt.Errorf("%w: too many program headers", ErrNoRoom)
	}
	sl, err := im.planSects()
	if err != nil {
		return err
	}
	note := encodeNote(im.bo, set)
	ent := uint64(im.phentsize)
	n := uint64(len(im.progs))
	tableEnd := im.phoff + n*ent
	progs := im.baseProgs()
	phoff := im.phoff

	// Strategy 2: an unused PT_NULL entry, or room for one right after the
	// table; the note right after the table, or (with a PT_NULL) at the
	// end of a PT_LOAD whose end is 4-aligned, so that Remove can restore
	// the segment's size.
	var noteOff uint64
	var ok bool
	delta := im.progs[first].Vaddr - im.progs[first].Off
	limit := uint64(im.size)
	if sl != nil && sl.inPlace {
		limit = min(limit, im.sects[im.shstrndx].Off+im.sects[im.shstrndx].Size)
	}
	// Only an all-zero PT_NULL: removal writes one back. And not the last
	// entry: a PT_NOTE there looks exactly like one added after the table,
	// which removal drops, so removal could not restore the file; a last
	// PT_NULL is left alone and the table grows by one entry instead.
	slot := slices.Index(progs[:max(len(progs)-1, 0)], prog{})
	noteOff = alignUp(tableEnd, 4)
	if slot < 0 {
		noteOff = alignUp(tableEnd+ent, 4)
	}
	if l, grow := im.fitAfterTable(tableEnd, noteOff+noteSize, limit); l >= 0 {
		if ok, err = im.free(tableEnd, noteOff+noteSize, l); err != nil {
			return err
		}
		if ok && grow {
			progs[l].Filesz, progs[l].Memsz = noteOff+noteSize-progs[l].Off, noteOff+noteSize-progs[l].Off
		}
	}
	for i, l := range im.progs {
		if ok || slot < 0 {
			break
		}
		end := l.Off + l.Filesz
		if end%4 != 0 || !im.growable(i, end+noteSize, limit) {
			continue
		}
		if ok, err = im.free(end, end+noteSize, i); err != nil {
			return err
		}
		if ok {
			noteOff = end
			progs[i].Filesz, progs[i].Memsz = l.Filesz+noteSize, l.Memsz+noteSize
		}
	}
	if !ok && slot < 0 {
		// Go's linker puts the section header table right after the
		// program headers: move it to the end of the file and use its
		// place.
		if gsl, off := im.goMove(); gsl != nil {
			ok, sl, noteOff = true, gsl, off
			shdrEnd := im.shoff + uint64(len(im.sects)*im.shentsize)
			p.patch(tableEnd+ent, make([]byte, noteOff-(tableEnd+ent)))
			p.patch(noteOff+noteSize, make([]byte, shdrEnd-(noteOff+noteSize)))
		}
	}
	if ok {
		p.Strategy = StrategyReuse
		l := loadOfIn(progs, noteOff, noteSize)
		np := noteProg(noteOff, noteOff-progs[l].Off+progs[l].Vaddr)
		if slot >= 0 {
			progs[slot] = np
		} else {
			progs = append(progs, np)
		}
	}

	// Strategy 3: move the table and the note to the end of a PT_LOAD.
	for i, l := range im.progs {
		if ok {
			break
		}
		if l.Vaddr-l.Off != delta {
			continue
		}
		end := l.Off + l.Filesz
		phoff = alignUp(end, uint64(im.word))
		noteOff = phoff + (n+1)*ent
		newEnd := noteOff + noteSize
		if !im.growable(i, newEnd, limit) {
			continue
		}
		if ok, err = im.free(end, newEnd, i); err != nil {
			return err
		}
		if ok {
			p.Strategy = StrategyMoveTable
			progs = im.baseProgs()
			progs[i].Filesz, progs[i].Memsz = newEnd-l.Off, newEnd-l.Off
			progs = append(progs, noteProg(noteOff, noteOff+delta))
		}
	}

	// Strategy 4: a new PT_LOAD after everything else.
	if !ok {
		ps := im.pageSize()
		fileEnd := uint64(im.size)
		if sl != nil {
			fileEnd = max(fileEnd, sl.end)
		}
		memEnd := uint64(0)
		for _, l := range im.progs {
			if l.Type == ptLoad {
				memEnd = max(memEnd, l.Vaddr+l.Memsz)
			}
		}
		off := alignUp(fileEnd, ps)
		if memEnd > delta && off < memEnd-delta {
			off = alignUp(memEnd-delta, ps)
		}
		if off-fileEnd > 1<<32 || off < fileEnd {
			return fmt.Errorf("%w: a new segment would start at file offset %#x, past the program's memory image", ErrNoRoom, off)
		}
		phoff = off
		noteOff = off + (n+2)*ent
		size := noteOff + noteSize - off
		if im.class == ELFCLASS32 && (noteOff+noteSize > 1<<32 || off+delta+size > 1<<32 || off+delta < off) {
			return fmt.Errorf("%w: no address space left for a new segment; stamp a binary with less .bss or more slack", ErrNoRoom)
		}
		seg := prog{Type: ptLoad, Flags: pfR, Off: off, Vaddr: off + delta, Paddr: off + delta, Filesz: size, Memsz: size, Align: ps}
		last := 0
		for i, l := range im.progs {
			if l.Type == ptLoad {
				last = i
			}
		}
		progs = im.baseProgs()
		progs = slices.Insert(progs, last+1, seg)
		progs = append(progs, noteProg(noteOff, noteOff+delta))
		p.Strategy = StrategyAppend
		p.Size = int64(noteOff + noteSize)
	}

	// The new program header table, with PT_PHDR describing it.
	tab := make([]byte, uint64(len(progs))*ent)
	for i, pr := range progs {
		if pr.Type == ptPhdr {
			if phoff != im.phoff {
				pr.Off = phoff
				v := phoff + delta
				if l := loadOfIn(progs, phoff, uint64(len(tab))); l >= 0 {
					v = phoff - progs[l].Off + progs[l].Vaddr
				}
				pr.Paddr += v - pr.Vaddr
				pr.Vaddr = v
			}
			pr.Filesz, pr.Memsz = uint64(len(tab)), uint64(len(tab))
		}
		im.encodeProg(tab[uint64(i)*ent:], pr)
	}
	p.patch(phoff, tab)
	p.patch(noteOff, note)
	if phoff != im.phoff {
		b := make([]byte, im.word)
		im.putWord(b, phoff)
		p.patch(uint64(im.offPhoff), b)
	}
	if len(progs) != len(im.progs) {
		p.patch(uint64(im.offPhnum), im.half(uint16(len(progs))))
	}
	if sl != nil {
		p.Size = max(p.Size, int64(sl.end))
		im.emitSects(p, sl, noteOff, noteVaddr(progs, noteOff))
	}
	return nil
}

// loadOfIn returns the index of the first PT_LOAD of progs whose file
// bytes include [off, off+size), or -1.
func loadOfIn(progs []prog, off, size uint64) int {
	for i, l := range progs {
		if l.Type == ptLoad && off >= l.Off && off-l.Off <= l.Filesz && size <= l.Filesz-(off-l.Off) {
			return i
		}
	}
	return -1
}

// overlapsMemory reports whether [lo, hi) overlaps the memory of a PT_LOAD
// other than skip.
func (im *image) overlapsMemory(lo, hi uint64, skip int) bool {
	for i, l := range im.progs {
		if i != skip && l.Type == ptLoad && lo < l.Vaddr+l.Memsz && l.Vaddr < hi {
			return true
		}
	}
	return false
}

// growable reports whether PT_LOAD i may grow to end at file offset end: it
// is readable, has no .bss, and the new bytes lie in the last page it
// already maps, before limit, in memory no other PT_LOAD uses.
func (im *image) growable(i int, end, limit uint64) bool {
	l := im.progs[i]
	old := l.Off + l.Filesz
	return l.Type == ptLoad && l.Flags&pfR != 0 && l.Filesz == l.Memsz && l.Filesz > 0 &&
		end > old && end <= alignUp(old, 4096) && end <= limit &&
		!im.overlapsMemory(l.Vaddr+l.Memsz, l.Vaddr+(end-l.Off), i)
}

// fitAfterTable returns the PT_LOAD that holds the table and would hold the
// bytes up to end after it: one that reaches past end already, or one that
// ends with the table and can grow (grow is then true). -1 if none.
func (im *image) fitAfterTable(tableEnd, end, limit uint64) (int, bool) {
	for i, l := range im.progs {
		if l.Type != ptLoad || im.phoff < l.Off || tableEnd > l.Off+l.Filesz {
			continue
		}
		if l.Off+l.Filesz > end {
			// Inside a segment, zero bytes no section claims are unused
			// only if sections describe the segment's contents at all.
			if len(im.sects) == 0 {
				return -1, false
			}
			return i, false
		}
		if l.Off+l.Filesz == tableEnd && im.growable(i, end, limit) {
			return i, true
		}
	}
	return -1, false
}

// noteVaddr returns the address of the PT_NOTE at file offset off.
func noteVaddr(progs []prog, off uint64) uint64 {
	for _, p := range progs {
		if p.Type == ptNote && p.Off == off {
			return p.Vaddr
		}
	}
	return 0
}

// goMove plans room for a note where Go's linker put the section header
// table: right after the program headers, inside the first segment, with
// .shstrtab at the end of the file. The table moves to the end of the
// file, behind .shstrtab (which grows in place by the new name); the new
// program header goes where the table began and the note where it ended,
// so that Remove can tell this layout from the others and put the table
// back. It returns the section layout and the note's offset, or nil.
func (im *image) goMove() (*sectLayout, uint64) {
	if len(im.sects) == 0 || len(im.shstrtab) == 0 || im.staleSect != 0 || im.damage != nil {
		return nil, 0
	}
	ent := uint64(im.phentsize)
	tableEnd := im.phoff + uint64(len(im.progs))*ent
	shdrEnd := im.shoff + uint64(len(im.sects)*im.shentsize)
	st := im.sects[im.shstrndx]
	if im.shoff != tableEnd || st.Off+st.Size != uint64(im.size) || shdrEnd < noteSize {
		return nil, 0
	}
	noteOff := (shdrEnd - noteSize) &^ 3
	l := loadOfIn(im.progs, im.phoff, shdrEnd-im.phoff)
	if l < 0 || noteOff < tableEnd+ent || im.progs[l].Off+im.progs[l].Filesz <= shdrEnd {
		return nil, 0
	}
	// Nothing but the section header table may use its bytes.
	for i, pr := range im.progs {
		if i != l && pr.Type != ptPhdr && pr.Filesz > 0 && pr.Off < shdrEnd && tableEnd < pr.Off+pr.Filesz {
			return nil, 0
		}
	}
	for i := range im.sects {
		if s := &im.sects[i]; s.fileEnd() > s.Off && s.Off < shdrEnd && tableEnd < s.fileEnd() {
			return nil, 0
		}
	}
	add := uint64(len(Section) + 1)
	sl := &sectLayout{strOff: st.Off, strSize: st.Size + add, inPlace: true, name: uint32(st.Size)}
	sl.shoff = alignUp(st.Off+sl.strSize, uint64(im.word))
	sl.end = sl.shoff + uint64((len(im.sects)+1)*im.shentsize)
	return sl, noteOff
}
