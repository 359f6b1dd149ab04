package elfnote

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// stampedWithUndo returns fixture name stamped with {59, 101} in memory,
// the original, and the parsed stamped headers.
func stampedWithUndo(t *testing.T, name string) (stamped, orig []byte, im *image) {
	t.Helper()
	orig, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanStamp(bytes.NewReader(orig), bitmap.NewSet(bitmap.X86_64, 59, 101))
	if err != nil {
		t.Fatal(err)
	}
	stamped = p.Apply(bytes.Clone(orig))
	if im, err = parse(bytes.NewReader(stamped)); err != nil {
		t.Fatal(err)
	}
	if im.undo == nil {
		t.Fatalf("the stamped %s carries no undo record", name)
	}
	return stamped, orig, im
}

// TestUndoRecord checks what every stamp that changes the layout writes:
// an undo record with the original header fields and size, that a
// replay turns back into the original.
func TestUndoRecord(t *testing.T) {
	for _, name := range []string{"x86_64-pie", "x86_64-musl-static", "x86_64-pie-lld", "go-internal", "x86_64-nosections"} {
		t.Run(name, func(t *testing.T) {
			stamped, orig, im := stampedWithUndo(t, name)
			o, err := parse(bytes.NewReader(orig))
			if err != nil {
				t.Fatal(err)
			}
			r := im.undo
			got := [6]uint64{r.size, r.phoff, uint64(r.phnum), r.shoff, uint64(r.shnum), r.entry}
			want := [6]uint64{uint64(len(orig)), o.phoff, uint64(o.phnum), o.shoff, uint64(o.shnum), o.getWord(orig[o.offEntry:])}
			if got != want {
				t.Errorf("undo record (size, e_phoff, e_phnum, e_shoff, e_shnum, e_entry) = %#x, want %#x", got, want)
			}
			if r.flags != 0 {
				t.Errorf("undo record flags = %#x, want 0", r.flags)
			}
			rm, err := PlanRemove(bytes.NewReader(stamped))
			if err != nil || !rm.Exact || !bytes.Equal(rm.Apply(bytes.Clone(stamped)), orig) {
				t.Errorf("PlanRemove = %v; want an exact replay", err)
			}
			// encode(decode(desc)) == desc, but for the zeros that pad it.
			built := undoRecord{strategy: r.strategy, flags: r.flags, size: r.size, entry: r.entry,
				phoff: r.phoff, shoff: r.shoff, phnum: r.phnum, shnum: r.shnum, entries: r.list()}
			enc := built.encode(im.bo)
			if desc := r.raw; !bytes.Equal(desc[:len(enc)], enc) || !isZero(desc[len(enc):]) {
				t.Errorf("encoding the decoded record gives other bytes:\n%x\n%x", enc, desc)
			}
			r2, err := decodeUndo(enc, r.at, im.bo)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r.list(), r2.list(), cmp.AllowUnexported(undoEntry{})); diff != "" {
				t.Errorf("decodeUndo(encode(r)) has other entries:\n%s", diff)
			}
		})
	}
}

// anywhere: an error somewhere inside the record.
const anywhere = -1 << 40

