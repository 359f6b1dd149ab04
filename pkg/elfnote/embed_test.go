//go:build linux

package elfnote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/stub"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// embedded returns the fixture name embedded with set.
func embedded(t *testing.T, name string, set bitmap.Set) (orig, out []byte) {
	t.Helper()
	orig = mustRead(t, filepath.Join(fixtureDir, name))
	p, err := PlanEmbed(bytes.NewReader(orig), set)
	if err != nil {
		t.Fatalf("PlanEmbed(%s) = %v", name, err)
	}
	if !p.Embedded || !p.Changed() {
		t.Fatalf("PlanEmbed(%s): Embedded %v, Changed %v; want both", name, p.Embedded, p.Changed())
	}
	return orig, p.Apply(bytes.Clone(orig))
}

// TestEmbedRead: an embedded file reads with its EMBED record, which
// matches the stub's PT_LOAD and e_entry, and its stub verifies; the
// record's fields are what the plan placed.
func TestEmbedRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		abi  bitmap.ABI
	}{
		{"x86_64-pie", bitmap.X86_64}, {"x86_64-static", bitmap.X86_64}, {"x86_64-static-pie", bitmap.X86_64},
		{"x86_64-musl-static", bitmap.X86_64}, {"x86_64-pie-lld", bitmap.X86_64}, {"go-internal", bitmap.X86_64},
		{"aarch64-pie", bitmap.AARCH64}, {"aarch64-static", bitmap.AARCH64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := bitmap.NewSet(tc.abi, 101, 246)
			orig, out := embedded(t, tc.name, set)
			f, err := Read(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			e := f.Embed
			if e == nil || !f.Stamped || !f.Set.Equal(set) || f.Note.EmbedOff != e.NoteOff || e.NoteOff == 0 {
				t.Fatalf("Read = %+v, embed %+v; want %v, embedded", f, e, set)
			}
			im, err := parse(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if entry := im.getWord(im.head[im.offEntry:]); entry != e.Vaddr {
				t.Errorf("e_entry %#x, stub at %#x", entry, e.Vaddr)
			}
			oim, _ := parse(bytes.NewReader(orig))
			if want := oim.getWord(oim.head[oim.offEntry:]); e.Entry != want {
				t.Errorf("recorded entry %#x, the original's is %#x", e.Entry, want)
			}
			prog, err := embedFilter(set, Actions{})
			if err != nil {
				t.Fatal(err)
			}
			size, _ := stub.Size(tc.abi, len(prog))
			if e.Template != stub.Template || e.FilterLen != len(prog) || e.Size != uint64(size) {
				t.Errorf("record %+v; want template %d, %d instructions, %d bytes", e, stub.Template, len(prog), size)
			}
			align := oim.stubAlign()
			if e.Vaddr%align != 0 || e.Offset%align != 0 {
				t.Errorf("stub at %#x, offset %#x: not aligned to %#x", e.Vaddr, e.Offset, align)
			}
			if tc.abi == bitmap.AARCH64 && align != 0x10000 {
				t.Errorf("aarch64 stub aligned to %#x; the fixture's segments use 64 KiB", align)
			}
			got, entry, err := stub.Parse(tc.abi, out[e.Offset:e.Offset+e.Size], e.Vaddr)
			if err != nil || entry != e.Entry || len(got) != len(prog) {
				t.Fatalf("stub.Parse = %d instructions, entry %#x, %v", len(got), entry, err)
			}
			if err := f.VerifyEmbed(bytes.NewReader(out)); err != nil {
				t.Errorf("VerifyEmbed: %v", err)
			}
			// ReadRestrictions sees the record too, without verifying.
			lf, err := ReadRestrictions(bytes.NewReader(out))
			if err != nil || lf.Embed == nil || *lf.Embed != *e {
				t.Errorf("ReadRestrictions = %+v, %v", lf, err)
			}
		})
	}
}

// TestEmbedRefused: what --embed cannot make self-enforcing is refused
// with ErrUnsupported naming why, and the file is not changed.
func TestEmbedRefused(t *testing.T) {
	for _, tc := range []struct {
		name, why string
	}{
		{"libhello.so", "e_entry is 0"},
		{"i386-pie", "this one is i386"},
		{"x32-pie", "this one is x32"},
		{"arm-pie", "this one is arm"},
		{"s390x-pie", "this one is machine EM_S390"},
		{"x86_64-hello.o", "ET_REL"},
		{"bad-core", "ET_CORE"},
		{"x86_64-note-valid", "linked in at build time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mustRead(t, filepath.Join(fixtureDir, tc.name))
			_, err := PlanEmbed(bytes.NewReader(b), bitmap.NewSet(bitmap.Unknown, 101))
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("PlanEmbed(%s) = %v; want ErrUnsupported saying %q", tc.name, err, tc.why)
			}
		})
	}
}

