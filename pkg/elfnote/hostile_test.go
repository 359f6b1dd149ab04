package elfnote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/hostile"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// The hostile files of issue 13: header tables far larger than a kernel
// loads, a sparse file that declares a section table as large as itself.
// Each must be refused or read with work and memory bounded by what real
// headers need. make bench (internal/bench/hostile) times them through
// the built tools; these tests check what is refused and what is kept.

// sparse is a file of size bytes that holds data at its start and zeros
// after it, without the zeros in memory.
type sparse struct {
	data []byte
	size int64
}

func (s sparse) Size() int64 { return s.size }

func (s sparse) ReadAt(b []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), s.size-off))
	clear(b[:n])
	if off < int64(len(s.data)) {
		copy(b[:n], s.data[off:])
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func wantFormatError(t *testing.T, what string, err error, off int64, sentinel error, msg string) {
	t.Helper()
	var fe *FormatError
	switch {
	case !errors.As(err, &fe):
		t.Errorf("%s: error %v, want a *FormatError", what, err)
	case fe.Off != off || !strings.Contains(fe.Msg, msg):
		t.Errorf("%s: error at offset %#x %q, want offset %#x and %q", what, fe.Off, fe.Msg, off, msg)
	case sentinel != nil && !errors.Is(err, sentinel):
		t.Errorf("%s: error %v does not match %v", what, err, sentinel)
	}
}

// TestHostilePhdrs: a program header table over the kernel's 64 KiB is
// refused at the header, before it is read; one at the limit is read, and
// its segments checked, with an index rather than n² steps.
func TestHostilePhdrs(t *testing.T) {
	for _, n := range []int{hostile.Phnum, maxProgBytes/layout64.phentsize + 1} {
		b := hostile.Phdrs(n)
		var err error
		got := allocated(func() { _, err = Read(bytes.NewReader(b)) })
		wantFormatError(t, "Read of "+strconv.Itoa(n)+" program headers", err, int64(layout64.offPhnum), nil, "more than the 65536 bytes of them any kernel loads")
		if got > 64<<10 {
			t.Errorf("Read of %d program headers allocated %d bytes, want under 64 KiB: it must refuse before reading them", n, got)
		}
		if _, err := PlanStamp(bytes.NewReader(b), bitmap.NewSet(bitmap.X86_64, 101)); err == nil {
			t.Errorf("PlanStamp of %d program headers: no error, want the same refusal", n)
		}
	}
	n := maxProgBytes / layout64.phentsize
	b := hostile.Phdrs(n)
	start := time.Now()
	f, err := Read(bytes.NewReader(b))
	if err != nil || !f.Stamped || !f.Set.Equal(bitmap.NewSet(bitmap.X86_64, 59)) {
		t.Fatalf("Read of %d program headers = %+v, %v; want it stamped with {execve}", n, f, err)
	}
	p, err := PlanStamp(bytes.NewReader(b), bitmap.NewSet(bitmap.X86_64, 101))
	if err != nil || !p.Changed() {
		t.Fatalf("PlanStamp of %d program headers = %v; want a plan", n, err)
	}
	// Not a timed test: a log line for whoever reads -v. make bench
	// measures the tools on these files.
	t.Logf("%d program headers: read and planned in %v", n, time.Since(start))
}

// TestStampNeverPastKernelTable: a stamp that adds program headers must not
// take the table past what a kernel loads (and Read reads): a file at the
// bound gets no room, one with room to spare is stamped and reads back.
func TestStampNeverPastKernelTable(t *testing.T) {
	unstamped := func(n int) []byte {
		// The note's owner changed: some other note, not ours.
		return bytes.ReplaceAll(hostile.Phdrs(n), []byte(Owner+"\x00"), []byte("SysRestricX\x00"))
	}
	set := bitmap.NewSet(bitmap.X86_64, 101)
	n := maxProgBytes / layout64.phentsize
	if _, err := PlanStamp(bytes.NewReader(unstamped(n)), set); !errors.Is(err, ErrNoRoom) {
		t.Errorf("PlanStamp of %d program headers = %v, want ErrNoRoom", n, err)
	}
	b := unstamped(n - 8)
	p, err := PlanStamp(bytes.NewReader(b), set)
	if err != nil {
		t.Fatalf("PlanStamp of %d program headers: %v", n-8, err)
	}
	if f, err := Read(bytes.NewReader(p.Apply(b))); err != nil || !f.Set.Equal(set) {
		t.Errorf("the stamped file of %d program headers reads %+v, %v; want %v", n-8, f, err, set)
	}
}

// TestHostileSections: the section header table is bounded in entries
// and read a chunk at a time; the name table is bounded in bytes.
func TestHostileSections(t *testing.T) {
	const sz = 64 // ELF64 section header
	file := func(count uint64) sparse {
		dir := t.TempDir()
		path := filepath.Join(dir, "sparse")
		size := int64(4096 + count*sz)
		if err := hostile.WriteSparse(path, size); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		head := make([]byte, 4096+sz)
		if _, err := f.ReadAt(head, 0); err != nil {
			t.Fatal(err)
		}
		return sparse{head, size}
	}
	// The file: 256 MiB, 4 million section headers.
	big := file((256<<20 - 4096) / sz)
	var err error
	got := allocated(func() { _, err = Read(big) })
	wantFormatError(t, "Read of 4M section headers", err, int64(layout64.offShoff), ErrUnsupported, "more than the 65536 this reader handles")
	if got > 64<<10 {
		t.Errorf("Read of 4M section headers allocated %d bytes, want under 64 KiB", got)
	}
	wantFormatError(t, "Read of maxSects+1 section headers", readErr(file(maxSects+1)), int64(layout64.offShoff), ErrUnsupported, "this reader handles")

	// At the bound: read, in memory proportional to the headers (their
	// decoded form, 64 bytes each, and one chunk), not twice that.
	at := file(maxSects)
	var f *File
	got = allocated(func() { f, err = Read(at) })
	if err != nil || f.Stamped {
		t.Fatalf("Read of %d section headers = %+v, %v; want an unstamped file", maxSects, f, err)
	}
	if want := uint64(maxSects*64 + sectChunk + 64<<10); got > want {
		t.Errorf("Read of %d section headers allocated %d bytes, want at most %d", maxSects, got, want)
	}

	// A name table of 256 MiB: refused before it is read.
	names := sparse{append([]byte(nil), at.data...), 4096 + 2*sz + 256<<20}
	h := append(names.data[:4096+sz:4096+sz], make([]byte, sz)...)
	im := &image{codec: codec{layout: layout64, class: ELFCLASS64, bo: binary.LittleEndian}}
	im.bo.PutUint64(h[40:], 4096) // e_shoff
	im.bo.PutUint16(h[60:], 2)    // e_shnum
	im.bo.PutUint16(h[62:], 1)    // e_shstrndx
	clear(h[4096:])
	im.encodeSect(h[4096+sz:], sect{Type: shtStrtab, Off: 4096 + 2*sz, Size: 256 << 20})
	names.data = h
	got = allocated(func() { _, err = Read(names) })
	wantFormatError(t, "Read of a 256 MiB name table", err, 4096+sz, ErrUnsupported, "section name table of 268435456 bytes")
	if got > 64<<10 {
		t.Errorf("Read of a 256 MiB name table allocated %d bytes, want under 64 KiB", got)
	}
}

// TestHostileNotes: note segments are bounded in total, not only one by
// one: many PT_NOTEs of a MiB each over the same zeros are refused.
func TestHostileNotes(t *testing.T) {
	const n = 64
	b := hostile.Phdrs(n)
	im, err := parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// Zeros are notes of namesz 0, descsz 0: 87,381 of them in a
	// segment of a MiB less 4 bytes.
	const seg = maxNoteSeg - maxNoteSeg%nhdrSize
	for i := 1; i < n-1; i++ {
		im.encodeProg(b[64+i*56:], prog{Type: ptNote, Off: 1 << 20, Vaddr: 0x400000 + 1<<20, Filesz: seg, Memsz: seg, Align: 4})
	}
	im.encodeProg(b[64+(n-1)*56:], prog{Type: ptLoad, Vaddr: 0x400000, Filesz: 2 << 20, Memsz: 2 << 20, Align: 4096})
	_, err = Read(sparse{b, 2 << 20})
	// The stamped note (116 bytes) and three such segments fit in
	// maxNoteBytes; program header 4 is one too many.
	wantFormatError(t, "Read of 62 note segments of 1 MiB", err, 64+4*56, nil, "note segments of more than 4194304 bytes in all")
}

// TestLoadIndex compares the index checkLayout uses for many program
// headers with the plain passes it replaces, on random headers that
// overlap, share distances and reach past 2⁶⁴.
func TestLoadIndex(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	pick := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return rng.Uint64N(64)
		case 1:
			return ^uint64(0) - rng.Uint64N(64)
		}
		return rng.Uint64N(256)
	}
	for range 200 {
		var progs []prog
		for range 1 + rng.IntN(40) {
			typ := ptLoad
			if rng.IntN(3) == 0 {
				typ = ptNote
			}
			off := pick()
			progs = append(progs, prog{Type: typ, Off: off, Vaddr: off + rng.Uint64N(3)*16, Filesz: pick()})
		}
		im := &image{progs: progs}
		ix := newLoadIndex(progs)
		for range 200 {
			off, size := pick(), pick()
			vaddr := off + rng.Uint64N(3)*16
			if got, want := ix.inLoad(off, size), im.inLoad(off, size); got != want {
				t.Fatalf("seed %d: inLoad(%#x, %#x) = %v, plain pass %v; progs %+v", seed, off, size, got, want, progs)
			}
			if got, want := ix.mapsFile(vaddr, off, size), im.mapsFile(vaddr, off, size); got != want {
				t.Fatalf("seed %d: mapsFile(%#x, %#x, %#x) = %v, plain pass %v; progs %+v", seed, vaddr, off, size, got, want, progs)
			}
		}
	}
}

func readErr(r io.ReaderAt) error {
	_, err := Read(r)
	return err
}
