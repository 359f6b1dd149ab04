package bitmap

import (
	"debug/elf"
	"testing"
)

func TestABIFromELF(t *testing.T) {
	tests := []struct {
		machine elf.Machine
		class   elf.Class
		want    ABI
	}{
		{elf.EM_X86_64, elf.ELFCLASS64, X86_64},
		{elf.EM_X86_64, elf.ELFCLASS32, X32},
		{elf.EM_386, elf.ELFCLASS32, I386},
		{elf.EM_AARCH64, elf.ELFCLASS64, AARCH64},
		{elf.EM_ARM, elf.ELFCLASS32, ARM},
		{elf.EM_386, elf.ELFCLASS64, Unknown},
		{elf.EM_S390, elf.ELFCLASS64, Unknown},
		{elf.EM_RISCV, elf.ELFCLASS64, Unknown},
	}
	for _, tt := range tests {
		if got := ABIFromELF(tt.machine, tt.class); got != tt.want {
			t.Errorf("ABIFromELF(%v, %v) = %v, want %v", tt.machine, tt.class, got, tt.want)
		}
	}
}

func TestParseABI(t *testing.T) {
	for _, abi := range ABIs {
		got, err := ParseABI(abi.String())
		if err != nil || got != abi {
			t.Errorf("ParseABI(%q) = %v, %v, want %v", abi.String(), got, err, abi)
		}
	}
	for alias, want := range map[string]ABI{"amd64": X86_64, "arm64": AARCH64, "386": I386, "armhf": ARM, "X86_64": X86_64} {
		if got, err := ParseABI(alias); err != nil || got != want {
			t.Errorf("ParseABI(%q) = %v, %v, want %v", alias, got, err, want)
		}
	}
	if _, err := ParseABI("s390x"); err == nil {
		t.Errorf("ParseABI(%q) = nil error, want an error", "s390x")
	}
}