// TestEmbedFilter: the stub's filter is the loader's filter of the note
// without the gate, kill on a hit, checked in the BPF model against SPEC
// section 3 for every number below 600, the x32 bit and a foreign arch.
func TestEmbedFilter(t *testing.T) {
	for _, abi := range []bitmap.ABI{bitmap.X86_64, bitmap.AARCH64} {
		for _, set := range []bitmap.Set{bitmap.NewSet(abi, 101, 246), bitmap.Allowlist(bitmap.NewSet(abi, 0, 1, 60, 93, 94, 231))} {
			prog, err := embedFilter(set, Actions{})
			if err != nil {
				t.Fatal(err)
			}
			arch := abi.AuditArch()
			for nr := uint32(0); nr < 600; nr++ {
				want := uint32(filter.SECCOMP_RET_ALLOW)
				if int(nr) < bitmap.Size && set.Has(int(nr)) || nr >= bitmap.Size && set.DenyBeyond() {
					want = filter.SECCOMP_RET_KILL_PROCESS
				}
				if got := filter.Eval(prog, arch, nr, [6]uint64{}); got != want {
					t.Errorf("%v %v: nr %d gets %#x, want %#x", abi, set, nr, got, want)
				}
			}
			if got := filter.Eval(prog, bitmap.I386.AuditArch(), 1, [6]uint64{}); got != filter.SECCOMP_RET_KILL_PROCESS {
				t.Errorf("%v: a foreign arch gets %#x, want KILL_PROCESS", abi, got)
			}
			if abi == bitmap.X86_64 {
				if got := filter.Eval(prog, arch, 0x40000000|39, [6]uint64{}); got != filter.SECCOMP_RET_KILL_PROCESS {
					t.Errorf("x32 bit gets %#x, want KILL_PROCESS", got)
				}
			}
		}
	}
}

// TestEmbedRecord: the descriptor round-trips, and every malformed one is
// refused with ErrBadNote at the field's offset.
func TestEmbedRecord(t *testing.T) {
	bo := binary.LittleEndian
	e := Embed{Template: stub.Template, Vaddr: 0x5000, Offset: 0x4000, Size: 624, Entry: 0x10f0, FilterLen: 17}
	desc := e.encode(bo)
	got, err := decodeEmbed(desc, 100, bo)
	e.NoteOff = 100
	if err != nil || got != e {
		t.Fatalf("decodeEmbed(encode(%+v)) = %+v, %v", e, got, err)
	}
	for _, tc := range []struct {
		what string
		mod  func([]byte) []byte
		off  int64
	}{
		{"short", func(b []byte) []byte { return b[:44] }, 100},
		{"version 2", func(b []byte) []byte { bo.PutUint32(b, 2); return b }, 100},
		{"template 2", func(b []byte) []byte { bo.PutUint32(b[4:], 2); return b }, 104},
		{"no filter", func(b []byte) []byte { bo.PutUint32(b[40:], 0); return b }, 140},
		{"filter too long", func(b []byte) []byte { bo.PutUint32(b[40:], stub.MaxFilter+1); return b }, 140},
		{"reserved", func(b []byte) []byte { b[47] = 1; return b }, 144},
	} {
		_, err := decodeEmbed(tc.mod(bytes.Clone(desc)), 100, bo)
		var fe *FormatError
		if !errors.Is(err, ErrBadNote) || !errors.As(err, &fe) || fe.Off != tc.off {
			t.Errorf("%s: decodeEmbed = %v; want ErrBadNote at %#x", tc.what, err, tc.off)
		}
	}
}

