//go:build linux

package elfnote

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// embedLike returns a request shaped like --embed's (issue 11): the note,
// and a loaded R+X payload of n bytes, page-aligned, placed above every
// segment, that e_entry points at. On x86_64 and aarch64 the payload is
// code that jumps to the original entry point (endbr64; jmp, or b), so the
// stamped program still runs; elsewhere it is int3 bytes.
func embedLike(im *image, n uint64) *request {
	rq := noteRequest(nil)
	entry := im.getWord(im.head[im.offEntry:])
	machine, bo := im.machine, im.bo
	rq.payloads = append(rq.payloads, payload{
		size: n, align: im.pageSize(), load: true, flags: pfR | pfX,
		fill: func(at placed) ([]byte, error) { return jumpTo(machine, bo, at.vaddr, entry, n), nil },
	})
	rq.entry = &entryPatch{payload: 1}
	return rq
}

// jumpTo returns n bytes of code at address from that jump to address to.
func jumpTo(m Machine, bo binary.ByteOrder, from, to, n uint64) []byte {
	b := bytes.Repeat([]byte{0xcc}, int(n))
	switch m {
	case EM_X86_64:
		copy(b, []byte{0xf3, 0x0f, 0x1e, 0xfa, 0xe9}) // endbr64; jmp rel32
		bo.PutUint32(b[5:], uint32(int32(int64(to)-int64(from+9))))
	case EM_AARCH64:
		clear(b)
		bo.PutUint32(b, 0x14000000|uint32((int64(to)-int64(from))/4)&0x3ffffff) // b to
	}
	return b
}

// planRequest plans rq on the file b: on a file without a note as a new
// stamp, on a stamped one as a re-stamp that removes the note first.
func planRequest(t *testing.T, b []byte, rq func(*image) *request, set bitmap.Set) *Plan {
	t.Helper()
	im, err := parseLenient(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := im.checkStampable(); err != nil {
		t.Fatal(err)
	}
	set = set.WithABI(im.abi())
	var p *Plan
	if im.noteFound {
		f, err := im.file()
		if err != nil {
			t.Fatal(err)
		}
		p = &Plan{Cut: im.size, Size: im.size, orig: im.size, Before: f.Set, After: set}
		// The engine plans on the file without its note: planRestamp
		// makes the request from that file's headers.
		p, err = im.planRestamp(p, func(im *image, _ bitmap.Set) (*request, error) { return rq(im), nil }, set)
		if err != nil {
			t.Fatalf("planRestamp: %v", err)
		}
		return p
	}
	p, err = im.planAdd(rq(im), set, undoBase{})
	if err != nil {
		t.Fatalf("planAdd: %v", err)
	}
	return p
}

// readelfLoad is one LOAD line of readelf -lW.
type readelfLoad struct {
	off, vaddr, filesz, memsz, align uint64
	flags                            string
}

var (
	loadLine  = regexp.MustCompile(`(?m)^\s+LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s([R ][W ][E ])\s0x([0-9a-f]+)\s*$`)
	entryLine = regexp.MustCompile(`(?m)^\s+Entry point address:\s+0x([0-9a-f]+)\s*$`)
)

// readelfLayout returns readelf's view of path: e_entry and the LOADs in
// table order. readelf must not warn.
func readelfLayout(t *testing.T, path string) (uint64, []readelfLoad) {
	t.Helper()
	readelf := needTool(t, "readelf")
	cmd := exec.Command(readelf, "-hlW", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("readelf -hlW %s: %v\n%s", path, err, stderr.String())
	}
	m := entryLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("readelf -h %s shows no entry point:\n%s", path, out)
	}
	var loads []readelfLoad
	for _, l := range loadLine.FindAllStringSubmatch(string(out), -1) {
		loads = append(loads, readelfLoad{parseHex(l[1]), parseHex(l[2]), parseHex(l[3]), parseHex(l[4]), parseHex(l[6]), l[5]})
	}
	return parseHex(string(m[1])), loads
}