// TestUndoRecordRefused changes one field of a stamped file's undo record
// at a time: Read must refuse the note with ErrBadNote, at an offset inside
// the record, and PlanRemove must refuse too.
func TestUndoRecordRefused(t *testing.T) {
	_, _, probe := stampedWithUndo(t, "x86_64-pie")
	first := probe.undo.list()[0]
	for _, tc := range []struct {
		name   string
		at     int64 // where the error is, relative to the record (negative: from its end)
		change func(im *image, rec []byte)
	}{
		{"version", 0, func(im *image, rec []byte) { im.bo.PutUint16(rec, 2) }},
		{"strategy", 2, func(im *image, rec []byte) { rec[2] = 9 }},
		{"unknown flag", 3, func(im *image, rec []byte) { rec[3] = 0x80 }},
		{"entry count", 4, func(im *image, rec []byte) { im.bo.PutUint32(rec[4:], maxUndoEntries+1) }},
		{"entry count past the record", anywhere, func(im *image, rec []byte) {
			im.bo.PutUint32(rec[4:], im.bo.Uint32(rec[4:])+100)
		}},
		{"original size past the file", 8, func(im *image, rec []byte) { im.bo.PutUint64(rec[8:], uint64(im.size)+1) }},
		{"original size inside the ELF header", 8, func(im *image, rec []byte) { im.bo.PutUint64(rec[8:], 12) }},
		{"program headers past the original size", 16, func(im *image, rec []byte) { im.bo.PutUint64(rec[16:], im.bo.Uint64(rec[8:])) }},
		{"section headers past the original size", 24, func(im *image, rec []byte) { im.bo.PutUint64(rec[24:], 1<<62) }},
		{"PN_XNUM", 16, func(im *image, rec []byte) { im.bo.PutUint16(rec[40:], 0xffff) }},
		{"reserved header bytes", 44, func(im *image, rec []byte) { rec[46] = 1 }},
		{"unknown entry kind", int64(undoHeadSize), func(im *image, rec []byte) { im.bo.PutUint16(rec[undoHeadSize:], 7) }},
		{"reserved entry bytes", int64(undoHeadSize) + 2, func(im *image, rec []byte) { rec[undoHeadSize+2] = 1 }},
		{"empty entry", int64(undoHeadSize) + 4, func(im *image, rec []byte) { im.bo.PutUint32(rec[undoHeadSize+4:], 0) }},
		{"entry over the ELF header", int64(undoHeadSize) + 8, func(im *image, rec []byte) { im.bo.PutUint64(rec[undoHeadSize+8:], 8) }},
		{"entry past the original size", int64(undoHeadSize) + 8, func(im *image, rec []byte) {
			im.bo.PutUint64(rec[undoHeadSize+8:], im.bo.Uint64(rec[8:])-first.n+1)
		}},
		{"entry length overflows", int64(undoHeadSize) + 8, func(im *image, rec []byte) {
			im.bo.PutUint64(rec[undoHeadSize+8:], 1<<64-16)
		}},
		{"entries out of order", int64(undoHeadSize+undoEntrySize) + 8, func(im *image, rec []byte) {
			im.bo.PutUint64(rec[undoHeadSize+undoEntrySize+8:], first.off) // the second entry (ZERO) at the first's offset
		}},
		{"copy source past the file", int64(undoHeadSize + 2*undoEntrySize + 16), func(im *image, rec []byte) {
			im.bo.PutUint64(rec[undoHeadSize+2*undoEntrySize+16:], uint64(im.size)-2)
		}},
		{"data padding", int64(undoHeadSize + 4*undoEntrySize + 8 + 18), func(im *image, rec []byte) {
			rec[undoHeadSize+4*undoEntrySize+8+18] = 1 // the DATA entry holds 18 bytes
		}},
		{"trailing bytes", -4, func(im *image, rec []byte) { rec[len(rec)-1] = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, im := stampedWithUndo(t, "x86_64-pie")
			var kinds []uint16
			for _, e := range im.undo.list() {
				kinds = append(kinds, e.kind)
			}
			if !slices.Equal(kinds, []uint16{undoZero, undoZero, undoCopy, undoData}) || im.undo.list()[3].n != 18 {
				t.Fatalf("the record's entries are %+v; the test expects ZERO, ZERO, COPY, DATA (18 bytes)", im.undo.list())
			}
			descsz := int64(im.bo.Uint32(b[im.note.UndoOff-nhdrSize-int64(len(ownerName))+4:]))
			if tc.name == "trailing bytes" {
				// Room for a trailing byte: a record one word longer.
				descsz = growUndo(t, b, im)
			}
			rec := b[im.note.UndoOff : im.note.UndoOff+descsz]
			tc.change(im, rec)
			_, err := Read(bytes.NewReader(b))
			var fe *FormatError
			if !errors.Is(err, ErrBadNote) || !errors.As(err, &fe) {
				t.Fatalf("Read = %v; want ErrBadNote with an offset", err)
			}
			at := im.note.UndoOff + tc.at
			if tc.at < 0 {
				at = im.note.UndoOff + descsz + tc.at
			}
			if fe.Off < im.note.UndoOff || fe.Off > im.note.UndoOff+descsz || (tc.at != anywhere && fe.Off != at) {
				t.Errorf("Read error at offset %#x, want %#x (the record is at %#x, %d bytes): %v", fe.Off, at, im.note.UndoOff, descsz, err)
			}
			if _, err := PlanRemove(bytes.NewReader(b)); !errors.Is(err, ErrBadNote) {
				t.Errorf("PlanRemove = %v, want ErrBadNote", err)
			}
			if _, err := PlanStamp(bytes.NewReader(b), bitmap.NewSet(bitmap.X86_64, 62)); !errors.Is(err, ErrBadNote) {
				t.Errorf("PlanStamp = %v, want ErrBadNote", err)
			}
		})
	}
}

