//go:build linux

package stub

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sysrestrict/sysrestrict/internal/stub/asm"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// These tests run the GNU assemblers and objdump (binutils for x86_64 and
// aarch64); CI installs them, so a missing tool fails the test.

func source(abi bitmap.ABI) string { return "stub_" + abi.String() + ".S" }

func assemble(t *testing.T, abi bitmap.ABI, defsyms map[string]uint64) *asm.Object {
	t.Helper()
	o, err := asm.Assemble(abi, source(abi), defsyms)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// sourceLabel returns the offset of label in abi's stub.
func sourceLabel(t *testing.T, abi bitmap.ABI, label string) int {
	t.Helper()
	off, ok := assemble(t, abi, nil).Symbols[label]
	if !ok {
		t.Fatalf("%s has no label %s", source(abi), label)
	}
	return off
}

// TestTemplateMatchesSource assembles each stub source again and checks
// that zstub.go holds exactly its bytes and offsets: nobody edits the
// bytes, and the generated file is not stale.
func TestTemplateMatchesSource(t *testing.T) {
	for _, abi := range stubABIs {
		t.Run(abi.String(), func(t *testing.T) {
			tmpl, _ := templateFor(abi)
			o := assemble(t, abi, nil)
			if !bytes.Equal(o.Text, tmpl.code) {
				t.Errorf("zstub.go's %v template differs from %s assembled: run go generate ./internal/stub\n%s",
					abi, source(abi), cmp.Diff(o.Text, tmpl.code))
			}
			enosys := -1
			if off, ok := o.Symbols["accept_enosys"]; ok {
				enosys = off
			}
			entry := o.Symbols["entry_rel"]
			if abi == bitmap.AARCH64 {
				entry = o.Symbols["entry_insns"]
			}
			got := [...]int{tmpl.filterLen, tmpl.entry, tmpl.acceptENOSYS, len(tmpl.code)}
			want := [...]int{o.Symbols["filter_len"], entry, enosys, o.Symbols["filter"]}
			if got != want {
				t.Errorf("zstub.go's offsets (filter_len, entry, accept_enosys, filter) = %#x, want %#x", got, want)
			}
		})
	}
}

// placeholders returns, per ABI, two sets of stand-in values and the
// placeholders' byte ranges in the template.
func placeholders(abi bitmap.ABI, tmpl *template) (a, b map[string]uint64, ranges [][2]int) {
	a = map[string]uint64{"FILTER_LEN": 0x0102030405060708}
	b = map[string]uint64{"FILTER_LEN": 0xf1f2f3f4f5f6f7f8}
	ranges = [][2]int{{tmpl.filterLen, tmpl.filterLen + 8}}
	switch abi {
	case bitmap.X86_64:
		a["ENTRY_REL"], b["ENTRY_REL"] = 0x11223344, 0x99aabbcc
		ranges = append(ranges, [2]int{tmpl.entry, tmpl.entry + 4})
	case bitmap.AARCH64:
		for i := range 3 {
			name := fmt.Sprint("ENTRY_INSN", i)
			a[name], b[name] = 0x11111111*uint64(i+1), 0x80808080+uint64(i)
		}
		ranges = append(ranges, [2]int{tmpl.entry, tmpl.entry + 12})
	}
	return a, b, ranges
}

// TestPlaceholders assembles each stub twice with different stand-in
// values: the two differ only within the placeholders Build writes, at
// the offsets Build writes them, and have the same labels (the template's
// shape does not depend on the values).
func TestPlaceholders(t *testing.T) {
	for _, abi := range stubABIs {
		t.Run(abi.String(), func(t *testing.T) {
			tmpl, _ := templateFor(abi)
			sa, sb, ranges := placeholders(abi, tmpl)
			a, b := assemble(t, abi, sa), assemble(t, abi, sb)
			if len(a.Text) != len(tmpl.code) || len(b.Text) != len(tmpl.code) {
				t.Fatalf("sizes with stand-ins %d, %d; template %d", len(a.Text), len(b.Text), len(tmpl.code))
			}
			for name, off := range a.Symbols {
				if b.Symbols[name] != off && !strings.HasPrefix(name, "ENTRY_") && name != "FILTER_LEN" {
					t.Errorf("label %s at %#x and %#x", name, off, b.Symbols[name])
				}
			}
			inPlaceholder := func(i int) bool {
				for _, r := range ranges {
					if i >= r[0] && i < r[1] {
						return true
					}
				}
				return false
			}
			for i := range tmpl.code {
				if !inPlaceholder(i) && (a.Text[i] != tmpl.code[i] || b.Text[i] != tmpl.code[i]) {
					t.Errorf("byte %#x outside the placeholders depends on them: %#x, %#x, template %#x", i, a.Text[i], b.Text[i], tmpl.code[i])
				}
			}
			// The stand-ins are where Build writes.
			for _, s := range []struct {
				o    *asm.Object
				vals map[string]uint64
			}{{a, sa}, {b, sb}} {
				if got := binary.LittleEndian.Uint64(s.o.Text[tmpl.filterLen:]); got != s.vals["FILTER_LEN"] {
					t.Errorf("filter length at %#x = %#x, want the stand-in %#x", tmpl.filterLen, got, s.vals["FILTER_LEN"])
				}
				if abi == bitmap.X86_64 {
					if got := binary.LittleEndian.Uint32(s.o.Text[tmpl.entry:]); uint64(got) != s.vals["ENTRY_REL"] {
						t.Errorf("entry rel32 at %#x = %#x, want the stand-in %#x", tmpl.entry, got, s.vals["ENTRY_REL"])
					}
					if s.o.Text[tmpl.entry-1] != 0xe9 {
						t.Errorf("byte before the entry rel32 = %#x, want 0xe9 (jmp rel32)", s.o.Text[tmpl.entry-1])
					}
					continue
				}
				for i := range 3 {
					got := binary.LittleEndian.Uint32(s.o.Text[tmpl.entry+4*i:])
					if want := s.vals[fmt.Sprint("ENTRY_INSN", i)]; uint64(got) != want {
						t.Errorf("entry instruction %d = %#x, want the stand-in %#x", i, got, want)
					}
				}
			}
		})
	}
}

// insn is one line of objdump's disassembly.
type insn struct {
	addr uint64
	text string // mnemonic and operands, tabs as objdump prints them
}

var objdumpLine = regexp.MustCompile(`^\s*([0-9a-f]+):\t[0-9a-f ]+\t(.*)$`)

// disassemble returns the code of payload, at stubAddr, up to the
// messages (label prefix).
func disassemble(t *testing.T, abi bitmap.ABI, payload []byte, stubAddr uint64) []insn {
	t.Helper()
	out, err := asm.Disassemble(abi, payload[:sourceLabel(t, abi, "prefix")], stubAddr)
	if err != nil {
		t.Fatal(err)
	}
	var insns []insn
	for _, line := range strings.Split(out, "\n") {
		if m := objdumpLine.FindStringSubmatch(line); m != nil {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			insns = append(insns, insn{a, strings.TrimSpace(m[2])})
		}
	}
	if len(insns) == 0 {
		t.Fatalf("no instructions in:\n%s", out)
	}
	return insns
}

// TestDisassembly reads each ABI's stub, built for a few layouts, as
// objdump decodes it: the landing pad first, four system calls (prctl,
// seccomp, writev, exit_group), every PC-relative reference inside the
// payload, the jump to the entry going where Build was asked; on aarch64,
// sp moved in steps of 16 and no instruction that sets NZCV.
func TestDisassembly(t *testing.T) {
	pcrel := map[bitmap.ABI]*regexp.Regexp{
		bitmap.X86_64:  regexp.MustCompile(`(?:\(%rip\)\s+# |^j[a-z]+\s+)(0x[0-9a-f]+)`),
		bitmap.AARCH64: regexp.MustCompile(`^(?:adr|ldr|b|b\.\w+|cbz|cbnz|tbz|tbnz)\t(?:[wx]\d+, )?(?:#\d+, )?(0x[0-9a-f]+)`),
	}
	flagSetters := regexp.MustCompile(`^(cmp|cmn|tst|adds|subs|ands|bics|negs|ngcs|adcs|sbcs|ccmp|ccmn|fcmp|fccmp|msr|setf8|setf16|rmif)\t`)
	for _, tt := range []struct {
		abi             bitmap.ABI
		stubAddr, entry uint64
	}{
		{bitmap.X86_64, 0x400000 + 0x200000, 0x401040},
		{bitmap.X86_64, 0x1000, 0x7ff01000},               // the entry above the stub
		{bitmap.AARCH64, 0x410000, 0x400800},              // b
		{bitmap.AARCH64, 0x410000 + 0x20000000, 0x40ab64}, // adrp, add, br
	} {
		t.Run(fmt.Sprintf("%v at %#x to %#x", tt.abi, tt.stubAddr, tt.entry), func(t *testing.T) {
			payload, err := Build(tt.abi, testFilter(t, tt.abi), tt.stubAddr, tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			insns := disassemble(t, tt.abi, payload, tt.stubAddr)
			end := tt.stubAddr + uint64(len(payload))
			tmpl, _ := templateFor(tt.abi)
			var listing strings.Builder
			syscalls := 0
			var jump []string // the jump to the entry, as decoded
			for _, in := range insns {
				fmt.Fprintf(&listing, "%#x\t%s\n", in.addr, in.text)
				if m := pcrel[tt.abi].FindStringSubmatch(in.text); m != nil {
					target, _ := strconv.ParseUint(m[1], 0, 64)
					isEntryJump := in.addr >= tt.stubAddr+uint64(tmpl.entry)-1 && in.addr < tt.stubAddr+uint64(tmpl.entry)+12
					if (target < tt.stubAddr || target >= end) && !isEntryJump {
						t.Errorf("%#x %s: refers to %#x, outside the payload %#x-%#x", in.addr, in.text, target, tt.stubAddr, end)
					}
				}
				switch tt.abi {
				case bitmap.X86_64:
					if in.text == "syscall" {
						syscalls++
					}
					if strings.HasPrefix(in.text, "movabs") {
						t.Errorf("%#x %s: an absolute address", in.addr, in.text)
					}
					if in.addr == tt.stubAddr+uint64(tmpl.entry)-1 {
						jump = append(jump, in.text)
					}
				case bitmap.AARCH64:
					if in.text == "svc\t#0x0" {
						syscalls++
					}
					if flagSetters.MatchString(in.text) {
						t.Errorf("%#x %s: sets NZCV, which the stub must keep", in.addr, in.text)
					}
					if m := regexp.MustCompile(`^(?:sub|add)\tsp, sp, #0x([0-9a-f]+)$`).FindStringSubmatch(in.text); m != nil {
						if n, _ := strconv.ParseUint(m[1], 16, 64); n%16 != 0 {
							t.Errorf("%#x %s: sp no longer 16-byte aligned", in.addr, in.text)
						}
					}
					if in.addr >= tt.stubAddr+uint64(tmpl.entry) && in.addr < tt.stubAddr+uint64(tmpl.entry)+12 {
						jump = append(jump, in.text)
					}
				}
			}
			pad := map[bitmap.ABI]string{bitmap.X86_64: "endbr64", bitmap.AARCH64: "bti\tjc"}[tt.abi]
			if insns[0].addr != tt.stubAddr || insns[0].text != pad {
				t.Errorf("first instruction %#x %q, want %q at %#x", insns[0].addr, insns[0].text, pad, tt.stubAddr)
			}
			if syscalls != 4 {
				t.Errorf("%d system calls, want 4 (prctl, seccomp, writev, exit_group)", syscalls)
			}
			var want []string
			switch {
			case tt.abi == bitmap.X86_64:
				want = []string{fmt.Sprintf("jmp    %#x", tt.entry)}
			case tt.entry+a64BReach > tt.stubAddr: // within b's reach
				want = []string{fmt.Sprintf("b\t%#x", tt.entry), "udf\t#0", "udf\t#0"}
			default:
				want = []string{fmt.Sprintf("adrp\tx16, %#x", tt.entry&^0xfff), fmt.Sprintf("add\tx16, x16, #%#x", tt.entry&0xfff), "br\tx16"}
			}
			if !slices.Equal(jump, want) {
				t.Errorf("jump to the entry %q, want %q\n%s", jump, want, listing.String())
			}
			if testing.Verbose() {
				t.Logf("%d instructions:\n%s", len(insns), listing.String())
			}
		})
	}
}