// TestEmbedHostile: an embedded stamp changed in each way an attacker or
// a later tool could change it is refused with a named error: ErrBadNote
// for a note whose EMBEDDED flag and EMBED record disagree, ErrDamagedStub
// (which matches ErrBadNote) for a stub that is not what the note says.
// The loader's reader sees the record without verifying it; VerifyEmbed
// then refuses the same files. The stamper refuses to stamp a damaged
// stub, and Remove still gives back the original.
func TestEmbedHostile(t *testing.T) {
	set := bitmap.NewSet(bitmap.X86_64, 101, 246)
	orig, good := embedded(t, "x86_64-pie", set)
	f, err := Read(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	e := *f.Embed
	im, _ := parse(bytes.NewReader(good))
	bo := im.bo
	stubProg := -1
	for i, p := range im.progs {
		if p.Type == ptLoad && p.Off == e.Offset {
			stubProg = i
		}
	}
	phdr := func(i int) int { return int(im.phoff) + i*im.phentsize }
	desc := int(f.Note.EmbedOff)
	filterAt := int(e.Offset+e.Size) - 8*e.FilterLen
	pp, err := PlanStamp(bytes.NewReader(orig), set)
	if err != nil {
		t.Fatal(err)
	}
	plain := pp.Apply(bytes.Clone(orig))
	pf, _ := Read(bytes.NewReader(plain))

	for _, tc := range []struct {
		what    string
		file    []byte
		mod     func(b []byte)
		damaged bool // ErrDamagedStub, not only ErrBadNote
		msg     string
	}{
		{"record past the end of the file", good, func(b []byte) { bo.PutUint64(b[desc+16:], uint64(len(b))) }, true, "outside the file"},
		{"record pointing at a non-executable segment", good, func(b []byte) {
			l := im.progs[im.firstLoad()]
			bo.PutUint64(b[desc+8:], l.Vaddr)
			bo.PutUint64(b[desc+16:], l.Off)
			bo.PutUint64(b[desc+24:], l.Filesz)
			bo.PutUint64(b[im.offEntry:], l.Vaddr)
		}, true, "want R+X"},
		{"stub segment made writable", good, func(b []byte) { bo.PutUint32(b[phdr(stubProg)+4:], uint32(pfR|pfX|2)) }, true, "want R+X"},
		{"stub segment made non-executable", good, func(b []byte) { bo.PutUint32(b[phdr(stubProg)+4:], uint32(pfR)) }, true, "want R+X"},
		{"stub segment shrunk", good, func(b []byte) { bo.PutUint64(b[phdr(stubProg)+32:], e.Size-8) }, true, "no PT_LOAD holds the start-up stub"},
		{"a segment mapped over the stub", good, func(b []byte) {
			for i, p := range im.progs {
				if p.Type == ptLoad && p.Flags&2 != 0 { // the RW one: its .bss now reaches the stub
					bo.PutUint64(b[phdr(i)+40:], e.Vaddr+16-p.Vaddr)
				}
			}
		}, true, "maps memory over the start-up stub"},
		{"e_entry back at the original", good, func(b []byte) { bo.PutUint64(b[im.offEntry:], e.Entry) }, true, "does not run"},
		{"one bit of the stub's filter", good, func(b []byte) { b[filterAt+8*3+4] ^= 1 }, true, "instruction 3 of the start-up stub's filter"},
		{"one bit of the note's bitmap", good, func(b []byte) { b[f.Note.BitmapOff] ^= 1 }, true, "compiles to"},
		{"one byte of the stub's code", good, func(b []byte) { b[e.Offset+20] ^= 0x40 }, true, "not one this sysrestrict writes"},
		{"the stub's jump moved", good, func(b []byte) {
			prog, _ := embedFilter(set, Actions{})
			s, err := stub.Build(bitmap.X86_64, prog, e.Vaddr, e.Entry+16)
			if err != nil {
				t.Fatal(err)
			}
			copy(b[e.Offset:], s)
		}, true, "jumps to"},
		{"EMBEDDED flag cleared", good, func(b []byte) { bo.PutUint32(b[f.Note.FlagsOff:], 0) }, false, "without the EMBEDDED flag"},
		{"EMBEDDED flag without a record", plain, func(b []byte) { bo.PutUint32(b[pf.Note.FlagsOff:], FlagEmbedded) }, false, "EMBEDDED flag without an NT_SYSRESTRICT_EMBED note"},
		{"unknown template", good, func(b []byte) { bo.PutUint32(b[desc+4:], 7) }, false, "template 7"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			b := bytes.Clone(tc.file)
			tc.mod(b)
			_, err := Read(bytes.NewReader(b))
			if !errors.Is(err, ErrBadNote) || errors.Is(err, ErrDamagedStub) != tc.damaged || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Read = %v; want ErrBadNote (damaged stub %v) saying %q", err, tc.damaged, tc.msg)
			}
			t.Logf("Read: %v", err)
			lf, lerr := ReadRestrictions(bytes.NewReader(b))
			if !tc.damaged {
				if !errors.Is(lerr, ErrBadNote) {
					t.Errorf("ReadRestrictions = %v; want ErrBadNote", lerr)
				}
				return
			}
			if lerr != nil || lf.Embed == nil {
				t.Fatalf("ReadRestrictions = %+v, %v; want the record, unverified", lf, lerr)
			}
			if err := lf.VerifyEmbed(bytes.NewReader(b)); !errors.Is(err, ErrDamagedStub) {
				t.Errorf("VerifyEmbed = %v; want ErrDamagedStub", err)
			}
			for _, plan := range []func(io.ReaderAt, bitmap.Set) (*Plan, error){PlanStamp, PlanEmbed} {
				if _, err := plan(bytes.NewReader(b), set); !errors.Is(err, ErrDamagedStub) {
					t.Errorf("stamping it: %v; want ErrDamagedStub", err)
				}
			}
			rm, err := PlanRemove(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("PlanRemove: %v", err)
			}
			if back := rm.Apply(bytes.Clone(b)); !rm.Exact || !bytes.Equal(back, orig) {
				t.Errorf("PlanRemove: exact %v, original %v; want the original", rm.Exact, bytes.Equal(back, orig))
			}
		})
	}
}

