package elfnote

import (
	"encoding/binary"
)

// The header layouts below follow the System V gABI, "ELF Header",
// "Program Header" and "Sections" (Elf32_* and Elf64_* structures); the
// field offsets are those of elf.Header64/Prog64/Section64 and their
// 32-bit counterparts in debug/elf.

// layout holds the sizes and field offsets of one ELF class.
type layout struct {
	ehsize, phentsize, shentsize int
	offEntry, offPhoff, offShoff int // e_entry, e_phoff, e_shoff
	offPhnum, offShnum           int // e_phnum, e_shnum
	word                         int // 4 or 8: address size and table alignment
}

var (
	layout32 = layout{ehsize: 52, phentsize: 32, shentsize: 40, offEntry: 24, offPhoff: 28, offShoff: 32, offPhnum: 44, offShnum: 48, word: 4}
	layout64 = layout{ehsize: 64, phentsize: 56, shentsize: 64, offEntry: 24, offPhoff: 32, offShoff: 40, offPhnum: 56, offShnum: 60, word: 8}
)

// prog is one program header, in the class-independent form.
type prog struct {
	Type   progType
	Flags  progFlag
	Off    uint64
	Vaddr  uint64
	Paddr  uint64
	Filesz uint64
	Memsz  uint64
	Align  uint64
}

// sect is one section header, in the class-independent form.
type sect struct {
	Name      uint32
	Type      sectType
	Flags     uint64 // sh_flags: 32 bits in ELF32, 64 in ELF64
	Addr      uint64
	Off       uint64
	Size      uint64
	Link      uint32
	Info      uint32
	Addralign uint64
	Entsize   uint64
}

// fileEnd returns the end of the section's bytes in the file, or its
// offset for sections that occupy none.
func (s *sect) fileEnd() uint64 {
	if s.Type == shtNobits || s.Type == shtNull {
		return s.Off
	}
	return s.Off + s.Size
}

// codec encodes and decodes headers in one class and byte order.
type codec struct {
	layout
	class Class
	bo    binary.ByteOrder
}

func (c *codec) decodeProg(b []byte) prog {
	bo := c.bo
	if c.class == ELFCLASS64 {
		return prog{
			Type:   progType(bo.Uint32(b[0:])),
			Flags:  progFlag(bo.Uint32(b[4:])),
			Off:    bo.Uint64(b[8:]),
			Vaddr:  bo.Uint64(b[16:]),
			Paddr:  bo.Uint64(b[24:]),
			Filesz: bo.Uint64(b[32:]),
			Memsz:  bo.Uint64(b[40:]),
			Align:  bo.Uint64(b[48:]),
		}
	}
	return prog{
		Type:   progType(bo.Uint32(b[0:])),
		Off:    uint64(bo.Uint32(b[4:])),
		Vaddr:  uint64(bo.Uint32(b[8:])),
		Paddr:  uint64(bo.Uint32(b[12:])),
		Filesz: uint64(bo.Uint32(b[16:])),
		Memsz:  uint64(bo.Uint32(b[20:])),
		Flags:  progFlag(bo.Uint32(b[24:])),
		Align:  uint64(bo.Uint32(b[28:])),
	}
}

func (c *codec) encodeProg(b []byte, p prog) {
	bo := c.bo
	if c.class == ELFCLASS64 {
		bo.PutUint32(b[0:], uint32(p.Type))
		bo.PutUint32(b[4:], uint32(p.Flags))
		bo.PutUint64(b[8:], p.Off)
		bo.PutUint64(b[16:], p.Vaddr)
		bo.PutUint64(b[24:], p.Paddr)
		bo.PutUint64(b[32:], p.Filesz)
		bo.PutUint64(b[40:], p.Memsz)
		bo.PutUint64(b[48:], p.Align)
		return
	}
	bo.PutUint32(b[0:], uint32(p.Type))
	bo.PutUint32(b[4:], uint32(p.Off))
	bo.PutUint32(b[8:], uint32(p.Vaddr))
	bo.PutUint32(b[12:], uint32(p.Paddr))
	bo.PutUint32(b[16:], uint32(p.Filesz))
	bo.PutUint32(b[20:], uint32(p.Memsz))
	bo.PutUint32(b[24:], uint32(p.Flags))
	bo.PutUint32(b[28:], uint32(p.Align))
}

