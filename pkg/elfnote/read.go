package elfnote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"syscall"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// File is what Read learns from an ELF file: its identity and its
// sysrestrict note.
type File struct {
	Class   Class
	Data    Data
	Machine Machine
	Type    Type

	// ABI gives the note's numbers their meaning; bitmap.Unknown for a
	// machine outside SPEC's table (stampable by number only).
	ABI bitmap.ABI

	// Stamped reports that the file carries a valid sysrestrict note.
	Stamped bool

	// Set is the restriction set of the note, of ABI ABI; empty if
	// !Stamped.
	Set bitmap.Set

	// Actions is what the restricted syscalls get: the note's
	// NT_SYSRESTRICT_ACTION note, in its canonical form (no override
	// repeats the default); the zero value, kill for every one, without
	// one or if !Stamped.
	Actions Actions

	// Note says where the note is; zero if !Stamped.
	Note Location

	// Embed is the NT_SYSRESTRICT_EMBED record of an embedded file, whose
	// start-up stub installs the note's filter itself (SPEC section 5);
	// nil if the file is not embedded. Read has verified the stub
	// (VerifyEmbed); ReadRestrictions has not.
	Embed *Embed

	// Size is the file size.
	Size int64
}

// Location is where a note lies in a file.
type Location struct {
	Offset    int64  // file offset of the SysRestrict notes
	Size      int64  // their size: the whole PT_NOTE unless Shared
	Vaddr     uint64 // their address
	Prog      int    // index of the PT_NOTE program header
	Section   int    // index of the .note.sysrestrict section header; 0 if none
	Shared    bool   // the PT_NOTE holds other notes too (a note linked in at build time)
	BitmapOff int64  // file offset of the 64-byte bitmap descriptor
	FlagsOff  int64  // file offset of the 4-byte flags descriptor; 0 if absent
	UndoOff   int64  // file offset of the NT_SYSRESTRICT_UNDO descriptor; 0 if absent (a note stamped before it existed, or linked in)
	EmbedOff  int64  // file offset of the NT_SYSRESTRICT_EMBED descriptor; 0 if the file is not embedded
	ActionOff int64  // file offset of the NT_SYSRESTRICT_ACTION descriptor; 0 if absent (every restricted syscall is killed)
}

// headSize is how much of the file Read fetches in its first read: the ELF
// header, and nearly always the program headers and the notes with it.
const headSize = 4096

// Bounds on the headers of a hostile file, so that the work and memory of
// reading one are proportional to headers a real program can have, never
// to the file's size (docs/note-format.md, "Hostile files").
const (
	// maxProgBytes is the largest program header table a Linux kernel
	// loads: fs/binfmt_elf.c, load_elf_phdrs, refuses e_phnum *
	// e_phentsize above 64 KiB (older kernels also above ELF_MIN_ALIGN,
	// a page). 1,170 entries of ELF64, 2,048 of ELF32; on this 6.18 host
	// an x86_64 file with 1,170 runs and one with 1,171 gets ENOEXEC.
	maxProgBytes = 64 << 10

	// maxSects bounds the section header table. The kernel never reads
	// it; executables and shared objects have tens of sections, and only
	// relocatable objects, which are not stamped, need extended numbering
	// (65,280 and more). 4 MiB of ELF64 headers.
	maxSects = 1 << 16

	// maxNames bounds the section name table (.shstrtab): a few hundred
	// bytes in a program, a long name for each of maxSects sections here.
	maxNames = 4 << 20

	// maxNoteBytes bounds the bytes of all PT_NOTE segments together
	// (maxNoteSeg bounds one): real programs have a few hundred.
	maxNoteBytes = 4 << 20

	// sectChunk is how much of a section header table outside the head
	// buffer is read at a time: the headers are decoded as they come,
	// never held twice.
	sectChunk = 64 << 10
)

