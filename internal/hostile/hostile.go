// Package hostile writes the hostile ELF files of issue 13 that bound the
// work of the note reader and the stamper: a header table far larger than
// the kernel accepts, and a huge sparse file that declares a section header
// table as large as itself. Tests (pkg/elfnote, internal/execcli) and the
// benchmark (internal/bench/hostile, in make bench) share them.
//
// The files are built by hand, not with pkg/elfnote, so that the reader's
// own tests can import this package.
package hostile

import (
	"encoding/binary"
	"os"
)

// Sizes of the ELF64 structures (System V gABI).
const (
	ehsize    = 64
	phentsize = 56
	shentsize = 64

	ptLoad = 1
	ptNote = 4
	ptLoos = 0x60000000 // an OS-specific type: no reader acts on it

	// Phnum is how many program headers Phdrs writes in the file.
	Phnum = 65000
)

var le = binary.LittleEndian

// header writes an x86_64 ET_EXEC ELF header into b.
func header(b []byte, phoff uint64, phnum int, shoff uint64, shnum, shstrndx int) {
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
	le.PutUint16(b[16:], 2)    // ET_EXEC
	le.PutUint16(b[18:], 62)   // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], 0x400000) // e_entry
	le.PutUint64(b[32:], phoff)
	le.PutUint64(b[40:], shoff)
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phentsize)
	le.PutUint16(b[56:], uint16(phnum))
	le.PutUint16(b[58:], shentsize)
	le.PutUint16(b[60:], uint16(shnum))
	le.PutUint16(b[62:], uint16(shstrndx))
}

func prog(b []byte, typ uint32, off, vaddr, size uint64) {
	le.PutUint32(b[0:], typ)
	le.PutUint32(b[4:], 4) // PF_R
	le.PutUint64(b[8:], off)
	le.PutUint64(b[16:], vaddr)
	le.PutUint64(b[24:], vaddr)
	le.PutUint64(b[32:], size)
	le.PutUint64(b[40:], size)
	align := uint64(0x1000)
	if typ == ptNote {
		align = 4
	}
	le.PutUint64(b[48:], align)
}

// note returns a sysrestrict note (SPEC section 1) that restricts execve
// (59): the bitmap note and a flags note of 0.
func note() []byte {
	b := make([]byte, 0, 116)
	b = le.AppendUint32(b, 12)
	b = le.AppendUint32(b, 64)
	b = le.AppendUint32(b, 1) // NT_SYSRESTRICT_BITMAP
	b = append(b, "SysRestrict\x00"...)
	bm := make([]byte, 64)
	bm[59/8] = 1 << (59 % 8)
	b = append(b, bm...)
	b = le.AppendUint32(b, 12)
	b = le.AppendUint32(b, 4)
	b = le.AppendUint32(b, 2) // NT_SYSRESTRICT_FLAGS
	b = append(b, "SysRestrict\x00"...)
	return le.AppendUint32(b, 0)
}

// Phdrs returns an x86_64 file with n program headers: a sysrestrict
// PT_NOTE first, n-2 small OS-specific segments inside the last, a PT_LOAD
// that maps the whole file. A reader that checks each segment against
// every PT_LOAD does n² steps on it; the kernel refuses any table larger
// than 64 KiB (fs/binfmt_elf.c, load_elf_phdrs).
func Phdrs(n int) []byte {
	tableEnd := ehsize + n*phentsize
	nt := note()
	b := make([]byte, tableEnd+len(nt))
	header(b, ehsize, n, 0, 0, 0)
	copy(b[tableEnd:], nt)
	const base = 0x400000
	size := uint64(len(b))
	prog(b[ehsize:], ptNote, uint64(tableEnd), base+uint64(tableEnd), uint64(len(nt)))
	for i := 1; i < n-1; i++ {
		prog(b[ehsize+i*phentsize:], ptLoos, uint64(tableEnd), base+uint64(tableEnd), 4)
	}
	prog(b[ehsize+(n-1)*phentsize:], ptLoad, 0, base, size)
	return b
}

// WritePhdrs writes Phdrs(n) to path.
func WritePhdrs(path string, n int) error {
	return os.WriteFile(path, Phdrs(n), 0o755)
}

// WriteSparse writes a sparse x86_64 file of size bytes (a few KiB on
// disk) whose section header table, with extended numbering (e_shnum 0:
// the count is section 0's sh_size), fills the file from 4 KiB to the end.
// A reader that reads and decodes the whole table needs twice the file's
// size in memory.
func WriteSparse(path string, size int64) error {
	const shoff = 4096
	b := make([]byte, shoff+shentsize)
	header(b, ehsize, 1, shoff, 0, 0)
	prog(b[ehsize:], ptLoad, 0, 0x400000, shoff)
	count := uint64(size-shoff) / shentsize
	le.PutUint64(b[shoff+32:], count) // section 0's sh_size
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Truncate(size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
