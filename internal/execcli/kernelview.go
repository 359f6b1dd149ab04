package execcli

import (
	"encoding/binary"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/enforce"
)

// elf64Phentsize is sizeof(Elf64_Phdr), and the offset of e_phentsize in
// an Elf64_Ehdr (System V gABI, "ELF Header").
const (
	elf64Phentsize    = 56
	elf64OffPhentsize = 54
)

// kernelReads fails unless this kernel would read PROGRAM's ELF header
// the way the note reader did, which went by e_ident: its class
// (ELFCLASS32 or 64) and data encoding (byte order).
//
// Linux does not look at those bytes. Its ELF loaders (fs/binfmt_elf.c,
// and the same code built for the 32-bit compat ABIs) each take a file by
// e_machine alone (elf_check_arch), read in the host's byte order, and
// parse the header in their own class: a 64-bit x86_64 program whose
// EI_CLASS is flipped to 1 still runs as x86_64, its note unchanged,
// while the reader, taking it for x32, finds none (seen on this host,
// kernel 6.18: such a file and one with EI_DATA flipped both run). So the
// loader refuses a file whose e_ident disagrees with how the kernel would
// load it, stamped or not: what the reader saw would not be what runs.
//
// A machine this kernel does not run itself (another architecture, left
// to an emulator or to nothing) is not checked here: a note on it is
// refused anyway (enforceable), and an unstamped one the kernel cannot
// read as a native program.
func kernelReads(p *Plan) error {
	f := p.ELF
	m := f.Machine
	if f.Data != elfnote.ELFDATA2LSB {
		// Every host sysrestrict enforces on is little-endian: read
		// e_machine as the kernel does.
		var b [2]byte
		if _, err := p.File.ReadAt(b[:], 18); err != nil {
			return failWith(ExitCannotRun, err, p.Path, ": reading e_machine: ", errText(err))
		}
		m = elfnote.Machine(binary.LittleEndian.Uint16(b[:]))
	}
	var class elfnote.Class // the class this kernel loads machine m in
	switch native := enforce.NativeABI(); {
	case native == bitmap.X86_64 && m == elfnote.EM_X86_64, native == bitmap.AARCH64 && m == elfnote.EM_AARCH64:
		class = elfnote.ELFCLASS64
	case native == bitmap.X86_64 && m == elfnote.EM_386, native == bitmap.AARCH64 && m == elfnote.EM_ARM:
		class = elfnote.ELFCLASS32
	default:
		return nil
	}
	switch {
	case f.Data != elfnote.ELFDATA2LSB || f.Machine != m:
	case f.Class == class:
		return nil
	case m == elfnote.EM_X86_64 && f.Class == elfnote.ELFCLASS32:
		// x32. The kernel tries its 64-bit loader first, and that takes
		// the file unless e_phentsize, read at its 64-bit offset, is not
		// sizeof(Elf64_Phdr) (load_elf_phdrs); only then can the x32
		// loader, where the kernel has one, run it. In a real x32
		// program those bytes are inside its program headers.
		var b [2]byte
		if _, err := p.File.ReadAt(b[:], elf64OffPhentsize); err != nil {
			return failWith(ExitCannotRun, err, p.Path, ": reading the ELF header: ", errText(err))
		}
		if binary.LittleEndian.Uint16(b[:]) != elf64Phentsize {
			return nil
		}
	}
	return fail(ExitCannotRun, p.Path, ": its ELF identification says ", f.Class.String(), ", ", f.Data.String(), ", ", f.Machine.String(),
		"; this kernel ignores those bytes and would load it as ", class.String(), ", ", elfnote.ELFDATA2LSB.String(), ", ", m.String(),
		", so the note that was read is not the program that would run; nothing was run")
}
