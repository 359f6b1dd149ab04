package elfnote

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// fuzzSeeds adds the small fixtures of testdata/elf to a fuzz corpus, as
// they are and stamped.
func fuzzSeeds(f *testing.F, add func(b []byte)) {
	ents, err := os.ReadDir(fixtureDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<10 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(fixtureDir, e.Name()))
		if err == nil && len(b) > 0 {
			add(b)
			// And stamped: the undo record, re-stamping, replaying.
			if p, err := PlanStamp(bytes.NewReader(b), bitmap.NewSet(bitmap.Unknown, 59, 101)); err == nil && p.Changed() {
				add(p.Apply(bytes.Clone(b)))
			}
			// And embedded: the EMBED record and the stub's checks.
			if p, err := PlanEmbed(bytes.NewReader(b), bitmap.NewSet(bitmap.Unknown, 59, 101)); err == nil && p.Changed() {
				add(p.Apply(bytes.Clone(b)))
			}
			// And stamped with actions: an NT_SYSRESTRICT_ACTION note.
			act := Actions{Default: filter.Errno(1), Overrides: map[int]filter.Action{101: filter.Kill()}}
			if p, err := PlanStampWith(bytes.NewReader(b), bitmap.NewSet(bitmap.Unknown, 59, 101), Options{Actions: act}); err == nil && p.Changed() {
				add(p.Apply(bytes.Clone(b)))
			}
		}
	}
}

// mustClassify fails unless err matches one of the package's sentinel
// errors or is a *FormatError: a caller can always tell what went wrong
// without reading the message.
func mustClassify(t *testing.T, err error) {
	t.Helper()
	var fe *FormatError
	for _, s := range []error{ErrNotELF, ErrNoNote, ErrBadNote, ErrUnsupported, ErrNoRoom, ErrAppendedData} {
		if errors.Is(err, s) {
			return
		}
	}
	if !errors.As(err, &fe) {
		t.Fatalf("error %q (%T) is neither a sentinel of this package nor a *FormatError", err, err)
	}
}

func FuzzRead(f *testing.F) {
	fuzzSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := Read(bytes.NewReader(data))
		if err != nil {
			mustClassify(t, err)
			if ef != nil && (!errors.Is(err, ErrBadNote) || ef.Stamped) {
				t.Fatalf("Read returned %+v with %v", ef, err)
			}
			return
		}
		if ef.ABI != ABIFor(ef.Machine, ef.Class) || ef.Set.ABI() != ef.ABI || ef.Size != int64(len(data)) {
			t.Fatalf("inconsistent File %+v", ef)
		}
		if !ef.Stamped {
			if !ef.Set.IsEmpty() || ef.Note != (Location{}) {
				t.Fatalf("unstamped File with a set or a location: %+v", ef)
			}
			return
		}
		n := ef.Note
		if n.Offset < 0 || n.Size < noteSize-flagsNoteSz || n.Offset+n.Size > int64(len(data)) ||
			n.BitmapOff < n.Offset || n.BitmapOff+bitmap.Bytes > n.Offset+n.Size {
			t.Fatalf("note location outside the file or the note: %+v (size %d)", n, len(data))
		}
		if e := ef.Embed; e != nil && (e.NoteOff != n.EmbedOff || ef.VerifyEmbed(bytes.NewReader(data)) != nil) {
			t.Fatalf("embedded File %+v: record at %d, note says %d, or its stub does not verify", e, e.NoteOff, n.EmbedOff)
		}
		want, err := bitmap.FromNote(ef.ABI, data[n.BitmapOff:n.BitmapOff+bitmap.Bytes], ef.Set.Flags())
		if err != nil || !want.Equal(ef.Set) {
			t.Fatalf("Set %v does not match the bitmap bytes", ef.Set)
		}
	})
}

// FuzzStamp checks the writer's invariant: an error, or a file that Read
// accepts with exactly the requested set (and with embed, embedded, its
// stub verified); removing the note again gives a file Read accepts
// without one.
func FuzzStamp(f *testing.F) {
	fuzzSeeds(f, func(b []byte) {
		f.Add(b, []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08}, false, false)
		f.Add(b, []byte{0xff}, true, false)
		f.Add(b, []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08}, false, true)
		f.Add(b, []byte{0xff}, true, true)
	})
	f.Fuzz(func(t *testing.T, data, bits []byte, beyond, embed bool) {
		set := bitmap.NewSet(bitmap.Unknown)
		for i, c := range bits {
			for j := range 8 {
				if c&(1<<j) != 0 && i*8+j < bitmap.Size {
					set.Add(i*8 + j)
				}
			}
		}
		set.SetDenyBeyond(beyond)
		plan := PlanStamp
		if embed {
			plan = PlanEmbed
		}
		p, err := plan(bytes.NewReader(data), set)
		if err != nil {
			mustClassify(t, err)
			return
		}
		if p.Size > int64(len(data))+64<<20 {
			return // a hole after a huge .bss: too big to build in memory
		}
		out := p.Apply(bytes.Clone(data))
		ef, err := Read(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("Read of the stamped file: %v (strategy %v)", err, p.Strategy)
		}
		if !ef.Stamped || !ef.Set.Equal(set.WithABI(ef.ABI)) {
			t.Fatalf("stamped file reads %v %v, want %v (strategy %v)", ef.Stamped, ef.Set, set, p.Strategy)
		}
		if (ef.Embed != nil) != p.Embedded || embed && !p.Embedded {
			t.Fatalf("stamped file embedded %v, the plan says %v (asked %v)", ef.Embed != nil, p.Embedded, embed)
		}
		// Idempotent: the same set again changes nothing, embedded or
		// not (an embedded file stays embedded).
		for _, again := range []func(io.ReaderAt, bitmap.Set) (*Plan, error){PlanStamp, PlanEmbed} {
			if ef.Embed == nil && !embed {
				again = PlanStamp
			}
			if p2, err := again(bytes.NewReader(out), set); err != nil || p2.Changed() {
				t.Fatalf("re-stamping with the same set: %v changed=%v", err, p2 != nil && p2.Changed())
			}
		}
		rm, err := PlanRemove(bytes.NewReader(out))
		if err != nil {
			if ef.Note.Shared {
				return
			}
			t.Fatalf("PlanRemove of a stamped file: %v", err)
		}
		back := rm.Apply(bytes.Clone(out))
		if ef, err := Read(bytes.NewReader(back)); err != nil || ef.Stamped {
			t.Fatalf("after removal: %+v, %v", ef, err)
		}
		// What an exact removal gives back: the input, or, when the
		// input was stamped already and the stamp re-made its layout
		// (embedding does), what removing the input's own note gives.
		want := data
		if p0, err := PlanRemove(bytes.NewReader(data)); err == nil && p0.Exact && p.Strategy != StrategyRewrite {
			want = p0.Apply(bytes.Clone(data))
		}
		if rm.Exact && p.Strategy != StrategyRewrite && !bytes.Equal(back, want) {
			t.Fatalf("removal said Exact but differs from the input (strategy %v)", p.Strategy)
		}
	})
}
