package elfnote

import (
	"bytes"
	"encoding/binary"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// The note types of SPEC section 1; docs/note-format.md draws the layout.
const (
	NT_SYSRESTRICT_BITMAP = 1 // desc: bitmap.Bytes bytes, bit n = byte n/8, mask 1<<(n%8)
	NT_SYSRESTRICT_FLAGS  = 2 // desc: uint32 in the file's byte order
	NT_SYSRESTRICT_EMBED  = 3 // desc: where the start-up stub is (embed.go), 48 bytes
	NT_SYSRESTRICT_UNDO   = 4 // desc: what Remove restores (undo.go)
	NT_SYSRESTRICT_ACTION = 5 // desc: the default action and per-syscall overrides (actions.go)
)

// FlagEmbedded is bit 1 of NT_SYSRESTRICT_FLAGS, EMBEDDED: the binary
// installs its filter itself at start-up (SPEC section 5). It is set
// exactly when an NT_SYSRESTRICT_EMBED note is present. It is a property
// of the file, not of the restriction set, so pkg/bitmap does not know it:
// the reader takes it out before decoding the set.
const FlagEmbedded uint32 = 1 << 1

// knownFlags is every NT_SYSRESTRICT_FLAGS bit this reader understands.
const knownFlags = bitmap.KnownFlags | FlagEmbedded

// Owner is the note owner name, without its terminating NUL.
const Owner = "SysRestrict"

// Section is the name of the section that covers the note.
const Section = ".note.sysrestrict"

var ownerName = []byte(Owner + "\x00") // namesz 12: already a multiple of 4

const (
	nhdrSize     = 12 // Elf32_Nhdr and Elf64_Nhdr alike: namesz, descsz, type
	bitmapNoteSz = nhdrSize + 12 + bitmap.Bytes
	flagsNoteSz  = nhdrSize + 12 + 4

	// noteSize is the size of the bitmap note and the flags note. Stamp
	// always writes both, so that a later change of DENY_BEYOND can be
	// written in place, followed by the undo note when it changes the
	// layout. A note stamped before the undo record existed is exactly
	// noteSize bytes (legacy.go).
	noteSize = bitmapNoteSz + flagsNoteSz

	// maxNoteSeg bounds how much of one PT_NOTE the reader looks at.
	maxNoteSeg = 1 << 20
)

// actionNoteSize returns the size of the NT_SYSRESTRICT_ACTION note with
// descriptor act: 0 for none.
func actionNoteSize(act []byte) uint64 {
	if act == nil {
		return 0
	}
	return nhdrSize + uint64(len(ownerName)) + uint64(len(act))
}

// encodeNote returns the note bytes for s in byte order bo, followed by an
// NT_SYSRESTRICT_ACTION note with descriptor act unless act is nil, by an
// NT_SYSRESTRICT_EMBED note with descriptor embed unless embed is nil (and
// then with EMBEDDED in the flags), and by an NT_SYSRESTRICT_UNDO note
// with descriptor undo unless undo is nil (the undo record stays last).
func encodeNote(bo binary.ByteOrder, s bitmap.Set, embed, act, undo []byte) []byte {
	b := make([]byte, noteSize, noteSize+3*(nhdrSize+len(ownerName))+len(embed)+len(act)+len(undo))
	bo.PutUint32(b[0:], uint32(len(ownerName)))
	bo.PutUint32(b[4:], bitmap.Bytes)
	bo.PutUint32(b[8:], NT_SYSRESTRICT_BITMAP)
	copy(b[12:], ownerName)
	bm := s.Bitmap()
	copy(b[24:], bm[:])
	f := b[bitmapNoteSz:]
	bo.PutUint32(f[0:], uint32(len(ownerName)))
	bo.PutUint32(f[4:], 4)
	bo.PutUint32(f[8:], NT_SYSRESTRICT_FLAGS)
	copy(f[12:], ownerName)
	flags := s.Flags()
	if embed != nil {
		flags |= FlagEmbedded
	}
	bo.PutUint32(f[24:], flags)
	for _, n := range []struct {
		typ  uint32
		desc []byte
	}{{NT_SYSRESTRICT_ACTION, act}, {NT_SYSRESTRICT_EMBED, embed}, {NT_SYSRESTRICT_UNDO, undo}} {
		if n.desc == nil {
			continue
		}
		h := make([]byte, nhdrSize)
		bo.PutUint32(h[0:], uint32(len(ownerName)))
		bo.PutUint32(h[4:], uint32(len(n.desc)))
		bo.PutUint32(h[8:], n.typ)
		b = append(b, h...)
		b = append(b, ownerName...)
		b = append(b, n.desc...)
	}
	return b
}

// noteScan is what scanNotes found in one note segment.
type noteScan struct {
	ours      int   // notes with owner SysRestrict
	others    int   // notes with any other owner
	bitmapOff int64 // file offset of the bitmap descriptor, or 0
	flagsOff  int64 // file offset of the flags descriptor, or 0
	bitmap    []byte
	flags     uint32
	undoDesc  []byte // the NT_SYSRESTRICT_UNDO descriptor, undecoded (image.verifyUndo)
	undoOff   int64  // its file offset, or 0
	embed     Embed  // the NT_SYSRESTRICT_EMBED record, decoded
	embedOff  int64  // its file offset, or 0
	actDesc   []byte // the NT_SYSRESTRICT_ACTION descriptor, undecoded (image.file decodes it against the bitmap)
	actOff    int64  // its file offset, or 0
	start     int64  // file offset of the first SysRestrict note
	end       int64  // file offset just past the last one
}

// scanNotes walks the notes of a PT_NOTE segment seg that starts at file
// offset base, per the gABI's "Note Section": each entry is namesz, descsz,
// type, then the name and the descriptor, each padded to align (4, or 8 for
// segments aligned to 8, as GNU property notes are).
func scanNotes(seg []byte, base int64, align uint64, bo binary.ByteOrder) (noteScan, error) {
	var ns noteScan
	if align != 8 {
		align = 4
	}
	for p := uint64(0); p < uint64(len(seg)); {
		off := base + int64(p)
		if uint64(len(seg))-p < nhdrSize {
			return ns, formatErr(off, "truncated note header")
		}
		namesz := uint64(bo.Uint32(seg[p:]))
		descsz := uint64(bo.Uint32(seg[p+4:]))
		typ := bo.Uint32(seg[p+8:])
		if namesz > uint64(len(seg)) || descsz > uint64(len(seg)) || p+nhdrSize+namesz > uint64(len(seg)) {
			if bytes.HasPrefix(seg[p+nhdrSize:], []byte(Owner)) {
				return ns, badNote(off, "SysRestrict note (namesz %d, descsz %d) overruns its segment", namesz, descsz)
			}
			return ns, formatErr(off, "note (namesz %d, descsz %d) overruns its segment", namesz, descsz)
		}
		// Offsets are relative to the segment, whose start is aligned.
		nameOff := p + nhdrSize
		descOff := alignUp(nameOff+namesz, align)
		end := alignUp(descOff+descsz, align)
		if end > uint64(len(seg)) {
			// Tolerate a missing pad after the last descriptor.
			if descOff+descsz != uint64(len(seg)) {
				if bytes.HasPrefix(seg[nameOff:nameOff+namesz], []byte(Owner)) {
					return ns, badNote(off, "SysRestrict note (namesz %d, descsz %d) overruns its segment", namesz, descsz)
				}
				return ns, formatErr(off, "note (namesz %d, descsz %d) overruns its segment", namesz, descsz)
			}
			end = uint64(len(seg))
		}
		name := seg[nameOff : nameOff+namesz]
		p = end
		if !bytes.HasPrefix(name, []byte(Owner)) {
			ns.others++
			continue
		}
		if !bytes.Equal(name, ownerName) {
			return ns, badNote(off, "note owner %q (namesz %d) is not %q with its NUL (namesz %d)", name, namesz, Owner, len(ownerName))
		}
		if ns.ours == 0 {
			ns.start = off
		} else if ns.end != off {
			return ns, badNote(off, "SysRestrict notes separated by other notes")
		}
		ns.end = base + int64(end)
		ns.ours++
		desc := seg[descOff : descOff+descsz]
		dOff := base + int64(descOff)
		switch typ {
		case NT_SYSRESTRICT_BITMAP:
			if ns.bitmapOff != 0 {
				return ns, badNote(off, "two NT_SYSRESTRICT_BITMAP notes")
			}
			if descsz != bitmap.Bytes {
				return ns, badNote(off, "NT_SYSRESTRICT_BITMAP has %d bytes, want %d", descsz, bitmap.Bytes)
			}
			ns.bitmapOff, ns.bitmap = dOff, desc
		case NT_SYSRESTRICT_FLAGS:
			if ns.flagsOff != 0 {
				return ns, badNote(off, "two NT_SYSRESTRICT_FLAGS notes")
			}
			if descsz != 4 {
				return ns, badNote(off, "NT_SYSRESTRICT_FLAGS has %d bytes, want 4", descsz)
			}
			ns.flagsOff, ns.flags = dOff, bo.Uint32(desc)
			if unknown := ns.flags &^ knownFlags; unknown != 0 {
				return ns, badNote(dOff, "unknown flag bits %#x (this sysrestrict knows %#x); a newer sysrestrict stamped this file", unknown, knownFlags)
			}
		case NT_SYSRESTRICT_EMBED:
			if ns.embedOff != 0 {
				return ns, badNote(off, "two NT_SYSRESTRICT_EMBED notes")
			}
			e, err := decodeEmbed(desc, dOff, bo)
			if err != nil {
				return ns, err
			}
			ns.embed, ns.embedOff = e, dOff
		case NT_SYSRESTRICT_UNDO:
			if ns.undoOff != 0 {
				return ns, badNote(off, "two NT_SYSRESTRICT_UNDO notes")
			}
			// Decoded and checked by verifyUndo, for every reader but the
			// loader's (ReadRestrictions): only Remove replays it.
			if len(desc) == 0 {
				return ns, badNote(dOff, "NT_SYSRESTRICT_UNDO is empty")
			}
			ns.undoDesc, ns.undoOff = desc, dOff
		case NT_SYSRESTRICT_ACTION:
			if ns.actOff != 0 {
				return ns, badNote(off, "two NT_SYSRESTRICT_ACTION notes")
			}
			// Decoded by image.file, once the bitmap it refers to is
			// known: the notes may come in any order.
			ns.actDesc, ns.actOff = desc, dOff
		default:
			return ns, badNote(off, "reserved note type %d with owner %s; a newer sysrestrict stamped this file", typ, Owner)
		}
	}
	if ns.ours > 0 && (ns.flags&FlagEmbedded != 0) != (ns.embedOff != 0) {
		if ns.embedOff != 0 {
			return ns, badNote(ns.embedOff, "NT_SYSRESTRICT_EMBED note without the EMBEDDED flag")
		}
		return ns, badNote(ns.flagsOff, "EMBEDDED flag without an NT_SYSRESTRICT_EMBED note")
	}
	return ns, nil
}
