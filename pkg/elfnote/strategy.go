package elfnote

import (
	"fmt"
	"slices"
)

// A strategy finds room for the program header table, the entries a
// request adds to it, and the request's header block (the payloads that
// are not loaded in segments of their own: the note). It returns the
// layout, or nil if it finds no room; an error only for a file it cannot
// read or a request no strategy can meet. docs/stamping.md says why each
// leaves the binary running as before.
type strategy func(im *image, rq *request, sl *sectLayout) (*fileLayout, error)

// strategies, in the order they are tried.
var strategies = []strategy{
	(*image).afterTable,     // reuse: the table grows in place, the block follows it
	(*image).atLoadEnd,      // reuse: the table grows in place, the block at the end of a PT_LOAD
	(*image).overSections,   // reuse: Go's section headers moved out of the way
	(*image).moveTable,      // move-table: table and block at the end of a PT_LOAD
	(*image).moveTableSplit, // move-table: the table at the end of one PT_LOAD, the block of another
	(*image).appendLoad,     // append-load: table and block in a new PT_LOAD
}

// nullSlot returns the index of a free PT_NULL entry for the first new
// program header, or -1. Only an all-zero one (removal writes one back),
// and not the last entry: a legacy removal (legacy.go) could not tell a
// PT_NOTE there from one added after the table.
func (im *image) nullSlot(progs []prog) int {
	return slices.Index(progs[:max(len(progs)-1, 0)], prog{})
}

// limit returns where bytes added after a segment must end: before the end
// of the file and, when the section names grow in place, before them.
func (im *image) limit(sl *sectLayout) uint64 {
	limit := uint64(im.size)
	if sl != nil && sl.inPlace {
		st := im.sects[im.shstrndx]
		limit = min(limit, st.Off+st.Size)
	}
	return limit
}

// afterTable leaves the table where it is: the first new program header
// takes a free PT_NULL entry if there is one, the others extend the table
// over unused bytes right after it, and the header block follows, inside
// the PT_LOAD that maps the table, which may grow up to the end of its
// last page when it ends exactly at the table (musl's static binaries).
func (im *image) afterTable(rq *request, sl *sectLayout) (*fileLayout, error) {
	progs := im.baseProgs()
	slot := im.nullSlot(progs)
	ent := uint64(im.phentsize)
	tableEnd := im.phoff + uint64(len(im.progs))*ent
	size, align, _ := rq.block()
	block := alignUp(tableEnd+rq.added(slot >= 0, false)*ent, align)
	end := block + size
	l, grow := im.fitAfterTable(tableEnd, end, im.limit(sl))
	if l < 0 {
		return nil, nil
	}
	if ok, err := im.free(tableEnd, end, l); !ok || err != nil {
		return nil, err
	}
	if grow {
		progs[l].Filesz, progs[l].Memsz = end-progs[l].Off, end-progs[l].Off
	}
	k := loadOfIn(progs, block, size)
	return &fileLayout{
		strategy: StrategyReuse, phoff: im.phoff, progs: progs, slot: slot,
		block: block, vaddr: block - progs[k].Off + progs[k].Vaddr, sects: sl,
	}, nil
}

// atLoadEnd leaves the table where it is, as afterTable does, but puts
// the header block at the end of a PT_LOAD (aligned, after zero padding),
// growing that segment within its last page: the first new program header
// takes a free PT_NULL entry if there is one, the others extend the table
// over unused bytes inside the segment that maps it.
func (im *image) atLoadEnd(rq *request, sl *sectLayout) (*fileLayout, error) {
	progs := im.baseProgs()
	slot := im.nullSlot(progs)
	ent := uint64(im.phentsize)
	tableEnd := im.phoff + uint64(len(im.progs))*ent
	grown := tableEnd + rq.added(slot >= 0, false)*ent
	limit := im.limit(sl)
	if grown > tableEnd {
		// Only inside the segment: one that ends with the table is
		// afterTable's case.
		if l, grow := im.fitAfterTable(tableEnd, grown, limit); l < 0 || grow {
			return nil, nil
		} else if ok, err := im.free(tableEnd, grown, l); !ok || err != nil {
			return nil, err
		}
	}
	size, align, _ := rq.block()
	for i, l := range im.progs {
		end := l.Off + l.Filesz
		block := alignUp(end, align)
		if !im.growable(i, block+size, limit) || (end < grown && tableEnd < block+size) {
			continue
		}
		ok, err := im.free(end, block+size, i)
		if err != nil {
			return nil, err
		}
		if ok {
			progs[i].Filesz, progs[i].Memsz = block+size-l.Off, block+size-l.Off
			return &fileLayout{
				strategy: StrategyReuse, phoff: im.phoff, progs: progs, slot: slot,
				block: block, vaddr: block - l.Off + l.Vaddr, sects: sl,
			}, nil
		}
	}
	return nil, nil
}

