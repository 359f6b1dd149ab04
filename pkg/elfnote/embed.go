package elfnote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/net/bpf"

	"github.com/sysrestrict/sysrestrict/internal/stub"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// Self-enforcing stamps (SPEC section 5, docs/embed.md): with Options.Embed
// a stamp also writes internal/stub's start-up stub into the file, in an
// R+X PT_LOAD of its own placed by the layout engine after every segment,
// points e_entry at it, and records where it is in an NT_SYSRESTRICT_EMBED
// note (docs/note-format.md). The stub installs the filter embedFilter
// compiles from the note, then jumps to the original entry.

// Embed is the NT_SYSRESTRICT_EMBED record of an embedded file: where its
// start-up stub is, and what it jumps to. The layout is in
// docs/note-format.md; Read checks it against the file (VerifyEmbed).
type Embed struct {
	Template  uint32 // the stub template's identity (stub.Template)
	Vaddr     uint64 // p_vaddr of the stub's PT_LOAD (unbiased)
	Offset    uint64 // its p_offset
	Size      uint64 // the stub payload: its p_filesz and p_memsz
	Entry     uint64 // the original e_entry, where the stub jumps
	FilterLen int    // the stub's filter, in instructions
	NoteOff   int64  // file offset of the NT_SYSRESTRICT_EMBED descriptor

	// layoutErr is what the reader found wrong with the stub's program
	// header or e_entry (checkEmbedLayout), for VerifyEmbed to report.
	layoutErr error
}

const (
	embedDescSize = 48
	embedVersion  = 1
	embedNoteSz   = nhdrSize + 12 + embedDescSize // 12: len(ownerName)
)

// decodeEmbed parses the NT_SYSRESTRICT_EMBED descriptor desc found at
// file offset off: what the descriptor alone can tell. checkEmbedLayout
// and VerifyEmbed check it against the file.
func decodeEmbed(desc []byte, off int64, bo binary.ByteOrder) (Embed, error) {
	if len(desc) != embedDescSize {
		return Embed{}, badNote(off, "NT_SYSRESTRICT_EMBED has %d bytes, want %d", len(desc), embedDescSize)
	}
	if v := bo.Uint32(desc); v != embedVersion {
		return Embed{}, badNote(off, "NT_SYSRESTRICT_EMBED version %d (this sysrestrict reads version %d); a newer sysrestrict stamped this file", v, embedVersion)
	}
	e := Embed{
		Template: bo.Uint32(desc[4:]), Vaddr: bo.Uint64(desc[8:]), Offset: bo.Uint64(desc[16:]), Size: bo.Uint64(desc[24:]),
		Entry: bo.Uint64(desc[32:]), NoteOff: off,
	}
	if e.Template != stub.Template {
		return Embed{}, badNote(off+4, "start-up stub template %d (this sysrestrict knows template %d); a newer sysrestrict stamped this file", e.Template, stub.Template)
	}
	n := bo.Uint32(desc[40:])
	if n < 1 || n > stub.MaxFilter {
		return Embed{}, badNote(off+40, "NT_SYSRESTRICT_EMBED filter of %d instructions, want 1 to %d", n, stub.MaxFilter)
	}
	e.FilterLen = int(n)
	if r := bo.Uint32(desc[44:]); r != 0 {
		return Embed{}, badNote(off+44, "NT_SYSRESTRICT_EMBED reserved field is %#x, want 0", r)
	}
	return e, nil
}

// encode returns the descriptor of e in byte order bo.
func (e *Embed) encode(bo binary.ByteOrder) []byte {
	b := make([]byte, embedDescSize)
	bo.PutUint32(b[0:], embedVersion)
	bo.PutUint32(b[4:], e.Template)
	bo.PutUint64(b[8:], e.Vaddr)
	bo.PutUint64(b[16:], e.Offset)
	bo.PutUint64(b[24:], e.Size)
	bo.PutUint64(b[32:], e.Entry)
	bo.PutUint32(b[40:], uint32(e.FilterLen))
	return b
}

