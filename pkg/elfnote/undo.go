package elfnote

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// The NT_SYSRESTRICT_UNDO record says what Remove must do to give back
// the file as it was before it was stamped: the ELF header fields the
// stamp changed, the original size, and the original bytes of every range
// below that size the stamp wrote over (zero, the bytes themselves, or
// where in the stamped file they now are). docs/note-format.md draws the
// layout; every stamp that changes the layout writes one, and Remove
// replays it instead of recognising the layout (legacy.go keeps that for
// notes stamped before the record existed).
const (
	undoVersion    = 1
	undoHeadSize   = 48
	undoEntrySize  = 16       // a ZERO or DATA entry's header; COPY adds an 8-byte source
	maxUndo        = 64 << 10 // the largest descriptor a reader accepts
	maxUndoEntries = 4096
	maxUndoCopy    = 16 << 20 // the most bytes COPY entries may restore, in total

	// undoGap: ranges the plan wrote at most this far apart are encoded
	// together (undoEntries may then restore them with one entry).
	undoGap = 64
)

// The kinds of undo entries.
const (
	undoZero = 1 // the original bytes were zeros
	undoData = 2 // the original bytes follow the entry's header
	undoCopy = 3 // the original bytes are in the stamped file at the entry's source
)

// undoInexact (a flag of the record): the file the record restores is not
// the file as it was before it was first stamped, but a repaired damaged
// stamp's or what a removal that was not exact left. Remove then reports
// Result.Exact false.
const (
	undoInexact    = 1
	undoKnownFlags = undoInexact
)

// undoEntry restores the original bytes [off, off+n).
type undoEntry struct {
	kind uint16
	off  uint64
	n    uint64
	src  uint64 // undoCopy: file offset of the bytes in the stamped file
	data []byte // undoData
	at   int64  // file offset of the entry (for error messages)
}

// undoRecord is an NT_SYSRESTRICT_UNDO record: built by buildUndo
// (entries), or decoded from a descriptor (raw, whose entries each walks
// without allocating: the loader reads the record at every exec).
type undoRecord struct {
	strategy     Strategy
	flags        uint8
	size         uint64 // the original file size
	entry        uint64 // e_entry
	phoff, shoff uint64 // e_phoff, e_shoff
	phnum, shnum uint16 // e_phnum, e_shnum
	entries      []undoEntry
	raw          []byte // a decoded record's descriptor
	bo           binary.ByteOrder
	at           int64 // file offset of the descriptor
}

// encode returns the descriptor bytes of a built record in byte order bo.
func (r *undoRecord) encode(bo binary.ByteOrder) []byte {
	b := make([]byte, undoHeadSize)
	bo.PutUint16(b[0:], undoVersion)
	b[2] = byte(r.strategy)
	b[3] = r.flags
	bo.PutUint32(b[4:], uint32(len(r.entries)))
	bo.PutUint64(b[8:], r.size)
	bo.PutUint64(b[16:], r.phoff)
	bo.PutUint64(b[24:], r.shoff)
	bo.PutUint64(b[32:], r.entry)
	bo.PutUint16(b[40:], r.phnum)
	bo.PutUint16(b[42:], r.shnum)
	for _, e := range r.entries {
		h := make([]byte, undoEntrySize)
		bo.PutUint16(h[0:], e.kind)
		bo.PutUint32(h[4:], uint32(e.n))
		bo.PutUint64(h[8:], e.off)
		b = append(b, h...)
		switch e.kind {
		case undoCopy:
			src := make([]byte, 8)
			bo.PutUint64(src, e.src)
			b = append(b, src...)
		case undoData:
			b = append(b, e.data...)
			b = append(b, make([]byte, alignUp(e.n, 4)-e.n)...)
		}
	}
	return b
}