// overSections makes room where Go's linker put the section header table:
// right after the program headers, inside the first segment, with
// .shstrtab at the end of the file. The section header table moves to the
// end of the file, behind .shstrtab (which grows in place by the new
// name); the table grows over its old place and the header block follows.
func (im *image) overSections(rq *request, sl *sectLayout) (*fileLayout, error) {
	progs := im.baseProgs()
	if im.nullSlot(progs) >= 0 || len(im.sects) == 0 || len(im.shstrtab) == 0 || im.staleSect != 0 || im.damage != nil {
		return nil, nil
	}
	ent := uint64(im.phentsize)
	tableEnd := im.phoff + uint64(len(im.progs))*ent
	shdrEnd := im.shoff + uint64(len(im.sects)*im.shentsize)
	st := im.sects[im.shstrndx]
	if im.shoff != tableEnd || st.Off+st.Size != uint64(im.size) {
		return nil, nil
	}
	size, align, _ := rq.block()
	block := alignUp(tableEnd+rq.added(false, false)*ent, align)
	end := block + size
	l := loadOfIn(im.progs, im.phoff, shdrEnd-im.phoff)
	if l < 0 || end > shdrEnd || im.progs[l].Off+im.progs[l].Filesz <= shdrEnd {
		return nil, nil
	}
	// Nothing but the section header table may use its bytes.
	for i, pr := range im.progs {
		if i != l && pr.Type != ptPhdr && pr.Filesz > 0 && pr.Off < shdrEnd && tableEnd < pr.Off+pr.Filesz {
			return nil, nil
		}
	}
	for i := range im.sects {
		if s := &im.sects[i]; s.fileEnd() > s.Off && s.Off < shdrEnd && tableEnd < s.fileEnd() {
			return nil, nil
		}
	}
	add := uint64(len(Section) + 1)
	gsl := &sectLayout{strOff: st.Off, strSize: st.Size + add, inPlace: true, name: uint32(st.Size)}
	gsl.shoff = alignUp(st.Off+gsl.strSize, uint64(im.word))
	gsl.end = gsl.shoff + uint64((len(im.sects)+1)*im.shentsize)
	return &fileLayout{
		strategy: StrategyReuse, phoff: im.phoff, progs: progs, slot: -1,
		block: block, vaddr: block - im.progs[l].Off + im.progs[l].Vaddr, sects: gsl,
		zero: []span{{tableEnd, shdrEnd}},
	}, nil
}

// moveTable puts a copy of the table, with the new entries, and the header
// block into the unused bytes after the end of a readable PT_LOAD with no
// .bss and the first PT_LOAD's p_vaddr - p_offset, growing that segment
// within the last page it already maps. The old table is left as it was.
func (im *image) moveTable(rq *request, sl *sectLayout) (*fileLayout, error) {
	first := im.progs[im.firstLoad()]
	delta := first.Vaddr - first.Off
	ent := uint64(im.phentsize)
	count := uint64(len(im.progs)) + rq.added(false, false)
	size, align, _ := rq.block()
	for i, l := range im.progs {
		if l.Vaddr-l.Off != delta {
			continue
		}
		end := l.Off + l.Filesz
		phoff := alignUp(end, uint64(im.word))
		block := alignUp(phoff+count*ent, align)
		newEnd := block + size
		if !im.growable(i, newEnd, im.limit(sl)) {
			continue
		}
		ok, err := im.free(end, newEnd, i)
		if err != nil {
			return nil, err
		}
		if ok {
			progs := im.baseProgs()
			progs[i].Filesz, progs[i].Memsz = newEnd-l.Off, newEnd-l.Off
			return &fileLayout{
				strategy: StrategyMoveTable, phoff: phoff, progs: progs, slot: -1,
				block: block, vaddr: block + delta, sects: sl,
			}, nil
		}
	}
	return nil, nil
}

