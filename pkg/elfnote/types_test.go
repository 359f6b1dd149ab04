package elfnote

import (
	"debug/elf"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

func TestABIFor(t *testing.T) {
	tests := []struct {
		machine elf.Machine
		class   elf.Class
		want    bitmap.ABI
	}{
		{elf.EM_X86_64, elf.ELFCLASS64, bitmap.X86_64},
		{elf.EM_X86_64, elf.ELFCLASS32, bitmap.X32},
		{elf.EM_386, elf.ELFCLASS32, bitmap.I386},
		{elf.EM_AARCH64, elf.ELFCLASS64, bitmap.AARCH64},
		{elf.EM_ARM, elf.ELFCLASS32, bitmap.ARM},
		{elf.EM_386, elf.ELFCLASS64, bitmap.Unknown},
		{elf.EM_AARCH64, elf.ELFCLASS32, bitmap.Unknown},
		{elf.EM_S390, elf.ELFCLASS64, bitmap.Unknown},
		{elf.EM_RISCV, elf.ELFCLASS64, bitmap.Unknown},
		{elf.EM_X86_64, elf.ELFCLASSNONE, bitmap.Unknown},
	}
	for _, tt := range tests {
		if got := ABIFor(Machine(tt.machine), Class(tt.class)); got != tt.want {
			t.Errorf("ABIFor(%v, %v) = %v, want %v", tt.machine, tt.class, got, tt.want)
		}
	}
}

// TestConstantsMatchDebugELF checks the values declared in types.go
// against debug/elf's.
func TestConstantsMatchDebugELF(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"ELFCLASS32", uint64(ELFCLASS32), uint64(elf.ELFCLASS32)},
		{"ELFCLASS64", uint64(ELFCLASS64), uint64(elf.ELFCLASS64)},
		{"ELFDATA2LSB", uint64(ELFDATA2LSB), uint64(elf.ELFDATA2LSB)},
		{"ELFDATA2MSB", uint64(ELFDATA2MSB), uint64(elf.ELFDATA2MSB)},
		{"ET_EXEC", uint64(ET_EXEC), uint64(elf.ET_EXEC)},
		{"ET_DYN", uint64(ET_DYN), uint64(elf.ET_DYN)},
		{"EM_386", uint64(EM_386), uint64(elf.EM_386)},
		{"EM_ARM", uint64(EM_ARM), uint64(elf.EM_ARM)},
		{"EM_X86_64", uint64(EM_X86_64), uint64(elf.EM_X86_64)},
		{"EM_AARCH64", uint64(EM_AARCH64), uint64(elf.EM_AARCH64)},
		{"EM_PPC64", uint64(EM_PPC64), uint64(elf.EM_PPC64)},
		{"EM_LOONGARCH", uint64(EM_LOONGARCH), uint64(elf.EM_LOONGARCH)},
		{"magic", uint64(len(elfMagic)), uint64(len(elf.ELFMAG))},
		{"EI_CLASS", eiClass, elf.EI_CLASS},
		{"EI_DATA", eiData, elf.EI_DATA},
		{"EI_VERSION", eiVersion, elf.EI_VERSION},
		{"EI_NIDENT", eiNident, elf.EI_NIDENT},
		{"EV_CURRENT", evCurrent, uint64(elf.EV_CURRENT)},
		{"SHN_LORESERVE", shnLoreserve, uint64(elf.SHN_LORESERVE)},
		{"SHN_XINDEX", shnXindex, uint64(elf.SHN_XINDEX)},
		{"PT_NULL", uint64(ptNull), uint64(elf.PT_NULL)},
		{"PT_LOAD", uint64(ptLoad), uint64(elf.PT_LOAD)},
		{"PT_NOTE", uint64(ptNote), uint64(elf.PT_NOTE)},
		{"PT_PHDR", uint64(ptPhdr), uint64(elf.PT_PHDR)},
		{"PF_X", uint64(pfX), uint64(elf.PF_X)},
		{"PF_R", uint64(pfR), uint64(elf.PF_R)},
		{"SHT_NULL", uint64(shtNull), uint64(elf.SHT_NULL)},
		{"SHT_STRTAB", uint64(shtStrtab), uint64(elf.SHT_STRTAB)},
		{"SHT_NOTE", uint64(shtNote), uint64(elf.SHT_NOTE)},
		{"SHT_NOBITS", uint64(shtNobits), uint64(elf.SHT_NOBITS)},
		{"SHF_ALLOC", shfAlloc, uint64(elf.SHF_ALLOC)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, debug/elf has %#x", c.name, c.got, c.want)
		}
	}
	if elfMagic != elf.ELFMAG {
		t.Errorf("magic %q, debug/elf has %q", elfMagic, elf.ELFMAG)
	}
}

