package elfnote

import (
	"bytes"
	"encoding/hex"
	"io"
	"unicode/utf8"
)

// Identity says which program an ELF file is, apart from its sysrestrict
// stamp: a profile (pkg/profile) records it for every executable that made
// syscalls, and the stamper matches it against the file it stamps.
type Identity struct {
	// BuildID is the file's build ID as the linker wrote it into a note of
	// a PT_NOTE segment: "gnu:" and the hex bytes of NT_GNU_BUILD_ID
	// (owner "GNU", type 3), else "go:" and the Go build ID (owner "Go",
	// type 4, what `go tool buildid` prints). Empty when the file has
	// neither. Stamping never changes it.
	BuildID string

	// Size is the file's size before it was first stamped: the size the
	// note's NT_SYSRESTRICT_UNDO record gives, else the file's size (a
	// stamp without an undo record did not change the size). With the
	// path, it identifies a file that has no build ID.
	Size int64
}

// Note owners and types of build IDs: binutils' include/elf/common.h
// (NT_GNU_BUILD_ID) and the Go toolchain's cmd/internal/buildid
// (elfGoNote, owner "Go\x00\x00").
const (
	ntGNUBuildID = 3
	ntGoBuildID  = 4

	// maxBuildID bounds a build ID: GNU ld writes 8 to 20 bytes (up to
	// 32 with --build-id=sha256-like hashes), Go about 83.
	maxBuildID = 256
)

// ReadIdentity reads the identity of the ELF file r. The file's own
// sysrestrict note may be damaged or of a newer format, and other notes
// malformed: the identity is still read (a malformed note ends the search
// of its segment, as readelf stops there). It fails only when r is not an
// ELF file whose headers can be read (ErrNotELF, *FormatError).
func ReadIdentity(r io.ReaderAt) (Identity, error) {
	im, err := scan(r)
	if im == nil {
		return Identity{}, err
	}
	id := Identity{Size: im.size}
	if im.noteFound && im.scan.undoOff != 0 {
		if rec, err := decodeUndo(im.scan.undoDesc, im.scan.undoOff, im.bo); err == nil && rec.size <= uint64(im.size) {
			id.Size = int64(rec.size)
		}
	}
	id.BuildID = im.buildID()
	return id, nil
}

// buildID finds the build ID in the PT_NOTE segments and the SHT_NOTE
// sections (Go's linker puts its GNU build ID in a section no PT_NOTE
// covers), reading at most maxNoteBytes of each kind, as findNote does. A
// GNU build ID wins over a Go one (a Go program has both when its linker
// was told to write the GNU one, or linked externally).
func (im *image) buildID() string {
	var gnu, goID string
	found := func(name []byte, typ uint32, desc []byte) {
		switch {
		case gnu == "" && typ == ntGNUBuildID && string(name) == "GNU\x00" && len(desc) > 0 && len(desc) <= maxBuildID:
			gnu = "gnu:" + hex.EncodeToString(desc)
		case goID == "" && typ == ntGoBuildID && string(name) == "Go\x00\x00" && len(desc) > 0 && len(desc) <= maxBuildID && printable(desc):
			goID = "go:" + string(desc)
		}
	}
	walk := func(off, size, align uint64, total *uint64) {
		if size == 0 || off > uint64(im.size) || size > uint64(im.size)-off || size > maxNoteSeg {
			return
		}
		if *total += size; *total > maxNoteBytes {
			return
		}
		if b, err := im.bytesAt(size, off); err == nil {
			walkNotes(b, align, im.bo.Uint32, found)
		}
	}
	var segs, sects uint64
	for _, p := range im.progs {
		if p.Type == ptNote {
			walk(p.Off, p.Filesz, p.Align, &segs)
		}
	}
	for _, s := range im.sects {
		if s.Type == shtNote {
			walk(s.Off, s.Size, s.Addralign, &sects)
		}
	}
	if gnu != "" {
		return gnu
	}
	return goID
}

// walkNotes calls fn for every note of a note segment or section (the
// gABI's "Note Section": namesz, descsz, type, then the name and the
// descriptor, each padded to align: 4, or 8 for notes aligned to 8), up to
// the first that overruns it.
func walkNotes(seg []byte, align uint64, u32 func([]byte) uint32, fn func(name []byte, typ uint32, desc []byte)) {
	if align != 8 {
		align = 4
	}
	n := uint64(len(seg))
	for p := uint64(0); n-p >= nhdrSize; {
		namesz, descsz, typ := uint64(u32(seg[p:])), uint64(u32(seg[p+4:])), u32(seg[p+8:])
		nameOff := p + nhdrSize
		if namesz > n-nameOff {
			return
		}
		descOff := alignUp(nameOff+namesz, align)
		if descOff > n || descsz > n-descOff {
			return
		}
		fn(seg[nameOff:nameOff+namesz], typ, seg[descOff:descOff+descsz])
		p = min(alignUp(descOff+descsz, align), n)
	}
}

// printable reports whether b is UTF-8 text without control characters,
// as a Go build ID is: it is written into a profile as a string.
func printable(b []byte) bool {
	return utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