// growUndo makes the undo record of the stamped file b one word longer
// (the note and its segment with it; the bytes after the note are zero in
// a move-table layout) and returns its new size.
func growUndo(t *testing.T, b []byte, im *image) int64 {
	t.Helper()
	if im.undo.strategy != StrategyMoveTable || !isZero(b[im.note.Offset+im.note.Size:][:4]) {
		t.Fatal("growUndo needs a move-table stamp with zeros after the note")
	}
	hdr := im.note.UndoOff - nhdrSize - int64(len(ownerName))
	descsz := im.bo.Uint32(b[hdr+4:]) + 4
	im.bo.PutUint32(b[hdr+4:], descsz)
	for i, p := range im.progs {
		switch {
		case i == im.note.Prog, p.Type == ptLoad && p.Off+p.Filesz == uint64(im.note.Offset+im.note.Size):
			p.Filesz += 4
			p.Memsz += 4
			im.encodeProg(b[im.phoff+uint64(i*im.phentsize):], p)
		}
	}
	s := im.sects[im.note.Section]
	s.Size += 4
	im.encodeSect(b[im.shoff+uint64(im.note.Section*im.shentsize):], s)
	if _, err := Read(bytes.NewReader(b)); err != nil {
		t.Fatalf("the grown record does not read: %v", err)
	}
	return int64(descsz)
}

// TestUndoReplayChecked: a record that passes Read's checks but whose
// replay would not give a file the stamper could have stamped is not
// replayed: checkRestored refuses it, and PlanRemove falls back to the
// legacy removal, which removes the note and does not claim exactness.
func TestUndoReplayChecked(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(im *image, rec []byte)
	}{
		{"program header table overwritten", func(im *image, rec []byte) {
			// The first ZERO entry restores the ELF header's neighbour:
			// point it at the program header table.
			im.bo.PutUint64(rec[undoHeadSize+8:], im.undo.phoff)
		}},
		{"e_phoff into nothing", func(im *image, rec []byte) {
			im.bo.PutUint64(rec[16:], 0)
		}},
		{"note not removed", func(im *image, rec []byte) {
			// Restore the stamped size: the note stays.
			im.bo.PutUint64(rec[8:], uint64(im.size))
			im.bo.PutUint64(rec[16:], im.phoff)
			im.bo.PutUint16(rec[40:], uint16(len(im.progs)))
			im.bo.PutUint64(rec[24:], im.shoff)
			im.bo.PutUint16(rec[42:], uint16(len(im.sects)))
			im.bo.PutUint32(rec[4:], 0)
			clear(rec[undoHeadSize:])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, im := stampedWithUndo(t, "x86_64-pie")
			descsz := int64(im.bo.Uint32(b[im.note.UndoOff-nhdrSize-int64(len(ownerName))+4:]))
			tc.change(im, b[im.note.UndoOff:im.note.UndoOff+descsz])
			if _, err := Read(bytes.NewReader(b)); err != nil {
				t.Fatalf("Read = %v; the change was meant to pass Read's checks", err)
			}
			im, err := parse(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			p := &Plan{Cut: im.size, Size: im.size, orig: im.size}
			if err := im.replayUndo(p, im.undo); err != nil {
				t.Fatal(err)
			}
			if err := im.checkRestored(p); !errors.Is(err, ErrBadNote) {
				t.Errorf("checkRestored of the replay = %v, want ErrBadNote", err)
			}
			rm, err := PlanRemove(bytes.NewReader(b))
			if err != nil || rm.Exact {
				t.Fatalf("PlanRemove = %+v, %v; want the legacy removal, not exact", rm, err)
			}
			if f, err := Read(bytes.NewReader(rm.Apply(bytes.Clone(b)))); err != nil || f.Stamped {
				t.Errorf("after PlanRemove: %+v, %v; want a file without a note", f, err)
			}
		})
	}
}

// TestUndoKeptOnRestamp: re-stamping a stamped file, in place (adding
// bits) or through a new file (loosening with Replace), keeps its undo
// record byte for byte, and Remove still gives back the original.
func TestUndoKeptOnRestamp(t *testing.T) {
	p := tempFixture(t, "x86_64-pie")
	orig := mustRead(t, p)
	if _, err := Stamp(p, bitmap.NewSet(bitmap.X86_64, 59, 101), Options{}); err != nil {
		t.Fatal(err)
	}
	record := func() []byte {
		b := mustRead(t, p)
		im, err := parse(bytes.NewReader(b))
		if err != nil || im.note.UndoOff == 0 {
			t.Fatalf("no undo record: %v", err)
		}
		return b[im.note.UndoOff : im.note.Offset+im.note.Size]
	}
	want := bytes.Clone(record())
	for _, tc := range []struct {
		set  bitmap.Set
		opts Options
	}{
		{bitmap.NewSet(bitmap.X86_64, 62), Options{}},
		{bitmap.NewSet(bitmap.X86_64, 1, 2, 3), Options{Replace: true}},
		{func() bitmap.Set { s := bitmap.NewSet(bitmap.X86_64, 4); s.SetDenyBeyond(true); return s }(), Options{}},
	} {
		if _, err := Stamp(p, tc.set, tc.opts); err != nil {
			t.Fatal(err)
		}
		if got := record(); !bytes.Equal(got, want) {
			t.Errorf("Stamp(%v, %+v) changed the undo record", tc.set, tc.opts)
		}
	}
	if res, err := Remove(p, Options{}); err != nil || !res.Exact || !bytes.Equal(mustRead(t, p), orig) {
		t.Errorf("Remove = %+v, %v; want the original", res, err)
	}
}