// TestNamesMatchDebugELF checks the generated name tables (zelfnames.go)
// against debug/elf: every value debug/elf names gets the same name here,
// and any other is printed as its number. Run go generate ./pkg/elfnote
// after a Go upgrade that adds names.
func TestNamesMatchDebugELF(t *testing.T) {
	type kind struct {
		name       string
		max        uint64                // every value up to max is checked
		extra      []elfName             // and these
		ours, want func(v uint64) string // ours and debug/elf's String
		hex        bool
	}
	kinds := []kind{
		{"Class", 0xff, nil, func(v uint64) string { return Class(v).String() }, func(v uint64) string { return elf.Class(v).String() }, false},
		{"Data", 0xff, nil, func(v uint64) string { return Data(v).String() }, func(v uint64) string { return elf.Data(v).String() }, false},
		{"Type", 0xffff, nil, func(v uint64) string { return Type(v).String() }, func(v uint64) string { return elf.Type(v).String() }, false},
		{"Machine", 0xffff, nil, func(v uint64) string { return Machine(v).String() }, func(v uint64) string { return elf.Machine(v).String() }, false},
		// 32-bit fields: the low values, and around every named one.
		{"ProgType", 0x1000, progTypeNames[:], func(v uint64) string { return progType(v).String() }, func(v uint64) string { return elf.ProgType(v).String() }, true},
		{"SectionType", 0x1000, sectTypeNames[:], func(v uint64) string { return sectType(v).String() }, func(v uint64) string { return elf.SectionType(v).String() }, true},
	}
	for _, k := range kinds {
		check := func(v uint64) {
			got, want := k.ours(v), k.want(v)
			if !isName(want) {
				// debug/elf prints an unnamed value as a number or as
				// "NAME+offset"; ours prints the number.
				want = strconv.FormatUint(v, 10)
				if k.hex {
					want = "0x" + strconv.FormatUint(v, 16)
				}
			}
			if got != want {
				t.Errorf("%s(%#x).String() = %q, want %q", k.name, v, got, want)
			}
		}
		for v := uint64(0); v <= k.max; v++ {
			check(v)
		}
		for _, e := range k.extra {
			for _, d := range []int64{-1, 0, 1} {
				if v := uint64(int64(e.v) + d); v <= 0xffffffff {
					check(v)
				}
			}
		}
	}
	// debug/elf's names of every type in the tables are all there: a
	// named value missing from a table would print as a number above,
	// but only if it is in the checked range; look at the 32-bit ones by
	// their known names.
	for _, v := range []elf.ProgType{elf.PT_GNU_STACK, elf.PT_GNU_RELRO, elf.PT_GNU_PROPERTY, elf.PT_GNU_EH_FRAME, elf.PT_TLS} {
		if got := progType(v).String(); got != v.String() {
			t.Errorf("progType(%#x) = %q, want %q", uint32(v), got, v.String())
		}
	}
	for _, v := range []elf.SectionType{elf.SHT_GNU_HASH, elf.SHT_GNU_VERSYM, elf.SHT_GNU_ATTRIBUTES} {
		if got := sectType(v).String(); got != v.String() {
			t.Errorf("sectType(%#x) = %q, want %q", uint32(v), got, v.String())
		}
	}
}

// isName reports whether s, a debug/elf String, is a name rather than a
// number or a name plus an offset.
func isName(s string) bool {
	if strings.Contains(s, "+") {
		return false
	}
	_, err := strconv.ParseUint(s, 0, 64)
	return err != nil
}

func ExampleMachine_String() {
	fmt.Println(EM_X86_64, EM_AARCH64, Machine(9999))
	// Output: EM_X86_64 EM_AARCH64 9999
}