func (c *codec) decodeSect(b []byte) sect {
	bo := c.bo
	if c.class == ELFCLASS64 {
		return sect{
			Name:      bo.Uint32(b[0:]),
			Type:      sectType(bo.Uint32(b[4:])),
			Flags:     bo.Uint64(b[8:]),
			Addr:      bo.Uint64(b[16:]),
			Off:       bo.Uint64(b[24:]),
			Size:      bo.Uint64(b[32:]),
			Link:      bo.Uint32(b[40:]),
			Info:      bo.Uint32(b[44:]),
			Addralign: bo.Uint64(b[48:]),
			Entsize:   bo.Uint64(b[56:]),
		}
	}
	return sect{
		Name:      bo.Uint32(b[0:]),
		Type:      sectType(bo.Uint32(b[4:])),
		Flags:     uint64(bo.Uint32(b[8:])),
		Addr:      uint64(bo.Uint32(b[12:])),
		Off:       uint64(bo.Uint32(b[16:])),
		Size:      uint64(bo.Uint32(b[20:])),
		Link:      bo.Uint32(b[24:]),
		Info:      bo.Uint32(b[28:]),
		Addralign: uint64(bo.Uint32(b[32:])),
		Entsize:   uint64(bo.Uint32(b[36:])),
	}
}

func (c *codec) encodeSect(b []byte, s sect) {
	bo := c.bo
	if c.class == ELFCLASS64 {
		bo.PutUint32(b[0:], s.Name)
		bo.PutUint32(b[4:], uint32(s.Type))
		bo.PutUint64(b[8:], s.Flags)
		bo.PutUint64(b[16:], s.Addr)
		bo.PutUint64(b[24:], s.Off)
		bo.PutUint64(b[32:], s.Size)
		bo.PutUint32(b[40:], s.Link)
		bo.PutUint32(b[44:], s.Info)
		bo.PutUint64(b[48:], s.Addralign)
		bo.PutUint64(b[56:], s.Entsize)
		return
	}
	bo.PutUint32(b[0:], s.Name)
	bo.PutUint32(b[4:], uint32(s.Type))
	bo.PutUint32(b[8:], uint32(s.Flags))
	bo.PutUint32(b[12:], uint32(s.Addr))
	bo.PutUint32(b[16:], uint32(s.Off))
	bo.PutUint32(b[20:], uint32(s.Size))
	bo.PutUint32(b[24:], s.Link)
	bo.PutUint32(b[28:], s.Info)
	bo.PutUint32(b[32:], uint32(s.Addralign))
	bo.PutUint32(b[36:], uint32(s.Entsize))
}

// putWord encodes an address-sized field (e_entry, e_phoff, e_shoff).
func (c *codec) putWord(b []byte, v uint64) {
	if c.class == ELFCLASS64 {
		c.bo.PutUint64(b, v)
	} else {
		c.bo.PutUint32(b, uint32(v))
	}
}

// getWord decodes an address-sized field.
func (c *codec) getWord(b []byte) uint64 {
	if c.class == ELFCLASS64 {
		return c.bo.Uint64(b)
	}
	return uint64(c.bo.Uint32(b))
}

func (c *codec) putHalf(b []byte, v uint16) { c.bo.PutUint16(b, v) }

// alignUp rounds v up to a multiple of a (a power of two, or 0 or 1).
func alignUp(v, a uint64) uint64 {
	if a <= 1 {
		return v
	}
	return (v + a - 1) &^ (a - 1)
}
