//go:build linux

package asm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// TestAssembleRefuses checks that Assemble takes only position-independent
// bytes: each source below would give a stub that is wrong once its bytes
// are copied out of the object file, and must be refused.
func TestAssembleRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		abi  bitmap.ABI
		src  string
		want string
	}{
		{"x86_64 reference to an undefined symbol", bitmap.X86_64, "lea elsewhere(%rip), %rax\n", "relocation section"},
		{"x86_64 label plus a constant in another section", bitmap.X86_64, "lea data+8(%rip), %rax\n.data\ndata: .quad 0\n", "relocation section"},
		{"x86_64 absolute address", bitmap.X86_64, "here: movabs $here, %rax\n", "relocation section"},
		{"x86_64 global label", bitmap.X86_64, ".globl start\nstart: nop\n", "not local"},
		{"x86_64 bytes in .data", bitmap.X86_64, "nop\n.data\n.byte 1\n", "everything must be in .text"},
		{"aarch64 adrp of an undefined symbol", bitmap.AARCH64, "adrp x0, elsewhere\n", "relocation section"},
		{"aarch64 literal pool address", bitmap.AARCH64, "here: ldr x0, =here\n", "relocation section"},
		{"assembler warning", bitmap.X86_64, ".byte 0x1ff\n", "warnings"},
		{"assembler error", bitmap.X86_64, "notaninstruction\n", "exit status"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src.S")
			if err := os.WriteFile(src, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			o, err := Assemble(tt.abi, src, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Assemble(%q) = %v, %v; want an error saying %q", tt.src, o, err, tt.want)
			}
		})
	}
}

// TestAssemble checks what Assemble returns for a small source: the bytes,
// its labels (not aarch64's mapping symbols), a --defsym value in them.
func TestAssemble(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src.S")
	if err := os.WriteFile(src, []byte("start:\n\tnop\nval:\n\t.long V\nend:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for abi, want := range map[bitmap.ABI]string{
		bitmap.X86_64:  "\x90\x44\x33\x22\x11",
		bitmap.AARCH64: "\x1f\x20\x03\xd5\x44\x33\x22\x11",
	} {
		o, err := Assemble(abi, src, map[string]uint64{"V": 0x11223344})
		if err != nil {
			t.Fatal(err)
		}
		if string(o.Text) != want {
			t.Errorf("%v: % x, want % x", abi, o.Text, want)
		}
		n := len(want) - 4
		wantSyms := map[string]int{"start": 0, "val": n, "end": n + 4}
		if len(o.Symbols) != len(wantSyms) {
			t.Errorf("%v: symbols %v, want %v", abi, o.Symbols, wantSyms)
		}
		for name, off := range wantSyms {
			if o.Symbols[name] != off {
				t.Errorf("%v: %s at %d, want %d (all: %v)", abi, name, o.Symbols[name], off, o.Symbols)
			}
		}
	}
	if _, err := Assemble(bitmap.ARM, src, nil); err == nil {
		t.Error("Assemble(arm) succeeded; there is no arm stub toolchain")
	}
}