// image is the parsed headers of a file, shared by the reader and the
// planner.
type image struct {
	codec
	r       io.ReaderAt
	size    int64
	head    []byte
	typ     Type
	machine Machine
	data    Data

	phoff     uint64
	phnum     int
	shoff     uint64
	shnum     int
	shstrndx  int
	progs     []prog
	sects     []sect // nil without section headers
	shstrtab  []byte // the section name table, if any
	extended  bool   // extended section numbering (e_shnum == 0 and e_shoff != 0)
	noteFound bool
	damage    error // a stamp damaged by a later tool (see findNote)
	staleSect int   // the .note.sysrestrict section of a damaged stamp, or 0
	note      Location
	scan      noteScan
	undo      *undoRecord // the note's undo record, decoded by verifyUndo; nil without one

	// stubDamage: the file is embedded and its start-up stub does not
	// verify (VerifyEmbed). Strict readers fail with it; the stamper
	// refuses to stamp the file; Remove still replays the undo record.
	stubDamage error
}

// readAt reads len(b) bytes at off, from the head buffer when it holds them.
func (im *image) readAt(b []byte, off uint64) error {
	if off > uint64(im.size) || uint64(len(b)) > uint64(im.size)-off {
		return formatErr(int64(min(off, math.MaxInt64)), "%d bytes past the end of the file (size %d)", len(b), im.size)
	}
	if end := off + uint64(len(b)); end <= uint64(len(im.head)) {
		copy(b, im.head[off:end])
		return nil
	}
	n, err := im.r.ReadAt(b, int64(off))
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at offset %#x: %w", len(b), off, err)
}

// bytesAt returns the n bytes at off, read-only: a slice of the head
// buffer when it holds them (the program headers and notes nearly always),
// else a new buffer read from the file. Sparing the loader a copy and an
// allocation for each of them is worth a few page faults at every exec.
func (im *image) bytesAt(n, off uint64) ([]byte, error) {
	if h := uint64(len(im.head)); off <= h && n <= h-off {
		return im.head[off : off+n : off+n], nil
	}
	b := make([]byte, n)
	return b, im.readAt(b, off)
}

// sizeOf returns the size of r's data if r can tell it.
func sizeOf(r io.ReaderAt) (int64, bool) {
	switch v := r.(type) {
	case interface{ Size() int64 }:
		return v.Size(), true
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size(), true
		}
	}
	return 0, false
}

// Read parses the ELF header, the program headers, the note segments and
// the section headers of r, and the sysrestrict note if there is one. r is
// treated as hostile: every offset and size is checked against the file.
// If r has neither a Size nor a Stat method, its size is taken to be what
// ReadAt can read.
//
// When the headers are sound but the note is not (an error matching
// ErrBadNote), Read returns the File without a note along with the error,
// so that a caller can still learn the ABI; on any other error the File is
// nil.
//
// For an embedded file Read also verifies the start-up stub against the
// note (File.VerifyEmbed): a damaged stub is an error matching
// ErrDamagedStub and ErrBadNote.
func Read(r io.ReaderAt) (*File, error) {
	im, err := scan(r)
	if err == nil && im.damage == nil {
		// The stub first: strip, which damages it, also shrinks the file
		// below the undo record's original size.
		err = im.verifyStub()
	}
	if err == nil {
		err = im.verifyUndo()
	}
	return im.result(err)
}

// ReadRestrictions is Read for a program that enforces the note and does
// not change the file, the loader: it checks everything Read checks but
// the contents of the NT_SYSRESTRICT_UNDO record, which say how to restore
// the unstamped file and nothing about what is restricted (only Remove
// replays them, after checking them). It does not call the record's
// decoder, so the linker leaves it out of the loader: linked in, it cost 4
// page faults at every start.
//
// Nor does it verify an embedded file's start-up stub: File.Embed is the
// note's record as read, and a caller that runs the file calls
// File.VerifyEmbed itself when File.Embed is set.
func ReadRestrictions(r io.ReaderAt) (*File, error) {
	im, err := scan(r)
	return im.result(err)
}

// result is what Read returns for im (nil if scan failed) and err.
func (im *image) result(err error) (*File, error) {
	if err == nil && im.damage != nil {
		err = im.damage
	}
	if err != nil {
		if im != nil && errors.Is(err, ErrBadNote) {
			return im.header(), err
		}
		return nil, err
	}
	return im.file()
}