// checkEmbedLayout checks an embedded file's headers against its
// NT_SYSRESTRICT_EMBED record (docs/note-format.md, "Verification"):
// exactly one PT_LOAD has the recorded offset, address and size, in the
// file, with flags R+X, no other maps memory in its pages, and e_entry is
// that address. It reads no byte of
// the stub: VerifyEmbed does.
func (im *image) checkEmbedLayout(e *Embed) error {
	if abi := im.abi(); abi != bitmap.X86_64 && abi != bitmap.AARCH64 {
		return damagedStub(e.NoteOff, "the note says the file is embedded, but there is no start-up stub for %v", abi)
	}
	if e.Offset > uint64(im.size) || e.Size > uint64(im.size)-e.Offset {
		return damagedStub(e.NoteOff+16, "the start-up stub (offset %#x, %d bytes) lies outside the file of %d bytes; %s", e.Offset, e.Size, im.size, stubAdvice)
	}
	found := -1
	for i, p := range im.progs {
		if p.Type != ptLoad || p.Off != e.Offset || p.Vaddr != e.Vaddr || p.Filesz != e.Size || p.Memsz != e.Size {
			continue
		}
		if found >= 0 {
			return damagedStub(int64(im.phoff)+int64(i*im.phentsize), "two PT_LOADs (program headers %d and %d) hold the start-up stub", found, i)
		}
		found = i
	}
	if found < 0 {
		return damagedStub(e.NoteOff+8, "no PT_LOAD holds the start-up stub at address %#x, offset %#x, %d bytes (the file was changed after embedding, e.g. by strip); %s", e.Vaddr, e.Offset, e.Size, stubAdvice)
	}
	if p := im.progs[found]; p.Flags != pfR|pfX {
		return damagedStub(int64(im.phoff)+int64(found*im.phentsize)+4, "the start-up stub's PT_LOAD has flags %#x, want R+X (%#x); %s", uint32(p.Flags), uint32(pfR|pfX), stubAdvice)
	}
	// No other segment may map memory over the stub's pages: the kernel
	// maps PT_LOADs in table order, and a later one there would replace
	// the verified stub with other code at the entry point.
	a := max(im.progs[found].Align, 4096)
	if a&(a-1) != 0 {
		a = 4096
	}
	lo, hi := e.Vaddr&^(a-1), alignUp(e.Vaddr+e.Size, a)
	for i, p := range im.progs {
		if i != found && p.Type == ptLoad && p.Memsz > 0 && p.Vaddr&^(a-1) < hi && lo < alignUp(p.Vaddr+p.Memsz, a) {
			return damagedStub(int64(im.phoff)+int64(i*im.phentsize), "PT_LOAD %d (address %#x, %d bytes) maps memory over the start-up stub's page at %#x", i, p.Vaddr, p.Memsz, lo)
		}
	}
	if entry := im.getWord(im.head[im.offEntry:]); entry != e.Vaddr {
		return damagedStub(int64(im.offEntry), "e_entry is %#x, not the start-up stub at %#x: the stub does not run; %s", entry, e.Vaddr, stubAdvice)
	}
	return nil
}

// stubAdvice is what a message about a damaged stub tells a person to do.
const stubAdvice = "embed the unstripped build output again (embedding must be the last build step), or remove the stamp with --remove and stamp again"

// VerifyEmbed checks the start-up stub of an embedded file f, read from r
// (the file f was read from), against f's note: the layout checks the
// reader made (the stub's PT_LOAD, e_entry), then that the payload is a
// stub internal/stub built (stub.Parse), jumping to the recorded original
// entry, whose filter is instruction for instruction what embedFilter
// compiles from the note. A mismatch is an error matching ErrDamagedStub
// (and so ErrBadNote). It returns nil for a file that is not embedded.
//
// Read calls it. ReadRestrictions, the loader's reader, does not: the
// loader calls it itself for an embedded file, so that the stub's code and
// the filter compiler are only reached when there is a stub to check.
func (f *File) VerifyEmbed(r io.ReaderAt) error {
	e := f.Embed
	if e == nil {
		return nil
	}
	if e.layoutErr != nil {
		return e.layoutErr
	}
	size, err := stub.Size(f.ABI, e.FilterLen)
	if err != nil {
		return damagedStub(e.NoteOff, "%v", err)
	}
	if e.Size != uint64(size) {
		return damagedStub(e.NoteOff+24, "the start-up stub has %d bytes, but a %v stub with a filter of %d instructions has %d; %s", e.Size, f.ABI, e.FilterLen, size, stubAdvice)
	}
	payload := make([]byte, size)
	if n, err := r.ReadAt(payload, int64(e.Offset)); n != size {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading the start-up stub at offset %#x: %w", e.Offset, err)
	}
	prog, entry, err := stub.Parse(f.ABI, payload, e.Vaddr)
	if err != nil {
		var se *stub.FormatError
		off := int64(e.Offset)
		if errors.As(err, &se) {
			off += se.Off
		}
		return damagedStub(off, "the start-up stub is not one this sysrestrict writes (%v); %s", err, stubAdvice)
	}
	if entry != e.Entry {
		return damagedStub(int64(e.Offset), "the start-up stub jumps to %#x, but the note records the original entry point %#x; %s", entry, e.Entry, stubAdvice)
	}
	want, err := embedFilter(f.Set, f.Actions)
	if err != nil {
		return damagedStub(e.NoteOff, "compiling the note's filter: %v", err)
	}
	if len(prog) != e.FilterLen || len(want) != len(prog) {
		return damagedStub(int64(e.Offset), "the start-up stub's filter has %d instructions, the note records %d and compiles to %d; %s", len(prog), e.FilterLen, len(want), stubAdvice)
	}
	for i := range want {
		if prog[i] != want[i] {
			return damagedStub(int64(e.Offset)+int64(size-8*(len(prog)-i)), "instruction %d of the start-up stub's filter is %+v, the note compiles to %+v: the stub does not enforce the note; %s", i, prog[i], want[i], stubAdvice)
		}
	}
	return nil
}