// TestEmbedRoundTrip: every program fixture of an ABI with a stub embeds,
// re-embeds with more restrictions and with fewer (Replace), takes the
// stub along when only the note was asked for, embeds over a plain stamp,
// and comes back byte for byte; each step reads back verified. Over a
// plain stamp the file grows by the stub and its alignment, and by one
// more page where the stub's extra program header no longer fits where
// the plain stamp put the table (x86_64-pie-gold: append-load instead of
// move-table).
func TestEmbedRoundTrip(t *testing.T) {
	n := 0
	for _, fx := range loadFixtures(t) {
		abi, _ := bitmap.ParseABI(fx.ABI)
		if fx.Expect != "stampable" || (abi != bitmap.X86_64 && abi != bitmap.AARCH64) || fx.Kind == "shared" || fx.File == "x86_64-note-valid" || fx.File == "x86_64-note-valid-flags" {
			continue
		}
		n++
		t.Run(fx.File, func(t *testing.T) {
			t.Parallel()
			set := bitmap.NewSet(abi, 101, 246)
			orig, out := embedded(t, fx.File, set)
			check := func(what string, b []byte, want bitmap.Set) {
				t.Helper()
				f, err := Read(bytes.NewReader(b))
				if err != nil || f.Embed == nil || !f.Set.Equal(want) {
					t.Fatalf("%s: Read = %+v, %v; want embedded with %v", what, f, err, want)
				}
				checkOneRecord(t, what, b, orig)
			}
			check("embedded", out, set)

			more := set.Union(bitmap.NewSet(abi, 62))
			p, err := PlanStamp(bytes.NewReader(out), more)
			if err != nil || !p.Embedded || p.AddsOnly || p.Strategy == StrategyRewrite {
				t.Fatalf("PlanStamp(more) = %+v, %v; want embedded, not in place", p, err)
			}
			again := p.Apply(bytes.Clone(out))
			check("re-stamped", again, more)
			direct, _ := PlanEmbed(bytes.NewReader(orig), more)
			if !bytes.Equal(direct.Apply(bytes.Clone(orig)), again) {
				t.Errorf("re-stamping an embedded file gave other bytes than embedding the original")
			}
			if p, err := PlanEmbed(bytes.NewReader(again), more); err != nil || p.Changed() || !p.Embedded {
				t.Errorf("embedding again with the same set: %+v, %v; want no change", p, err)
			}
			fewer := bitmap.NewSet(abi, 246)
			p, err = PlanEmbed(bytes.NewReader(again), fewer)
			if err != nil {
				t.Fatal(err)
			}
			check("loosened", p.Apply(bytes.Clone(again)), fewer)

			plainPlan, err := PlanStamp(bytes.NewReader(orig), set)
			if err != nil {
				t.Fatal(err)
			}
			plain := plainPlan.Apply(bytes.Clone(orig))
			p, err = PlanEmbed(bytes.NewReader(plain), set)
			if err != nil {
				t.Fatal(err)
			}
			over := p.Apply(bytes.Clone(plain))
			check("embedded over a plain stamp", over, set)
			if !bytes.Equal(over, out) {
				t.Errorf("embedding a stamped file gave other bytes than embedding the original")
			}
			im, _ := parse(bytes.NewReader(orig))
			f, _ := Read(bytes.NewReader(out))
			if grow, limit := len(out)-len(plain), int(2*im.stubAlign()+f.Embed.Size+1024); grow > limit {
				t.Errorf("embedding grew the file by %d bytes over a plain stamp, more than the stub's %d, its alignment and a page for the table", grow, f.Embed.Size)
			}
			t.Logf("%s: %d bytes, plain stamp +%d, embedded +%d", fx.File, len(orig), len(plain)-len(orig), len(out)-len(orig))
		})
	}
	if n < 20 {
		t.Errorf("only %d fixtures embedded", n)
	}
}

