package elfnote

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// stampedBytes returns x86_64-pie stamped with {59, 101} in memory, and its
// parsed headers.
func stampedBytes(t *testing.T) ([]byte, *image) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "x86_64-pie"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanStamp(bytes.NewReader(b), bitmap.NewSet(bitmap.X86_64, 59, 101))
	if err != nil {
		t.Fatal(err)
	}
	out := p.Apply(b)
	im, err := parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return out, im
}

// onlyReaderAt hides Size and Stat: Read must find the size by reading.
type onlyReaderAt struct{ r *bytes.Reader }

func (o onlyReaderAt) ReadAt(b []byte, off int64) (int, error) { return o.r.ReadAt(b, off) }

func TestReadNoSize(t *testing.T) {
	b, _ := stampedBytes(t)
	f, err := Read(onlyReaderAt{bytes.NewReader(b)})
	if err != nil || !f.Stamped || !f.Set.Equal(bitmap.NewSet(bitmap.X86_64, 59, 101)) {
		t.Errorf("Read(ReaderAt without Size) = %+v, %v", f, err)
	}
}

// TestReadRefuses changes one thing in a stamped file at a time: each
// must make Read fail with ErrBadNote (fail closed).
func TestReadRefuses(t *testing.T) {
	// Where each error must point: the note segment, the header of the
	// offending note, or the offending descriptor.
	segment := func(im *image) int64 { return im.note.Offset }
	second := func(im *image) int64 { return im.note.Offset + bitmapNoteSz }
	flags := func(im *image) int64 { return im.note.FlagsOff }
	for _, tc := range []struct {
		name   string
		change func(im *image, b []byte)
		off    func(im *image) int64
	}{
		{"second PT_NOTE on the same bytes", func(im *image, b []byte) {
			// Turn GNU_STACK (never needed to parse) into a copy of the note's PT_NOTE.
			for i, p := range im.progs {
				if p.Type == progType(elf.PT_GNU_STACK) {
					im.encodeProg(b[im.phoff+uint64(i*im.phentsize):], im.progs[im.note.Prog])
				}
			}
		}, segment},
		{"flags note turned into a second bitmap note", func(im *image, b []byte) {
			im.bo.PutUint32(b[im.note.Offset+bitmapNoteSz+8:], NT_SYSRESTRICT_BITMAP)
		}, second},
		{"reserved type", func(im *image, b []byte) {
			im.bo.PutUint32(b[im.note.Offset+bitmapNoteSz+8:], 7)
		}, second},
		{"unknown flag", func(im *image, b []byte) {
			im.bo.PutUint32(b[im.note.FlagsOff:], 1<<5)
		}, flags},
		{"owner without NUL", func(im *image, b []byte) {
			im.bo.PutUint32(b[im.note.Offset:], 11)
		}, segment},
		{"no bitmap note", func(im *image, b []byte) {
			b[im.note.Offset+12+10] = 'X' // the bitmap note's owner: SysRestricX
		}, segment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, im := stampedBytes(t)
			tc.change(im, b)
			f, err := Read(bytes.NewReader(b))
			if !errors.Is(err, ErrBadNote) {
				t.Errorf("Read = %+v, %v; want ErrBadNote", f, err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Off <= 0 {
				t.Errorf("Read error %v is not a *FormatError with an offset", err)
			}
			if want := tc.off(im); fe != nil && fe.Off != want {
				t.Errorf("Read error at offset %#x, want %#x: %v", fe.Off, want, err)
			}
		})
	}
}
