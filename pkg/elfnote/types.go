package elfnote

//go:generate go run ../../internal/gen/elfnames -o zelfnames.go

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Class, Data, Type and Machine are the ELF header fields EI_CLASS,
// EI_DATA, e_type and e_machine, with debug/elf's values and names: convert
// with elf.Machine(f.Machine) where debug/elf's type is wanted.
//
// They are declared here rather than taken from debug/elf so that
// sysrestrict-exec, which reads a note on every exec, does not link
// debug/elf: its imports (compress/flate, debug/dwarf, internal/zstd)
// initialise tables at every start, some 14 page faults (docs/exec.md).
// The names are generated from debug/elf (zelfnames.go).
type (
	Class   uint8
	Data    uint8
	Type    uint16
	Machine uint16
)

// The values sysrestrict looks at (System V gABI, "ELF Header").
const (
	ELFCLASS32 Class = 1
	ELFCLASS64 Class = 2

	ELFDATA2LSB Data = 1
	ELFDATA2MSB Data = 2

	ET_EXEC Type = 2
	ET_DYN  Type = 3

	EM_386       Machine = 3
	EM_ARM       Machine = 40
	EM_X86_64    Machine = 62
	EM_AARCH64   Machine = 183
	EM_PPC64     Machine = 21
	EM_LOONGARCH Machine = 258
)

// String returns debug/elf's name of c, such as ELFCLASS64, or its number.
func (c Class) String() string { return elfString(uint64(c), classNames[:], false) }

// String returns debug/elf's name of d, such as ELFDATA2LSB, or its number.
func (d Data) String() string { return elfString(uint64(d), dataNames[:], false) }

// String returns debug/elf's name of t, such as ET_DYN, or its number.
func (t Type) String() string { return elfString(uint64(t), typeNames[:], false) }

// String returns debug/elf's name of m, such as EM_X86_64, or its number.
func (m Machine) String() string { return elfString(uint64(m), machineNames[:], false) }

// ABIFor returns the syscall ABI of a binary with the given ELF header
// fields, or bitmap.Unknown when the pair is not in SPEC's table.
func ABIFor(machine Machine, class Class) bitmap.ABI {
	switch {
	case machine == EM_X86_64 && class == ELFCLASS64:
		return bitmap.X86_64
	case machine == EM_X86_64 && class == ELFCLASS32:
		return bitmap.X32
	case machine == EM_386 && class == ELFCLASS32:
		return bitmap.I386
	case machine == EM_AARCH64 && class == ELFCLASS64:
		return bitmap.AARCH64
	case machine == EM_ARM && class == ELFCLASS32:
		return bitmap.ARM
	}
	return bitmap.Unknown
}

// The identification bytes and header values Read checks (gABI, "ELF
// Identification").
const (
	elfMagic     = "\x7fELF"
	eiClass      = 4
	eiData       = 5
	eiVersion    = 6
	eiNident     = 16
	evCurrent    = 1
	shnLoreserve = 0xff00
	shnXindex    = 0xffff
)

// progType and progFlag are p_type and p_flags; sectType is sh_type.
type (
	progType uint32
	progFlag uint32
	sectType uint32
)

// String returns debug/elf's name of t, such as PT_NOTE, or its number in
// hexadecimal.
func (t progType) String() string { return elfString(uint64(t), progTypeNames[:], true) }

// String returns debug/elf's name of t, such as SHT_NOTE, or its number in
// hexadecimal.
func (t sectType) String() string { return elfString(uint64(t), sectTypeNames[:], true) }

// The program header and section values sysrestrict looks at (gABI,
// "Program Header" and "Sections").
const (
	ptNull progType = 0
	ptLoad progType = 1
	ptNote progType = 4
	ptPhdr progType = 6

	pfX progFlag = 0x1
	pfR progFlag = 0x4

	shtNull   sectType = 0
	shtStrtab sectType = 3
	shtNote   sectType = 7
	shtNobits sectType = 8

	shfAlloc = 0x2
)

// elfName is one entry of a generated name table.
type elfName struct {
	v    uint64
	name string
}

// elfString returns the name of v in names (sorted by value), or else v as
// a number.
func elfString(v uint64, names []elfName, hex bool) string {
	if i, ok := slices.BinarySearchFunc(names, v, func(n elfName, v uint64) int { return cmp.Compare(n.v, v) }); ok {
		return names[i].name
	}
	if hex {
		return "0x" + strconv.FormatUint(v, 16)
	}
	return strconv.FormatUint(v, 10)
}