// TestEmbedRefusedEdges: files made to sit on the edges of what --embed
// takes. A shared library given an entry point inside its code is still a
// library (DT_SONAME, no DF_1_PIE); a static-pie without DF_1_PIE has
// neither the flag nor an interpreter; a PIE without DF_1_PIE but with an
// interpreter and no DT_SONAME (one linked before the flag) is a program.
// A .bss of 3 GiB (x86_64) or 5 GiB (aarch64) puts the stub beyond the
// reach of its jump to the entry point.
func TestEmbedRefusedEdges(t *testing.T) {
	// setDyn returns b with the value of the dynamic entry tag replaced.
	setDyn := func(t *testing.T, b []byte, tag, val uint64) []byte {
		t.Helper()
		im, err := parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range im.progs {
			if p.Type != ptDynamic {
				continue
			}
			for q := p.Off; q+16 <= p.Off+p.Filesz; q += 16 {
				if im.bo.Uint64(b[q:]) == tag {
					im.bo.PutUint64(b[q+8:], val)
					return b
				}
			}
		}
		t.Fatalf("no dynamic entry %#x", tag)
		return nil
	}
	// withEntry returns b with e_entry set to the start of its first
	// executable PT_LOAD.
	withEntry := func(t *testing.T, b []byte) []byte {
		im, _ := parse(bytes.NewReader(b))
		for _, p := range im.progs {
			if p.Type == ptLoad && p.Flags&pfX != 0 {
				im.bo.PutUint64(b[im.offEntry:], p.Vaddr)
				return b
			}
		}
		t.Fatal("no executable PT_LOAD")
		return nil
	}
	// bigBss returns b with its last PT_LOAD's p_memsz raised to n.
	bigBss := func(t *testing.T, b []byte, n uint64) []byte {
		im, _ := parse(bytes.NewReader(b))
		last := -1
		for i, p := range im.progs {
			if p.Type == ptLoad {
				last = i
			}
		}
		im.bo.PutUint64(b[int(im.phoff)+last*im.phentsize+40:], n)
		return b
	}
	read := func(name string) []byte { return mustRead(t, filepath.Join(fixtureDir, name)) }
	for _, tc := range []struct {
		what string
		file []byte
		why  string // "" for accepted
	}{
		{"a library with an entry point", withEntry(t, read("libhello.so")), "a shared library (DT_SONAME, no DF_1_PIE)"},
		{"a static-pie without DF_1_PIE", setDyn(t, read("x86_64-static-pie"), dtFlags1, 0), "neither DF_1_PIE nor an interpreter"},
		{"a PIE without DF_1_PIE", setDyn(t, read("x86_64-pie"), dtFlags1, 0), ""},
		{"an entry point outside the code", func() []byte {
			b := read("x86_64-pie")
			binary.LittleEndian.PutUint64(b[24:], 0x3dd0) // .data
			return b
		}(), "lies in no executable PT_LOAD"},
		{"x86_64 after a 3 GiB .bss", bigBss(t, read("x86_64-static"), 3<<30), "cannot start the program at its entry point"},
		{"aarch64 after a 5 GiB .bss", bigBss(t, read("aarch64-static"), 5<<30), "cannot start the program at its entry point"},
		{"aarch64 after a 1 GiB .bss", bigBss(t, read("aarch64-static"), 1<<30), ""},
	} {
		t.Run(tc.what, func(t *testing.T) {
			p, err := PlanEmbed(bytes.NewReader(tc.file), bitmap.NewSet(bitmap.Unknown, 101))
			if tc.why == "" {
				if err != nil || !p.Embedded {
					t.Fatalf("PlanEmbed = %v; want it embedded", err)
				}
				out := p.Apply(bytes.Clone(tc.file))
				if f, err := Read(bytes.NewReader(out)); err != nil || f.Embed == nil {
					t.Errorf("Read = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("PlanEmbed = %v; want ErrUnsupported saying %q", err, tc.why)
			}
		})
	}
}
