// Package asm runs the GNU assembler on a start-up stub's source and returns
// the bytes and labels it made: what internal/gen/stub writes into
// internal/stub/zstub.go, and what internal/stub's tests compare with it.
//
// It takes the assembler's object file as it is and reads its .text with
// debug/elf rather than with `objcopy -O binary`, which silently drops
// relocations: an object with any relocation, any undefined symbol or
// contents in a section other than .text is refused, so the bytes are
// position-independent as they stand.
//
// It needs GNU binutils for the target: x86_64-linux-gnu-as and
// x86_64-linux-gnu-objdump (Debian: binutils-x86-64-linux-gnu),
// aarch64-linux-gnu-as and aarch64-linux-gnu-objdump
// (binutils-aarch64-linux-gnu). It is used only by generators and tests:
// nothing a sysrestrict command links.
package asm

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// A Toolchain names the binutils programs of one ABI.
type Toolchain struct {
	AS      string   // the assembler
	ASFlags []string // flags it always gets
	Objdump string   // the disassembler
	Arch    string   // objdump -m for raw binary input
	Machine elf.Machine
}

// For returns the toolchain of abi, or an error for an ABI without a stub.
func For(abi bitmap.ABI) (Toolchain, error) {
	switch abi {
	case bitmap.X86_64:
		return Toolchain{"x86_64-linux-gnu-as", []string{"--64"}, "x86_64-linux-gnu-objdump", "i386:x86-64", elf.EM_X86_64}, nil
	case bitmap.AARCH64:
		return Toolchain{"aarch64-linux-gnu-as", nil, "aarch64-linux-gnu-objdump", "aarch64", elf.EM_AARCH64}, nil
	}
	return Toolchain{}, fmt.Errorf("no stub toolchain for ABI %v", abi)
}

// An Object is an assembled source: its .text and the offsets of its labels.
type Object struct {
	Text    []byte
	Symbols map[string]int // label → offset in Text; mapping symbols ($x, $d) left out
}

// Assemble assembles the file src for abi, defining each of defsyms with
// --defsym, and returns its .text and labels.
func Assemble(abi bitmap.ABI, src string, defsyms map[string]uint64) (*Object, error) {
	tc, err := For(abi)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sysrestrict-asm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	obj := filepath.Join(dir, "out.o")
	args := slices.Clone(tc.ASFlags)
	names := make([]string, 0, len(defsyms))
	for name := range defsyms {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		args = append(args, "--defsym", fmt.Sprintf("%s=%#x", name, defsyms[name]))
	}
	args = append(args, "-o", obj, src)
	cmd := exec.Command(tc.AS, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", tc.AS, strings.Join(args, " "), err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		return nil, fmt.Errorf("%s %s: warnings:\n%s", tc.AS, src, stderr.Bytes())
	}
	return read(obj, tc.Machine)
}

// read returns the .text and labels of the object file name, refusing
// anything that would not be position-independent bytes.
func read(name string, machine elf.Machine) (*Object, error) {
	f, err := elf.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Type != elf.ET_REL || f.Machine != machine {
		return nil, fmt.Errorf("%s: %v %v %v %v, want a little-endian 64-bit %v object", name, f.Class, f.Data, f.Type, f.Machine, machine)
	}
	var text *elf.Section
	for _, s := range f.Sections {
		switch {
		case s.Type == elf.SHT_REL || s.Type == elf.SHT_RELA:
			return nil, fmt.Errorf("%s: relocation section %s: the stub must be position-independent", name, s.Name)
		case s.Name == ".text":
			text = s
		case s.Flags&elf.SHF_ALLOC != 0 && s.Size != 0:
			return nil, fmt.Errorf("%s: section %s has %d bytes: everything must be in .text", name, s.Name, s.Size)
		}
	}
	if text == nil {
		return nil, fmt.Errorf("%s: no .text", name)
	}
	b, err := text.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: reading .text: %w", name, err)
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s: reading symbols: %w", name, err)
	}
	o := &Object{Text: b, Symbols: map[string]int{}}
	for _, s := range syms {
		switch {
		case s.Section == elf.SHN_UNDEF && s.Name != "":
			return nil, fmt.Errorf("%s: undefined symbol %s", name, s.Name)
		case elf.ST_BIND(s.Info) != elf.STB_LOCAL:
			return nil, fmt.Errorf("%s: symbol %s is not local: a global label can be preempted and gets a relocation", name, s.Name)
		case int(s.Section) >= len(f.Sections) || f.Sections[s.Section] != text:
			continue // absolute (the --defsym values), section symbols of empty sections
		case elf.ST_TYPE(s.Info) == elf.STT_SECTION || strings.HasPrefix(s.Name, "$"):
			continue // the section itself; aarch64 mapping symbols
		}
		if s.Value > uint64(len(b)) {
			return nil, fmt.Errorf("%s: label %s at %#x, past .text's %d bytes", name, s.Name, s.Value, len(b))
		}
		o.Symbols[s.Name] = int(s.Value)
	}
	return o, nil
}

// Disassemble returns objdump's disassembly of code, raw bytes of abi's
// machine, as if loaded at vma: one instruction a line, as
// "   addr:\tbytes \tmnemonic operands".
func Disassemble(abi bitmap.ABI, code []byte, vma uint64) (string, error) {
	tc, err := For(abi)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "sysrestrict-disasm-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(code); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	args := []string{"-D", "-z", "-b", "binary", "-m", tc.Arch, fmt.Sprintf("--adjust-vma=%#x", vma), f.Name()}
	out, err := exec.Command(tc.Objdump, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", tc.Objdump, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