// TestEmbedShapedRequest plans, on several fixtures, what --embed will ask
// of the layout engine: a second, loaded R+X payload and an e_entry patch.
// readelf must show the new PT_LOAD last, page-aligned above every
// segment's memory (.bss included) with p_offset ≡ p_vaddr modulo the page
// size, holding the payload, and e_entry pointing at it; the program,
// whose entry now jumps through the payload, must run as before; Remove
// must restore the file byte for byte, also after a re-stamp in place and
// after a re-stamp with a different request.
func TestEmbedShapedRequest(t *testing.T) {
	manifest := map[string]fixture{}
	for _, fx := range loadFixtures(t) {
		manifest[fx.File] = fx
	}
	took := map[Strategy][]string{}
	for _, name := range []string{
		"x86_64-pie", "x86_64-exec", "x86_64-static", "x86_64-static-pie", "x86_64-musl-static",
		"x86_64-pie-lld", "x86_64-full-pages", "x86_64-ptnull", "x86_64-phdr-room", "x86_64-nosections",
		"go-internal", "go-pie", "go-external", "aarch64-pie", "aarch64-static", "ppc-pie",
	} {
		t.Run(name, func(t *testing.T) {
			fx := manifest[name]
			orig := mustRead(t, filepath.Join(fixtureDir, name))
			abi, _ := bitmap.ParseABI(fx.ABI)
			set := bitmap.NewSet(abi, 59, 101)
			const stubSize = 300
			p := planRequest(t, orig, func(im *image) *request { return embedLike(im, stubSize) }, set)
			took[p.Strategy] = append(took[p.Strategy], name)
			stamped := p.Apply(bytes.Clone(orig))
			origDir, dir := t.TempDir(), t.TempDir()
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, stamped, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(origDir, name), orig, 0o755); err != nil {
				t.Fatal(err)
			}

			// What readelf sees.
			im, err := parse(bytes.NewReader(orig))
			if err != nil {
				t.Fatal(err)
			}
			ps := im.pageSize()
			entry, loads := readelfLayout(t, path)
			_, before := readelfLayout(t, filepath.Join(origDir, name))
			if len(loads) != len(before)+1+btoi(p.Strategy == StrategyAppend) {
				t.Fatalf("readelf shows %d LOADs, want %d (strategy %v)", len(loads), len(before)+1, p.Strategy)
			}
			stub := loads[len(loads)-1]
			var memEnd uint64
			for _, l := range loads[:len(loads)-1] {
				memEnd = max(memEnd, l.vaddr+l.memsz)
			}
			if stub.flags != "R E" || stub.filesz != stubSize || stub.memsz != stubSize || stub.align != ps ||
				stub.vaddr%ps != 0 || stub.off%ps != stub.vaddr%ps || stub.vaddr < memEnd {
				t.Errorf("the new LOAD is %+v; want R E, %d bytes, aligned to %#x, p_offset ≡ p_vaddr, above every segment's memory (%#x)", stub, stubSize, ps, memEnd)
			}
			if entry != stub.vaddr {
				t.Errorf("e_entry = %#x, want the new segment's address %#x", entry, stub.vaddr)
			}
			oldEntry := im.getWord(im.head[im.offEntry:])
			if want := jumpTo(im.machine, im.bo, stub.vaddr, oldEntry, stubSize); !bytes.Equal(stamped[stub.off:stub.off+stubSize], want) {
				t.Errorf("the new segment does not hold the payload")
			}
			f, err := Read(bytes.NewReader(stamped))
			if err != nil || !f.Stamped || !f.Set.Equal(set) || f.Note.UndoOff == 0 {
				t.Fatalf("Read = %+v, %v; want %v with an undo record", f, err, set)
			}
			readelfNote(t, path, f.Note, len(im.sects) > 0)

			// It runs as before: through the new segment to the old entry.
			if fx.Run != nil && (im.machine == EM_X86_64 || im.machine == EM_AARCH64) {
				if len(fx.Run) > 0 {
					needTool(t, fx.Run[0])
				}
				argv := func() []string { return slices.Concat(fx.Run, []string{"./" + name}, fx.Args) }
				a := run(origDir, 20*time.Second, nil, argv()...)
				b := run(dir, 20*time.Second, nil, argv()...)
				if diff := cmp.Diff(a, b); diff != "" || a.Exit != fx.Exit {
					t.Errorf("the stamped %s runs differently (-original +stamped):\n%s", name, diff)
				}
			}

			// Remove: the original, byte for byte, also after adding bits
			// in place.
			rm, err := PlanRemove(bytes.NewReader(stamped))
			if err != nil || !rm.Exact || !bytes.Equal(rm.Apply(bytes.Clone(stamped)), orig) {
				t.Fatalf("PlanRemove = %v (exact %v); want the original", err, rm != nil && rm.Exact)
			}
			if res, err := Stamp(path, bitmap.NewSet(abi, 62), Options{}); err != nil || !res.InPlace {
				t.Fatalf("Stamp(+62) = %+v, %v; want in place", res, err)
			}
			if res, err := Remove(path, Options{}); err != nil || !res.Exact || !bytes.Equal(mustRead(t, path), orig) {
				t.Fatalf("Remove after Stamp(+62) = %+v, %v; want the original", res, err)
			}

			// A re-stamp with another request keeps the one record of the
			// original: note only from embedded, embedded from note only.
			noteOnly := planRequest(t, stamped, func(*image) *request { return noteRequest(nil) }, set).Apply(bytes.Clone(stamped))
			checkOneRecord(t, "note only over embedded", noteOnly, orig)
			plain := planRequest(t, orig, func(*image) *request { return noteRequest(nil) }, set).Apply(bytes.Clone(orig))
			again := planRequest(t, plain, func(im *image) *request { return embedLike(im, stubSize) }, set).Apply(bytes.Clone(plain))
			checkOneRecord(t, "embedded over note only", again, orig)
			if !bytes.Equal(again, stamped) {
				t.Errorf("embedding a stamped file gave other bytes than embedding the original")
			}
		})
	}
	for s, names := range took {
		t.Logf("strategy %v: %s", s, strings.Join(names, ", "))
	}
}

// checkOneRecord checks that b carries a note with exactly one undo record
// whose removal gives back orig.
func checkOneRecord(t *testing.T, what string, b, orig []byte) {
	t.Helper()
	im, err := parse(bytes.NewReader(b))
	if err != nil || !im.noteFound || im.undo == nil {
		t.Fatalf("%s: %v, note %v; want a note with an undo record", what, err, im != nil && im.noteFound)
	}
	if r := im.undo; r.size != uint64(len(orig)) || r.flags != 0 {
		t.Errorf("%s: the undo record restores %d bytes (flags %#x), want the original's %d", what, r.size, r.flags, len(orig))
	}
	rm, err := PlanRemove(bytes.NewReader(b))
	if err != nil || !rm.Exact || !bytes.Equal(rm.Apply(bytes.Clone(b)), orig) {
		t.Errorf("%s: PlanRemove = %v; want the original, exactly", what, err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