// decodeUndo parses the descriptor desc found at file offset off. It
// checks what the descriptor alone can tell: the version, the sizes, that
// every entry lies inside the descriptor and is of a known kind, and that
// the padding is zero. checkUndo checks the rest against the file.
func decodeUndo(desc []byte, off int64, bo binary.ByteOrder) (undoRecord, error) {
	if len(desc) < undoHeadSize || len(desc) > maxUndo || len(desc)%4 != 0 {
		return undoRecord{}, badNote(off, "NT_SYSRESTRICT_UNDO has %d bytes, want a multiple of 4 from %d to %d", len(desc), undoHeadSize, maxUndo)
	}
	if v := bo.Uint16(desc); v != undoVersion {
		return undoRecord{}, badNote(off, "undo record version %d (this sysrestrict reads version %d); a newer sysrestrict stamped this file", v, undoVersion)
	}
	r := undoRecord{
		strategy: Strategy(desc[2]), flags: desc[3],
		size: bo.Uint64(desc[8:]), phoff: bo.Uint64(desc[16:]), shoff: bo.Uint64(desc[24:]), entry: bo.Uint64(desc[32:]),
		phnum: bo.Uint16(desc[40:]), shnum: bo.Uint16(desc[42:]), raw: desc, bo: bo, at: off,
	}
	switch r.strategy {
	case StrategyReuse, StrategyMoveTable, StrategyAppend:
	default:
		return undoRecord{}, badNote(off+2, "undo record names unknown strategy %d", desc[2])
	}
	if unknown := r.flags &^ undoKnownFlags; unknown != 0 {
		return undoRecord{}, badNote(off+3, "undo record has unknown flag bits %#x; a newer sysrestrict stamped this file", unknown)
	}
	if !isZero(desc[44:undoHeadSize]) {
		return undoRecord{}, badNote(off+44, "undo record's reserved bytes are not zero")
	}
	if count := bo.Uint32(desc[4:]); count > maxUndoEntries {
		return undoRecord{}, badNote(off+4, "undo record has %d entries, at most %d are allowed", count, maxUndoEntries)
	}
	end, err := r.walk(nil)
	if err != nil {
		return undoRecord{}, err
	}
	if !isZero(desc[end:]) {
		return undoRecord{}, badNote(off+int64(end), "undo record has non-zero bytes after its last entry")
	}
	return r, nil
}