// moveTableSplit is moveTable when no segment has room for both: the
// copy of the table goes to the end of one PT_LOAD (the first PT_LOAD's
// p_vaddr - p_offset, as moveTable's), the header block to the end of
// another (aligned, after zero padding), each growing within the last
// page it already maps.
func (im *image) moveTableSplit(rq *request, sl *sectLayout) (*fileLayout, error) {
	first := im.progs[im.firstLoad()]
	delta := first.Vaddr - first.Off
	ent := uint64(im.phentsize)
	count := uint64(len(im.progs)) + rq.added(false, false)
	size, align, _ := rq.block()
	limit := im.limit(sl)
	// Where the table could go, and where the block could: each checked
	// once, so that the pairs below cost no reads.
	type room struct {
		i             int
		end, off, new uint64 // the segment's end, where the bytes go, its new end
	}
	var tables, blocks []room
	for i, l := range im.progs {
		end := l.Off + l.Filesz
		if l.Type != ptLoad {
			continue
		}
		if phoff := alignUp(end, uint64(im.word)); l.Vaddr-l.Off == delta && im.growable(i, phoff+count*ent, limit) {
			ok, err := im.free(end, phoff+count*ent, i)
			if err != nil {
				return nil, err
			}
			if ok {
				tables = append(tables, room{i, end, phoff, phoff + count*ent})
			}
		}
		if block := alignUp(end, align); im.growable(i, block+size, limit) {
			ok, err := im.free(end, block+size, i)
			if err != nil {
				return nil, err
			}
			if ok {
				blocks = append(blocks, room{i, end, block, block + size})
			}
		}
	}
	for _, t := range tables {
		for _, b := range blocks {
			if b.i == t.i || (b.end < t.new && t.end < b.new) {
				continue
			}
			progs := im.baseProgs()
			progs[t.i].Filesz, progs[t.i].Memsz = t.new-progs[t.i].Off, t.new-progs[t.i].Off
			progs[b.i].Filesz, progs[b.i].Memsz = b.new-progs[b.i].Off, b.new-progs[b.i].Off
			bl := im.progs[b.i]
			return &fileLayout{
				strategy: StrategyMoveTable, phoff: t.off, progs: progs, slot: -1,
				block: b.off, vaddr: b.off - bl.Off + bl.Vaddr, sects: sl,
			}, nil
		}
	}
	return nil, nil
}

// appendLoad puts the table and the header block into a new read-only
// PT_LOAD at the end of the file, page-aligned, at the first PT_LOAD's
// p_vaddr - p_offset and above every segment's memory (after a large .bss
// the file offset jumps too: the gap is a hole in the file).
func (im *image) appendLoad(rq *request, sl *sectLayout) (*fileLayout, error) {
	first := im.progs[im.firstLoad()]
	delta := first.Vaddr - first.Off
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
		return nil, fmt.Errorf("%w: a new segment would start at file offset %#x, past the program's memory image", ErrNoRoom, off)
	}
	ent := uint64(im.phentsize)
	size, align, _ := rq.block()
	block := alignUp(off+(uint64(len(im.progs))+rq.added(false, true))*ent, align)
	end := block + size
	if im.class == ELFCLASS32 && (end > 1<<32 || off+delta+(end-off) > 1<<32 || off+delta < off) {
		return nil, fmt.Errorf("%w: no address space left for a new segment; stamp a binary with less .bss or more slack", ErrNoRoom)
	}
	seg := prog{Type: ptLoad, Flags: pfR, Off: off, Vaddr: off + delta, Paddr: off + delta, Filesz: end - off, Memsz: end - off, Align: ps}
	return &fileLayout{
		strategy: StrategyAppend, phoff: off, progs: im.baseProgs(), slot: -1, newLoad: &seg,
		block: block, vaddr: block + delta, sects: sl, end: end,
	}, nil
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
// (see used) and holds only zeros. Zero is required so that a new stamp's
// bytes can only replace bytes nothing reads.
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