// embedFilter compiles the filter the start-up stub of a binary with the
// restrictions set and the actions act (the note's NT_SYSRESTRICT_ACTION)
// installs: SPEC section 3's filter without the exec gate (the program is
// already running) and without the sentinel. It is the one place that
// says what an embedded stub enforces: the stamper writes what it
// returns, and VerifyEmbed compares with it.
func embedFilter(set bitmap.Set, act Actions) ([]bpf.RawInstruction, error) {
	p, err := filter.Build(set, act.Options())
	if err != nil {
		return nil, err
	}
	return p.Instructions(), nil
}

// embedSpec is what a request for an embedded stamp adds to the note: the
// NT_SYSRESTRICT_EMBED record of the payload that is the stub.
type embedSpec struct {
	payload   int    // the stub's index among the request's payloads
	entry     uint64 // the original e_entry
	filterLen int
}

// record returns the NT_SYSRESTRICT_EMBED record of the stub placed at at,
// of size bytes.
func (es *embedSpec) record(at placed, size uint64) Embed {
	return Embed{Template: stub.Template, Vaddr: at.vaddr, Offset: at.off, Size: size, Entry: es.entry, FilterLen: es.filterLen}
}

// embedRequest returns the request of an embedded stamp of set with the
// canonical actions act on im (a file without a note): the note, and the
// start-up stub, whose filter enforces them, in an R+X PT_LOAD of its own
// that e_entry points at. It refuses a file that is not a
// program the stub can start (checkProgram) or whose ABI has no stub.
func (im *image) embedRequest(set bitmap.Set, act Actions) (*request, error) {
	abi := im.abi()
	if abi != bitmap.X86_64 && abi != bitmap.AARCH64 {
		what := abi.String()
		if !abi.Known() {
			what = "machine " + im.machine.String()
		}
		return nil, fmt.Errorf("%w: --embed: the start-up stub exists for x86_64 and aarch64 binaries, this one is %s", ErrUnsupported, what)
	}
	entry := im.getWord(im.head[im.offEntry:])
	if err := im.checkProgram(entry); err != nil {
		return nil, err
	}
	prog, err := embedFilter(set.WithABI(abi), act)
	if err != nil {
		return nil, fmt.Errorf("--embed: compiling the filter: %w", err)
	}
	size, err := stub.Size(abi, len(prog))
	if err != nil {
		return nil, fmt.Errorf("%w: --embed: %w", ErrUnsupported, err)
	}
	rq := noteRequest(encodeActions(im.bo, act))
	rq.payloads = append(rq.payloads, payload{
		size: uint64(size), align: im.stubAlign(), load: true, flags: pfR | pfX,
		fill: func(at placed) ([]byte, error) {
			b, err := stub.Build(abi, prog, at.vaddr, entry)
			if err != nil {
				return nil, fmt.Errorf("%w: --embed: the start-up stub at %#x cannot start the program at its entry point %#x: %w", ErrUnsupported, at.vaddr, entry, err)
			}
			return b, nil
		},
	})
	rq.entry = &entryPatch{payload: 1}
	rq.embed = &embedSpec{payload: 1, entry: entry, filterLen: len(prog)}
	return rq, nil
}