// TestUndoRepaired: a repaired stamp's record restores the damaged file
// with the damaged note taken out, not the original, and says so.
func TestUndoRepaired(t *testing.T) {
	b, _, im := stampedWithUndo(t, "x86_64-pie")
	clear(b[im.phoff+uint64(im.note.Prog*im.phentsize):][:im.phentsize]) // PT_NOTE dropped
	if _, err := Read(bytes.NewReader(b)); !errors.Is(err, ErrBadNote) {
		t.Fatalf("Read of a damaged stamp = %v", err)
	}
	p, err := PlanStamp(bytes.NewReader(b), bitmap.NewSet(bitmap.X86_64, 62))
	if err != nil {
		t.Fatal(err)
	}
	repaired := p.Apply(bytes.Clone(b))
	im2, err := parse(bytes.NewReader(repaired))
	if err != nil || im2.undo == nil || im2.undo.flags != undoInexact {
		t.Fatalf("repaired: %v; want an undo record marked inexact", err)
	}
	rm, err := PlanRemove(bytes.NewReader(repaired))
	if err != nil || rm.Exact {
		t.Fatalf("PlanRemove of a repaired stamp = %+v, %v; want a removal that is not exact", rm, err)
	}
	back := rm.Apply(bytes.Clone(repaired))
	if f, err := Read(bytes.NewReader(back)); err != nil || f.Stamped {
		t.Errorf("after removing a repaired stamp: %+v, %v; want a file without a note", f, err)
	}
	damaged, _ := im.removeDamagedBytes(b)
	if !bytes.Equal(back, damaged) {
		t.Errorf("removing a repaired stamp does not give the damaged file with its note removed")
	}
}

// removeDamagedBytes applies removeDamaged to b.
func (im *image) removeDamagedBytes(b []byte) ([]byte, error) {
	im2, err := parseLenient(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return im2.removeDamaged(bitmap.Set{}).Apply(bytes.Clone(b)), nil
}

// TestUndoEntriesRandom builds records for random changes to random bytes
// with random moves and checks that each restores the original exactly.
func TestUndoEntriesRandom(t *testing.T) {
	seed := uint64(20261201)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range 2000 {
		n := 64 + rng.IntN(512)
		orig := make([]byte, n)
		for j := range orig {
			if rng.IntN(3) > 0 {
				orig[j] = byte(rng.IntN(256))
			}
		}
		p := &Plan{Cut: int64(n), Size: int64(2*n + 256), orig: int64(n)}
		var moves []move
		for range rng.IntN(3) {
			from, l := uint64(rng.IntN(n/2)), uint64(1+rng.IntN(n/2))
			to := uint64(n + rng.IntN(128))
			moved := bytes.Clone(orig[from : from+l])
			if len(moved) > 0 && rng.IntN(2) == 0 {
				moved[rng.IntN(len(moved))] ^= 0xff
			}
			p.patch(to, moved)
			moves = append(moves, move{from, to, l})
		}
		for range 1 + rng.IntN(6) {
			off := uint64(rng.IntN(n))
			d := make([]byte, 1+rng.IntN(min(64, n-int(off))))
			for j := range d {
				d[j] = byte(rng.IntN(4))
			}
			p.patch(off, d)
		}
		keep := span{uint64(rng.IntN(n / 2)), uint64(n/2 + rng.IntN(n/2))}
		after := &overlay{base: bytes.NewReader(orig), plan: p}
		es, err := undoEntries(bytes.NewReader(orig), after, span{0, uint64(n)}, keep, moves)
		if err != nil {
			t.Fatal(err)
		}
		got := p.Apply(bytes.Clone(orig))
		stamped := bytes.Clone(got)
		covered := make([]bool, n)
		next := uint64(0)
		for _, e := range es {
			if e.off < next {
				t.Fatalf("case %d: entries overlap or are out of order", i)
			}
			next = e.off + e.n
			switch e.kind {
			case undoZero:
				clear(got[e.off : e.off+e.n])
			case undoData:
				copy(got[e.off:], e.data)
			case undoCopy:
				copy(got[e.off:], stamped[e.src:e.src+e.n])
			}
			for x := e.off; x < e.off+e.n; x++ {
				covered[x] = true
			}
		}
		if !bytes.Equal(got[:n], orig) {
			t.Fatalf("case %d: the entries do not restore the original", i)
		}
		for x := keep.off; x < keep.end; x++ {
			if !covered[x] {
				t.Fatalf("case %d: byte %d of the note is not restored", i, x)
			}
		}
	}
}