// ReadFile opens the named file and reads it with Read. Its errors are
// *fs.PathError values for name (Op "open" or "read") wrapping what went
// wrong, so a caller can name the file without parsing the message and
// errors.Is(err, ErrBadNote) still holds.
func ReadFile(name string) (*File, error) {
	f, _, err := openRegular(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == name {
			return nil, err // os.Open's or Stat's own, naming the file
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer f.Close()
	ef, err := Read(f)
	if err != nil {
		return ef, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return ef, nil
}

// openRegular opens name for reading and checks that it is a regular file:
// a directory, device, socket or FIFO is no ELF file to read or stamp.
//
// It looks before it opens, so that a device is never opened (opening one
// can act: a tape rewinds, a watchdog arms), and opens with O_NONBLOCK,
// so that a FIFO put in its place meanwhile cannot hang it (open(2) of a
// FIFO for reading waits for a writer; fifo(7)); O_NOCTTY keeps a
// terminal from becoming the controlling one. Neither flag changes how a
// regular file reads.
func openRegular(name string) (*os.File, os.FileInfo, error) {
	if fi, err := os.Stat(name); err != nil {
		return nil, nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(fi.Mode())
	}
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(fi.Mode())
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// notRegular says what a file that is not a regular file is.
func notRegular(m fs.FileMode) error {
	what := "not a regular file (" + m.Type().String() + ")"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	}
	return fmt.Errorf("%s, not a regular file: only ELF files are read or stamped", what)
}

// header returns the File of im without its note.
func (im *image) header() *File {
	abi := ABIFor(im.machine, im.class)
	return &File{
		Class:   im.class,
		Data:    im.data,
		Machine: im.machine,
		Type:    im.typ,
		ABI:     abi,
		Set:     bitmap.NewSet(abi),
		Size:    im.size,
	}
}

func (im *image) file() (*File, error) {
	f := im.header()
	if !im.noteFound {
		return f, nil
	}
	s, err := bitmap.FromNote(f.ABI, im.scan.bitmap, im.scan.flags&^FlagEmbedded)
	if err != nil {
		return nil, &FormatError{Off: im.note.BitmapOff, Msg: err.Error(), Err: ErrBadNote}
	}
	if im.scan.actOff != 0 {
		if f.Actions, err = decodeActions(im.scan.actDesc, im.scan.actOff, im.bo, s); err != nil {
			return nil, err
		}
	}
	f.Stamped, f.Set, f.Note = true, s, im.note
	if im.scan.embedOff != 0 {
		e := im.scan.embed
		e.layoutErr = im.checkEmbedLayout(&e)
		f.Embed = &e
	}
	return f, nil
}

// verifyStub verifies the start-up stub of an embedded file
// (File.VerifyEmbed).
func (im *image) verifyStub() error {
	if !im.noteFound || im.scan.embedOff == 0 {
		return nil
	}
	f, err := im.file()
	if err != nil {
		return err
	}
	return f.VerifyEmbed(im.r)
}

// parse reads and checks the headers and finds the note.
func parse(r io.ReaderAt) (*image, error) {
	im, err := parseLenient(r)
	if err == nil && im.damage != nil {
		err = im.damage
	}
	return im, err
}

// parseLenient is parse for the stamper: a stamp damaged by a later tool
// is recorded in im.damage rather than returned, so that it can be
// repaired.
//
// A damaged start-up stub is recorded in im.stubDamage: the stamper
// refuses to stamp such a file, Remove restores it.
func parseLenient(r io.ReaderAt) (*image, error) {
	im, err := scan(r)
	if err != nil {
		return im, err
	}
	if im.damage == nil {
		im.stubDamage = im.verifyStub()
	}
	if err := im.verifyUndo(); err != nil {
		if im.stubDamage != nil {
			return im, im.stubDamage // what broke the record too (strip)
		}
		return im, err
	}
	return im, nil
}

// scan is parseLenient without decoding the undo record (verifyUndo).
func scan(r io.ReaderAt) (*image, error) {
	im := &image{r: r}
	var known bool
	im.size, known = sizeOf(r)
	head := make([]byte, headSize)
	n, err := r.ReadAt(head, 0)
	if n < len(head) && err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading ELF header: %w", err)
	}
	im.head = head[:n]
	switch {
	case !known && n < headSize:
		im.size = int64(n) // ReadAt hit the end
	case !known:
		im.size = math.MaxInt64 // ReadAt errors bound what follows
	case im.size < int64(n):
		im.head = head[:im.size]
	}
	if err := im.parseHeader(); err != nil {
		return nil, err
	}
	if err := im.parseProgs(); err != nil {
		return nil, err
	}
	if err := im.parseSects(); err != nil {
		return nil, err
	}
	if err := im.findNote(); err != nil && err != im.damage {
		return im, err // the headers are good: Read reports them
	}
	return im, nil
}

func (im *image) parseHeader() error {
	h := im.head
	if len(h) < 4 || string(h[:4]) != elfMagic {
		return &FormatError{Off: 0, Msg: "bad magic number", Err: ErrNotELF}
	}
	if len(h) < eiNident {
		return &FormatError{Off: int64(len(h)), Msg: "truncated ELF identification", Err: ErrNotELF}
	}
	im.class = Class(h[eiClass])
	switch im.class {
	case ELFCLASS32:
		im.layout = layout32
	case ELFCLASS64:
		im.layout = layout64
	default:
		return &FormatError{Off: eiClass, Msg: fmt.Sprintf("unknown ELF class %d", h[eiClass]), Err: ErrNotELF}
	}
	im.data = Data(h[eiData])
	switch im.data {
	case ELFDATA2LSB:
		im.bo = binary.LittleEndian
	case ELFDATA2MSB:
		im.bo = binary.BigEndian
	default:
		return &FormatError{Off: eiData, Msg: fmt.Sprintf("unknown ELF data encoding %d", h[eiData]), Err: ErrNotELF}
	}
	if v := h[eiVersion]; v != evCurrent {
		return &FormatError{Off: eiVersion, Msg: fmt.Sprintf("unknown ELF version %d", v), Err: ErrNotELF}
	}
	if len(h) < im.ehsize {
		return &FormatError{Off: int64(len(h)), Msg: "truncated ELF header", Err: ErrNotELF}
	}
	bo := im.bo
	im.typ = Type(bo.Uint16(h[16:]))
	im.machine = Machine(bo.Uint16(h[18:]))
	var phentsize, shentsize int
	if im.class == ELFCLASS64 {
		im.phoff, im.shoff = bo.Uint64(h[32:]), bo.Uint64(h[40:])
		phentsize, im.phnum = int(bo.Uint16(h[54:])), int(bo.Uint16(h[56:]))
		shentsize, im.shnum, im.shstrndx = int(bo.Uint16(h[58:])), int(bo.Uint16(h[60:])), int(bo.Uint16(h[62:]))
	} else {
		im.phoff, im.shoff = uint64(bo.Uint32(h[28:])), uint64(bo.Uint32(h[32:]))
		phentsize, im.phnum = int(bo.Uint16(h[42:])), int(bo.Uint16(h[44:]))
		shentsize, im.shnum, im.shstrndx = int(bo.Uint16(h[46:])), int(bo.Uint16(h[48:])), int(bo.Uint16(h[50:]))
	}
	if im.phnum == 0xffff { // PN_XNUM: the count is in section 0's sh_info
		return fmt.Errorf("%w: extended program header numbering (PN_XNUM)", ErrUnsupported)
	}
	if im.phnum > 0 && phentsize != im.phentsize {
		return formatErr(int64(im.offPhnum-2), "e_phentsize is %d, want %d", phentsize, im.phentsize)
	}
	if n := im.phnum * im.phentsize; n > maxProgBytes {
		return formatErr(int64(im.offPhnum), "%d program headers (%d bytes): more than the %d bytes of them any kernel loads", im.phnum, n, maxProgBytes)
	}
	if im.shoff != 0 && shentsize != im.shentsize && (im.shnum > 0 || shentsize != 0) {
		return formatErr(int64(im.offShnum-2), "e_shentsize is %d, want %d", shentsize, im.shentsize)
	}
	return nil
}

func (im *image) parseProgs() error {
	if im.phnum == 0 {
		return nil
	}
	n := uint64(im.phnum) * uint64(im.phentsize)
	if im.phoff == 0 || im.phoff > uint64(im.size) || n > uint64(im.size)-im.phoff {
		return formatErr(int64(im.offPhoff), "program header table (offset %#x, %d entries) lies outside the file", im.phoff, im.phnum)
	}
	b, err := im.bytesAt(n, im.phoff)
	if err != nil {
		return fmt.Errorf("reading program headers: %w", err)
	}
	im.progs = make([]prog, im.phnum)
	for i := range im.progs {
		im.progs[i] = im.decodeProg(b[i*im.phentsize:])
	}
	return nil
}

func (im *image) parseSects() error {
	if im.shoff == 0 {
		return nil
	}
	count := uint64(im.shnum)
	if count == 0 {
		// Extended numbering: the count is section 0's sh_size.
		im.extended = true
		b := make([]byte, im.shentsize)
		if err := im.readAt(b, im.shoff); err != nil {
			return fmt.Errorf("reading section header 0: %w", err)
		}
		s0 := im.decodeSect(b)
		count = s0.Size
		if im.shstrndx == shnXindex {
			im.shstrndx = int(s0.Link)
		}
	}
	if im.shoff > uint64(im.size) || count > (uint64(im.size)-im.shoff)/uint64(im.shentsize) {
		return formatErr(int64(im.offShoff), "section header table (offset %#x, %d entries) lies outside the file", im.shoff, count)
	}
	if count > maxSects {
		return &FormatError{Off: int64(im.offShoff), Err: ErrUnsupported,
			Msg: fmt.Sprintf("section header table of %d entries: more than the %d this reader handles (programs have tens)", count, maxSects)}
	}
	if err := im.readSects(int(count)); err != nil {
		return fmt.Errorf("reading section headers: %w", err)
	}
	if im.shstrndx == 0 || im.shstrndx >= len(im.sects) {
		return nil // no names: no .note.sysrestrict to find
	}
	st := &im.sects[im.shstrndx]
	stOff := int64(im.shoff) + int64(im.shstrndx*im.shentsize)
	if st.Type != shtStrtab || st.Off > uint64(im.size) || st.Size > uint64(im.size)-st.Off {
		return formatErr(stOff, "section name table (offset %#x, size %d) is not a string table inside the file", st.Off, st.Size)
	}
	if st.Size > maxNames {
		return &FormatError{Off: stOff, Err: ErrUnsupported,
			Msg: fmt.Sprintf("section name table of %d bytes: more than the %d this reader handles", st.Size, maxNames)}
	}
	var err error
	if im.shstrtab, err = im.bytesAt(st.Size, st.Off); err != nil {
		return fmt.Errorf("reading section names: %w", err)
	}
	return nil
}

// readSects decodes the count section headers at e_shoff into im.sects:
// from the head buffer when it holds them, else sectChunk bytes at a time,
// so that the raw table is never held beside its decoded form.
func (im *image) readSects(count int) error {
	im.sects = make([]sect, count)
	n := uint64(count) * uint64(im.shentsize)
	if h := uint64(len(im.head)); im.shoff <= h && n <= h-im.shoff {
		for i := range im.sects {
			im.sects[i] = im.decodeSect(im.head[im.shoff+uint64(i*im.shentsize):])
		}
		return nil
	}
	per := sectChunk / im.shentsize
	buf := make([]byte, min(count, per)*im.shentsize)
	for i := 0; i < count; i += per {
		b := buf[:min(count-i, per)*im.shentsize]
		if err := im.readAt(b, im.shoff+uint64(i*im.shentsize)); err != nil {
			return err
		}
		for j := range len(b) / im.shentsize {
			im.sects[i+j] = im.decodeSect(b[j*im.shentsize:])
		}
	}
	return nil
}

// sectNamed reports whether section i is called name.
func (im *image) sectNamed(i int, name string) bool {
	n := uint64(im.sects[i].Name)
	if n >= uint64(len(im.shstrtab)) || uint64(len(im.shstrtab))-n <= uint64(len(name)) {
		return false
	}
	s := im.shstrtab[n : n+uint64(len(name))+1]
	return s[len(name)] == 0 && string(s[:len(name)]) == name
}

// findNote looks for the sysrestrict note in the PT_NOTE segments and the
// section table and checks that both agree with each other and with memory.
func (im *image) findNote() error {
	var total uint64 // bytes of note segments scanned
	for i, p := range im.progs {
		if p.Type != ptNote || p.Filesz == 0 {
			continue
		}
		if p.Off > uint64(im.size) || p.Filesz > uint64(im.size)-p.Off {
			return formatErr(int64(im.phoff)+int64(i*im.phentsize), "note segment (offset %#x, size %d) lies outside the file", p.Off, p.Filesz)
		}
		if p.Filesz > maxNoteSeg {
			return formatErr(int64(im.phoff)+int64(i*im.phentsize), "note segment of %d bytes is too large to check", p.Filesz)
		}
		if total += p.Filesz; total > maxNoteBytes {
			return formatErr(int64(im.phoff)+int64(i*im.phentsize), "note segments of more than %d bytes in all are too large to check", maxNoteBytes)
		}
		seg, err := im.bytesAt(p.Filesz, p.Off)
		if err != nil {
			return fmt.Errorf("reading note segment: %w", err)
		}
		ns, err := scanNotes(seg, int64(p.Off), p.Align, im.bo)
		if err != nil {
			return err
		}
		if ns.ours == 0 {
			continue
		}
		if im.noteFound {
			return badNote(int64(p.Off), "two sysrestrict note segments (program headers %d and %d)", im.note.Prog, i)
		}
		if ns.bitmapOff == 0 {
			return badNote(int64(p.Off), "sysrestrict note segment has no NT_SYSRESTRICT_BITMAP note")
		}
		im.noteFound, im.scan = true, ns
		im.note = Location{
			Offset: ns.start, Size: ns.end - ns.start, Vaddr: p.Vaddr + uint64(ns.start) - p.Off,
			Prog: i, Shared: ns.others > 0, BitmapOff: ns.bitmapOff, FlagsOff: ns.flagsOff, UndoOff: ns.undoOff, EmbedOff: ns.embedOff,
			ActionOff: ns.actOff,
		}
	}
	for i := range im.sects {
		if !im.sectNamed(i, Section) {
			continue
		}
		s := im.sects[i]
		off := int64(im.shoff) + int64(i*im.shentsize)
		if im.note.Section != 0 || im.staleSect != 0 {
			return badNote(off, "two %s sections", Section)
		}
		switch {
		case !im.noteFound:
			im.staleSect = i
			im.damaged(badNote(off, "section %s has no PT_NOTE program header covering it (the file was changed after stamping, e.g. by strip or objcopy); stamp it again to repair it", Section))
		case s.Type != shtNote || s.Off != uint64(im.note.Offset) || s.Size != uint64(im.note.Size) || s.Flags&shfAlloc == 0 || s.Addr != im.note.Vaddr:
			im.staleSect = i
			im.damaged(badNote(off, "section %s (offset %#x, size %d, address %#x) and its PT_NOTE (offset %#x, size %d, address %#x) disagree (the file was changed after stamping); stamp it again to repair it",
				Section, s.Off, s.Size, s.Addr, im.note.Offset, im.note.Size, im.note.Vaddr))
		default:
			im.note.Section = i
		}
	}
	if im.noteFound || im.staleSect != 0 {
		if err := im.checkLayout(); err != nil {
			return err
		}
	}
	if im.noteFound && !im.mapsFile(im.note.Vaddr, uint64(im.note.Offset), uint64(im.note.Size)) {
		im.damaged(badNote(int64(im.phoff)+int64(im.note.Prog*im.phentsize), "the sysrestrict PT_NOTE's address %#x does not map its own bytes (the file was changed after stamping); stamp it again to repair it", im.note.Vaddr))
	}
	return im.damage
}

// verifyUndo decodes the undo record, if the note has one, and checks it
// against the file once the stamp is known not to be damaged: a damaged
// stamp's record is never replayed.
func (im *image) verifyUndo() error {
	if im.scan.undoOff == 0 || !im.noteFound {
		return nil
	}
	dec, err := decodeUndo(im.scan.undoDesc, im.scan.undoOff, im.bo)
	if err != nil {
		return err
	}
	im.undo = &dec
	if im.damage != nil {
		return nil
	}
	return im.checkUndo(im.undo)
}

// checkLayout checks that every segment whose bytes lie inside a PT_LOAD
// sits at the address that PT_LOAD maps them to. GNU strip and objcopy,
// run on a stamped file, move the program header table back to the front
// and shift the sections behind it in the file but not in memory
// (docs/stamping.md, "Limits"): the program is then broken, by them, and a
// new stamp cannot mend it. The loader must not run it and --check must
// fail, so for a stamped file this is an error, not a repairable damage.
// Our own PT_NOTE is left to findNote, whose damage is repairable.
//
// It asks inLoad and mapsFile of every segment, each a pass over the
// program headers: for a file with many, an index answers instead, so
// that the work stays O(n log n) (docs/note-format.md, "Hostile files").
func (im *image) checkLayout() error {
	inLoad, mapsFile := im.inLoad, im.mapsFile
	if len(im.progs) > smallProgs {
		ix := newLoadIndex(im.progs)
		inLoad, mapsFile = ix.inLoad, ix.mapsFile
	}
	for i, p := range im.progs {
		if p.Type == ptLoad || p.Type == ptNull || p.Filesz == 0 || !inLoad(p.Off, p.Filesz) {
			continue
		}
		if im.noteFound && i == im.note.Prog {
			continue
		}
		if mapsFile(p.Vaddr, p.Off, p.Filesz) {
			continue
		}
		off := int64(im.phoff) + int64(i*im.phentsize)
		if im.noteFound || im.staleSect != 0 {
			mk, todo := badNote, "rebuild it and stamp it as the last step"
			if im.noteFound && im.scan.embedOff != 0 {
				mk, todo = damagedStub, stubAdvice // and its start-up stub with it
			}
			return mk(off,
				"program header %d (%v, offset %#x) is not at the address %#x that its PT_LOAD maps it to: the file was rewritten after stamping (GNU strip and objcopy do this), which breaks the program; %s",
				i, p.Type, p.Off, p.Vaddr, todo)
		}
		return fmt.Errorf("%w: program header %d (%v, offset %#x) is not at the address %#x that its PT_LOAD maps it to; the file's layout is inconsistent, and stamping it could not be checked",
			ErrUnsupported, i, p.Type, p.Off, p.Vaddr)
	}
	return nil
}

// inLoad reports whether the file bytes [off, off+size) lie inside the file
// range of a PT_LOAD.
func (im *image) inLoad(off, size uint64) bool {
	for _, l := range im.progs {
		if l.Type == ptLoad && off >= l.Off && off-l.Off <= l.Filesz && size <= l.Filesz-(off-l.Off) {
			return true
		}
	}
	return false
}

// damaged records the first sign that a stamp was damaged by a later tool.
// Strict readers fail with it; the stamper repairs the stamp.
func (im *image) damaged(err error) {
	if im.damage == nil {
		im.damage = err
	}
}

// mapsFile reports whether a PT_LOAD maps the file bytes [off, off+size) at
// vaddr.
func (im *image) mapsFile(vaddr, off, size uint64) bool {
	for _, l := range im.progs {
		if l.Type != ptLoad || off < l.Off || off-l.Off > l.Filesz || size > l.Filesz-(off-l.Off) {
			continue
		}
		if l.Vaddr+(off-l.Off) == vaddr {
			return true
		}
	}
	return false
}