// stubAlign returns the alignment of the stub's PT_LOAD: 4 KiB, raised to
// the largest p_align of the file's PT_LOADs, up to 64 KiB. On aarch64
// that is 64 KiB for GNU ld's default (-z max-page-size=0x10000) and 4 KiB
// for a binary linked for 4 KiB pages, which runs on no kernel with larger
// pages anyway; the kernel needs p_offset ≡ p_vaddr modulo its page size
// (fs/binfmt_elf.c, elf_map), and the engine aligns both.
func (im *image) stubAlign() uint64 {
	a := uint64(4096)
	for _, l := range im.progs {
		if l.Type == ptLoad && l.Align > a && l.Align&(l.Align-1) == 0 {
			a = min(l.Align, 65536)
		}
	}
	return a
}

// The program header and dynamic section values checkProgram looks at
// (gABI "Program Header" and "Dynamic Section"; DF_1_PIE from glibc's
// elf/elf.h).
const (
	ptDynamic progType = 2
	ptInterp  progType = 3

	dtNull   = 0
	dtSoname = 14
	dtFlags1 = 0x6ffffffb
	df1PIE   = 0x08000000

	maxDynamic = 1 << 20 // bytes of PT_DYNAMIC checkProgram reads
)

// checkProgram refuses a file whose entry point is not a program's: the
// stub replaces e_entry, which only the start of a program runs. ET_EXEC
// and ET_DYN need an entry inside the file bytes of an executable
// PT_LOAD; an ET_DYN is a program (PIE, static-pie) when DT_FLAGS_1 says
// DF_1_PIE, or when it has an interpreter and no DT_SONAME (a PIE linked
// before the flag existed). A shared library's entry point (libc.so.6 has
// one: it prints its version) does not run when the library is loaded, so
// an embedded library would enforce nothing: refused.
func (im *image) checkProgram(entry uint64) error {
	switch im.typ {
	case ET_EXEC, ET_DYN:
	default:
		return fmt.Errorf("%w: --embed: %v is not a program", ErrUnsupported, im.typ)
	}
	if entry == 0 {
		return fmt.Errorf("%w: --embed: e_entry is 0: a shared library or object, not a program (only programs can embed their filter: stamp without --embed, and embed the programs that load it)", ErrUnsupported)
	}
	inCode := false
	for _, p := range im.progs {
		if p.Type == ptLoad && p.Flags&pfX != 0 && entry >= p.Vaddr && entry-p.Vaddr < p.Filesz {
			inCode = true
		}
	}
	if !inCode {
		return fmt.Errorf("%w: --embed: the entry point %#x lies in no executable PT_LOAD: not a program the start-up stub can start", ErrUnsupported, entry)
	}
	if im.typ == ET_EXEC {
		return nil
	}
	interp := false
	for _, p := range im.progs {
		interp = interp || p.Type == ptInterp
	}
	pie, soname, err := im.dynamicFlags()
	if err != nil {
		return err
	}
	switch {
	case pie:
		return nil
	case soname:
		return fmt.Errorf("%w: --embed: a shared library (DT_SONAME, no DF_1_PIE): its entry point does not run when it is loaded, so an embedded filter would enforce nothing; stamp it without --embed", ErrUnsupported)
	case !interp:
		return fmt.Errorf("%w: --embed: an ET_DYN file with neither DF_1_PIE nor an interpreter: a shared object, not a program; stamp it without --embed", ErrUnsupported)
	}
	return nil
}

// dynamicFlags reports whether the file's dynamic section says DF_1_PIE
// in DT_FLAGS_1, and whether it has a DT_SONAME. A file without PT_DYNAMIC
// has neither.
func (im *image) dynamicFlags() (pie, soname bool, err error) {
	for i, p := range im.progs {
		if p.Type != ptDynamic || p.Filesz == 0 {
			continue
		}
		at := int64(im.phoff) + int64(i*im.phentsize)
		if p.Off > uint64(im.size) || p.Filesz > uint64(im.size)-p.Off || p.Filesz > maxDynamic {
			return false, false, formatErr(at, "PT_DYNAMIC (offset %#x, %d bytes) lies outside the file or is too large", p.Off, p.Filesz)
		}
		dyn, err := im.bytesAt(p.Filesz, p.Off)
		if err != nil {
			return false, false, fmt.Errorf("reading the dynamic section: %w", err)
		}
		w := uint64(im.word)
		for q := uint64(0); q+2*w <= uint64(len(dyn)); q += 2 * w {
			tag, val := im.getWord(dyn[q:]), im.getWord(dyn[q+w:])
			switch tag {
			case dtNull:
				return pie, soname, nil
			case dtSoname:
				soname = true
			case dtFlags1:
				pie = pie || val&df1PIE != 0
			}
		}
		return pie, soname, nil
	}
	return false, false, nil
}