// each calls f with each entry of r, in order.
func (r *undoRecord) each(f func(i int, e undoEntry) error) error {
	if r.raw == nil {
		for i, e := range r.entries {
			if err := f(i, e); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := r.walk(f)
	return err
}

// list returns the entries of r.
func (r *undoRecord) list() []undoEntry {
	var es []undoEntry
	r.each(func(_ int, e undoEntry) error { es = append(es, e); return nil })
	return es
}

// walk parses the entries of a decoded record, checking that each lies
// inside the descriptor, has a known kind and zero padding, and calls f
// (if not nil) with each. It returns the offset past the last entry.
func (r *undoRecord) walk(f func(i int, e undoEntry) error) (uint64, error) {
	desc, bo, off := r.raw, r.bo, r.at
	count := int(bo.Uint32(desc[4:]))
	p := uint64(undoHeadSize)
	end := uint64(len(desc))
	for i := range count {
		at := off + int64(p)
		if end-p < undoEntrySize {
			return 0, badNote(at, "undo entry %d runs past the record", i)
		}
		h := desc[p : p+undoEntrySize]
		e := undoEntry{kind: bo.Uint16(h[0:]), n: uint64(bo.Uint32(h[4:])), off: bo.Uint64(h[8:]), at: at}
		if bo.Uint16(h[2:]) != 0 {
			return 0, badNote(at+2, "undo entry %d's reserved bytes are not zero", i)
		}
		if e.n == 0 {
			return 0, badNote(at+4, "undo entry %d restores no bytes", i)
		}
		p += undoEntrySize
		switch e.kind {
		case undoZero:
		case undoCopy:
			if end-p < 8 {
				return 0, badNote(at, "undo entry %d runs past the record", i)
			}
			e.src = bo.Uint64(desc[p:])
			p += 8
		case undoData:
			padded := alignUp(e.n, 4)
			if end-p < padded {
				return 0, badNote(at, "undo entry %d (%d bytes of data) runs past the record", i, e.n)
			}
			e.data = desc[p : p+e.n : p+e.n]
			if !isZero(desc[p+e.n : p+padded]) {
				return 0, badNote(off+int64(p+e.n), "undo entry %d's padding is not zero", i)
			}
			p += padded
		default:
			return 0, badNote(at, "undo entry %d has unknown kind %d", i, e.kind)
		}
		if f != nil {
			if err := f(i, e); err != nil {
				return 0, err
			}
		}
	}
	return p, nil
}

// checkUndo checks r against the file: the original size is at most the
// file's, the header fields describe tables inside the original file, the
// entries restore bytes between the ELF header and the original size in
// increasing order without overlapping, and every COPY source lies in the
// file. Each check is one pass over the entries.
func (im *image) checkUndo(r *undoRecord) error {
	size := uint64(im.size)
	eh := uint64(im.ehsize)
	if r.size < eh || r.size > size {
		return badNote(r.at+8, "undo record's original size %d is not between the ELF header's %d and the file's %d", r.size, eh, size)
	}
	if r.phnum == 0xffff || r.phnum > 0 && (r.phoff > r.size || uint64(r.phnum)*uint64(im.phentsize) > r.size-r.phoff) {
		return badNote(r.at+16, "undo record's program header table (offset %#x, %d entries) lies outside the original file", r.phoff, r.phnum)
	}
	if r.shnum > 0 && (r.shoff > r.size || uint64(r.shnum)*uint64(im.shentsize) > r.size-r.shoff) {
		return badNote(r.at+24, "undo record's section header table (offset %#x, %d entries) lies outside the original file", r.shoff, r.shnum)
	}
	next, copied := eh, uint64(0)
	return r.each(func(i int, e undoEntry) error {
		if e.off < next {
			return badNote(e.at+8, "undo entry %d (offset %#x) overlaps the ELF header or the entry before it", i, e.off)
		}
		if e.off > r.size || e.n > r.size-e.off {
			return badNote(e.at+8, "undo entry %d (offset %#x, %d bytes) lies past the original size %d", i, e.off, e.n, r.size)
		}
		next = e.off + e.n
		if e.kind == undoCopy {
			if e.src > size || e.n > size-e.src {
				return badNote(e.at+16, "undo entry %d copies from offset %#x, %d bytes, outside the file", i, e.src, e.n)
			}
			if copied += e.n; copied > maxUndoCopy {
				return badNote(e.at, "undo record copies more than %d bytes", maxUndoCopy)
			}
		}
		return nil
	})
}

// replayUndo plans the removal of a note that carries an undo record:
// the header fields, the original size and the recorded bytes come back.
func (im *image) replayUndo(p *Plan, r *undoRecord) error {
	p.Cut, p.Size = int64(r.size), int64(r.size)
	b := make([]byte, im.word)
	im.putWord(b, r.entry)
	p.patch(uint64(im.offEntry), b)
	b = make([]byte, im.word)
	im.putWord(b, r.phoff)
	p.patch(uint64(im.offPhoff), b)
	b = make([]byte, im.word)
	im.putWord(b, r.shoff)
	p.patch(uint64(im.offShoff), b)
	p.patch(uint64(im.offPhnum), im.half(r.phnum))
	p.patch(uint64(im.offShnum), im.half(r.shnum))
	err := r.each(func(_ int, e undoEntry) error {
		switch e.kind {
		case undoZero:
			p.patch(e.off, make([]byte, e.n))
		case undoData:
			p.patch(e.off, e.data)
		case undoCopy:
			// Read from the stamped file before any entry is applied.
			b := make([]byte, e.n)
			if err := im.readAt(b, e.src); err != nil {
				return fmt.Errorf("reading the bytes undo entry at %#x restores: %w", e.at, err)
			}
			p.patch(e.off, b)
		}
		return nil
	})
	p.Exact = r.flags&undoInexact == 0
	return err
}

// A span is the file range [off, end).
type span struct{ off, end uint64 }

// A move says that the original bytes [from, from+n) were copied to
// [to, to+n) of the stamped file, perhaps with a few of them changed: the
// undo record restores them from there rather than storing them.
type move struct{ from, to, n uint64 }

// undoBase is the file an undo record restores and how the plan gets from
// it to the stamped file.
type undoBase struct {
	r     io.ReaderAt // the file before the stamp; nil: the image's own
	pre   []Patch     // patches the plan applies before the layout's (a repair's)
	flags uint8       // undoInexact if r is not the file as first stamped
}

// buildUndo returns the record that restores base from the file p makes of
// the image's: the header fields, and entries for every byte below the
// original size that p changes, and for all of keep (the note, whose
// descriptors later stamps rewrite in place).
func (im *image) buildUndo(base undoBase, p *Plan, strategy Strategy, keep span, moves []move) (*undoRecord, error) {
	orig := base.r
	if orig == nil {
		orig = im.r
	}
	after := &overlay{base: im.r, plan: p}
	eh, size := uint64(im.ehsize), uint64(p.orig)
	oh, err := readSpan(orig, 0, eh)
	if err != nil {
		return nil, err
	}
	nh, err := readSpan(after, 0, eh)
	if err != nil {
		return nil, err
	}
	rec := &undoRecord{
		strategy: strategy, flags: base.flags, size: size,
		entry: im.getWord(oh[im.offEntry:]), phoff: im.getWord(oh[im.offPhoff:]), shoff: im.getWord(oh[im.offShoff:]),
		phnum: im.bo.Uint16(oh[im.offPhnum:]), shnum: im.bo.Uint16(oh[im.offShnum:]),
	}
	for _, f := range [][2]int{{im.offEntry, im.word}, {im.offPhoff, im.word}, {im.offShoff, im.word}, {im.offPhnum, 2}, {im.offShnum, 2}} {
		copy(nh[f[0]:f[0]+f[1]], oh[f[0]:f[0]+f[1]])
	}
	if !bytes.Equal(oh, nh) {
		return nil, fmt.Errorf("internal error: the layout changes bytes of the ELF header that the undo record does not restore")
	}

	// What the plan wrote between the ELF header and the original size,
	// and the note; ranges close together are encoded together.
	var rs []span
	clip := func(s span) {
		s.off, s.end = max(s.off, eh), min(s.end, size)
		if s.off < s.end {
			rs = append(rs, s)
		}
	}
	for _, pt := range p.Patches {
		clip(span{uint64(pt.Off), uint64(pt.Off) + uint64(len(pt.Data))})
	}
	clip(keep)
	for _, r := range mergeSpans(rs, undoGap) {
		es, err := undoEntries(orig, after, r, keep, moves)
		if err != nil {
			return nil, err
		}
		rec.entries = append(rec.entries, es...)
	}
	if len(rec.entries) > maxUndoEntries {
		return nil, fmt.Errorf("%w: the undo record would need %d entries", ErrNoRoom, len(rec.entries))
	}
	// Check what a replay would restore, entry by entry.
	for _, e := range rec.entries {
		want, err := readSpan(orig, e.off, e.n)
		if err != nil {
			return nil, err
		}
		got := make([]byte, e.n)
		switch e.kind {
		case undoData:
			got = e.data
		case undoCopy:
			if got, err = readSpan(after, e.src, e.n); err != nil {
				return nil, err
			}
		}
		if !bytes.Equal(got, want) {
			return nil, fmt.Errorf("internal error: undo entry at %#x does not restore the original bytes", e.off)
		}
	}
	return rec, nil
}

// The classes of bytes in undoEntries.
const (
	classSkip = iota // need not be restored
	classData
	classZero
	classCopy // classCopy+k: a copy through moves[k]
)

// undoEntries returns the cheapest entries that restore the original
// bytes of r that the plan changed, and all of keep. Each byte can be
// restored as DATA, as ZERO where it was zero, as COPY where a move put it
// and it is unchanged there, or skipped where the plan left it as it was;
// an entry's header costs 16 bytes (COPY 24), DATA one byte per byte. The
// cheapest sequence is found by dynamic programming over the bytes, with
// one state per class.
func undoEntries(orig, after io.ReaderAt, r span, keep span, moves []move) ([]undoEntry, error) {
	n := r.end - r.off
	o, err := readSpan(orig, r.off, n)
	if err != nil {
		return nil, err
	}
	now, err := readSpan(after, r.off, n)
	if err != nil {
		return nil, err
	}
	// copyOK[k][i]: byte i is unchanged where moves[k] put it.
	copyOK := make([][]bool, len(moves))
	for k, m := range moves {
		copyOK[k] = make([]bool, n)
		lo, hi := max(r.off, m.from), min(r.end, m.from+m.n)
		if lo >= hi {
			continue
		}
		moved, err := readSpan(after, m.to+(lo-m.from), hi-lo)
		if err != nil {
			return nil, err
		}
		for x := lo; x < hi; x++ {
			copyOK[k][x-r.off] = moved[x-lo] == o[x-r.off]
		}
	}
	states := classCopy + len(moves)
	valid := func(i uint64, s int) bool {
		switch s {
		case classSkip:
			x := r.off + i
			return o[i] == now[i] && (x < keep.off || x >= keep.end)
		case classData:
			return true
		case classZero:
			return o[i] == 0
		}
		return copyOK[s-classCopy][i]
	}
	header := func(s int) int {
		switch s {
		case classSkip:
			return 0
		case classData:
			return undoEntrySize + 2 // and about 2 bytes of padding
		case classZero:
			return undoEntrySize
		}
		return undoEntrySize + 8
	}
	const inf = 1 << 62
	cost := make([]int, states)
	for s := range cost {
		cost[s] = inf
	}
	cost[classSkip] = 0
	back := make([]uint8, n*uint64(states))
	next := make([]int, states)
	for i := range n {
		for s := range states {
			next[s] = inf
			if !valid(i, s) {
				continue
			}
			for q := range states {
				if cost[q] == inf {
					continue
				}
				c := cost[q]
				if q != s {
					c += header(s)
				}
				if s == classData {
					c++
				}
				if c < next[s] {
					next[s], back[i*uint64(states)+uint64(s)] = c, uint8(q)
				}
			}
		}
		cost, next = next, cost
	}
	best := 0
	for s := range states {
		if cost[s] < cost[best] {
			best = s
		}
	}
	class := make([]int, n)
	for i := n; i > 0; i-- {
		class[i-1] = best
		best = int(back[(i-1)*uint64(states)+uint64(best)])
	}
	var es []undoEntry
	for i := uint64(0); i < n; {
		c, j := class[i], i+1
		for j < n && class[j] == c {
			j++
		}
		e := undoEntry{off: r.off + i, n: j - i}
		switch {
		case c == classSkip:
			i = j
			continue
		case c == classData:
			e.kind, e.data = undoData, o[i:j:j]
		case c == classZero:
			e.kind = undoZero
		default:
			m := moves[c-classCopy]
			e.kind, e.src = undoCopy, m.to+(e.off-m.from)
		}
		if e.n > 1<<31 {
			return nil, fmt.Errorf("%w: an undo entry of %d bytes", ErrNoRoom, e.n)
		}
		es = append(es, e)
		i = j
	}
	return es, nil
}

// mergeSpans sorts spans and merges those that overlap or lie at most gap
// bytes apart.
func mergeSpans(s []span, gap uint64) []span {
	slices.SortFunc(s, func(a, b span) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	})
	var out []span
	for _, x := range s {
		if k := len(out) - 1; k >= 0 && x.off <= out[k].end+gap {
			out[k].end = max(out[k].end, x.end)
			continue
		}
		out = append(out, x)
	}
	return out
}

// readSpan reads n bytes at off from r.
func readSpan(r io.ReaderAt, off, n uint64) ([]byte, error) {
	b := make([]byte, n)
	if k, err := r.ReadAt(b, int64(off)); uint64(k) < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading %d bytes at offset %#x: %w", n, off, err)
	}
	return b, nil
}
