package hostcap

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// i386Exit is the smallest i386 program that says it ran: exit(42) by
// int $0x80 (the i386 syscall convention: eax = nr, ebx = first argument;
// arch/x86/entry/syscalls/syscall_32.tbl gives exit = 1).
var i386Exit = []byte{
	0xb8, 0x01, 0x00, 0x00, 0x00, // mov $1, %eax   (exit)
	0xbb, 0x2a, 0x00, 0x00, 0x00, // mov $42, %ebx  (status)
	0xcd, 0x80, // int $0x80
}

// i386Status is the exit status of i386Exit.
const i386Status = 42

// minimalI386ELF returns an ET_EXEC ELFCLASS32 EM_386 file of one PT_LOAD
// that maps the whole file at 0x08048000 and runs code from just after the
// headers (System V ABI, Intel386 supplement: the classic base address).
// It needs no interpreter and no libraries, so only the kernel decides
// whether it runs.
func minimalI386ELF(code []byte) []byte {
	const base = 0x08048000
	hdrSize, phSize := binary.Size(elf.Header32{}), binary.Size(elf.Prog32{})
	off := uint32(hdrSize + phSize)
	size := off + uint32(len(code))
	h := elf.Header32{
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(elf.EM_386),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     base + off,
		Phoff:     uint32(hdrSize),
		Ehsize:    uint16(hdrSize),
		Phentsize: uint16(phSize),
		Phnum:     1,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS32)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	p := elf.Prog32{
		Type:   uint32(elf.PT_LOAD),
		Vaddr:  base,
		Paddr:  base,
		Filesz: size,
		Memsz:  size,
		Flags:  uint32(elf.PF_R | elf.PF_X),
		Align:  0x1000,
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, h)
	binary.Write(&b, binary.LittleEndian, p)
	b.Write(code)
	return b.Bytes()
}
