package stub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"golang.org/x/net/bpf"
)

// stubABIs are the ABIs with a stub (SPEC section 5).
var stubABIs = []bitmap.ABI{bitmap.X86_64, bitmap.AARCH64}

// testSet restricts ptrace and kexec_load, SPEC's example.
func testSet(abi bitmap.ABI) bitmap.Set {
	set := bitmap.NewSet(abi)
	for _, name := range []string{"ptrace", "kexec_load"} {
		for _, nr := range abi.Lookup(name) {
			set.Add(nr)
		}
	}
	return set
}

// testFilter is the filter the loader's compiler makes of testSet, with
// no exec gate: what the stamper embeds.
func testFilter(t testing.TB, abi bitmap.ABI) []bpf.RawInstruction {
	t.Helper()
	f, err := filter.Build(testSet(abi), filter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f.Instructions()
}

// x86JmpEnd is the offset in the x86_64 stub of the end of its jump to
// the entry, where the jump's rel32 counts from.
var x86JmpEnd = uint64(templateX86_64.entry) + 4

// layouts are stub addresses and entries of the kinds the stamper makes
// (the stub above every segment, a PIE's small addresses) and the edges of
// each ABI's jump.
var layouts = map[bitmap.ABI][]struct{ stubAddr, entry uint64 }{
	bitmap.X86_64: {
		{0x600000, 0x401040},                      // static non-PIE
		{0x5000, 0x1060},                          // PIE, before its load bias
		{0x1000, 0x7ff01000},                      // the entry far above
		{0x80000000, x86JmpEnd},                   // 2 GiB below the jmp's end: the farthest back
		{0x1000, 0x1000 + x86JmpEnd + 0x7fffffff}, // the farthest forward
	},
	bitmap.AARCH64: {
		{0x410000, 0x400800},                    // b
		{0x400000 + a64BReach - 0x80, 0x400000}, // b, at its reach back
		{0x8000000 + 0x80, 0x80 + 0x40000},      // b
		{0x410000 + 0x8000000, 0x400800},        // adrp, add, br
		{0x1000, 0xf0000ffc},                    // adrp forward
		{0xf0001000, 0x1000},                    // adrp back
	},
}

// TestBuildParse builds payloads for every layout and a few filters and
// checks their size and that Parse gives back the filter and entry.
func TestBuildParse(t *testing.T) {
	for _, abi := range stubABIs {
		longest := make([]bpf.RawInstruction, MaxFilter)
		for i := range longest {
			longest[i] = bpf.RawInstruction{Op: 0x06, K: uint32(i)}
		}
		filters := map[string][]bpf.RawInstruction{
			"one":        {{Op: 0x06, K: 0x7fff0000}},
			"ptrace":     testFilter(t, abi),
			"MaxFilter":  longest,
			"every byte": {{Op: 0xfedc, Jt: 0xba, Jf: 0x98, K: 0x76543210}},
		}
		for _, l := range layouts[abi] {
			for name, filter := range filters {
				t.Run(fmt.Sprintf("%v/%#x->%#x/%s", abi, l.stubAddr, l.entry, name), func(t *testing.T) {
					p, err := Build(abi, filter, l.stubAddr, l.entry)
					if err != nil {
						t.Fatalf("Build: %v", err)
					}
					if size, _ := Size(abi, len(filter)); len(p) != size {
						t.Errorf("len(Build(...)) = %d, Size = %d", len(p), size)
					}
					f, entry, err := Parse(abi, p, l.stubAddr)
					if err != nil {
						t.Fatalf("Parse: %v", err)
					}
					if entry != l.entry {
						t.Errorf("Parse(...) entry = %#x, want %#x", entry, l.entry)
					}
					if diff := cmp.Diff(filter, f); diff != "" {
						t.Errorf("Parse(...) filter differs (-built +parsed):\n%s", diff)
					}
				})
			}
		}
	}
}

// TestAArch64JumpForm checks which jump Build picks: b within ±128 MiB,
// the adrp/add/br x16 sequence beyond.
func TestAArch64JumpForm(t *testing.T) {
	tmpl := &templateAARCH64
	pc := func(stubAddr uint64) uint64 { return stubAddr + uint64(tmpl.entry) }
	for _, tt := range []struct {
		name            string
		stubAddr, entry uint64
		near            bool
	}{
		{"b back, at its reach", 0x10000000, pc(0x10000000) - a64BReach, true},
		{"adrp back, one instruction past", 0x10000000, pc(0x10000000) - a64BReach - 4, false},
		{"b forward, at its reach", 0x1000, pc(0x1000) + a64BReach - 4, true},
		{"adrp forward, one instruction past", 0x1000, pc(0x1000) + a64BReach, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(bitmap.AARCH64, testFilter(t, bitmap.AARCH64), tt.stubAddr, tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			insn := binary.LittleEndian.Uint32(p[tmpl.entry:])
			if near := insn&0xfc000000 == a64B; near != tt.near {
				t.Errorf("entry %#x from %#x: first instruction %#x, near = %v, want %v", tt.entry, tt.stubAddr, insn, near, tt.near)
			}
			if _, entry, err := Parse(bitmap.AARCH64, p, tt.stubAddr); err != nil || entry != tt.entry {
				t.Errorf("Parse = %#x, %v; want %#x", entry, err, tt.entry)
			}
		})
	}
}

// TestBuildRefuses lists what Build will not make.
func TestBuildRefuses(t *testing.T) {
	one := []bpf.RawInstruction{{Op: 0x06, K: 0x7fff0000}}
	x86Size, _ := Size(bitmap.X86_64, 1)
	for _, tt := range []struct {
		name            string
		abi             bitmap.ABI
		filter          []bpf.RawInstruction
		stubAddr, entry uint64
		want            error
	}{
		{"i386", bitmap.I386, one, 0x1000, 0x2000, ErrABI},
		{"x32", bitmap.X32, one, 0x1000, 0x2000, ErrABI},
		{"arm", bitmap.ARM, one, 0x1000, 0x2000, ErrABI},
		{"unknown ABI", bitmap.Unknown, one, 0x1000, 0x2000, ErrABI},
		{"empty filter", bitmap.X86_64, nil, 0x1000, 0x2000, ErrFilter},
		{"filter past BPF_MAXINSNS", bitmap.X86_64, make([]bpf.RawInstruction, MaxFilter+1), 0x1000, 0x80000, ErrFilter},
		{"stub address not 16-aligned", bitmap.X86_64, one, 0x1008, 0x2000, ErrAddress},
		{"entry at the stub", bitmap.X86_64, one, 0x1000, 0x1000, ErrAddress},
		{"entry at the stub's last byte", bitmap.X86_64, one, 0x1000, 0x1000 + uint64(x86Size) - 1, ErrAddress},
		{"stub wraps the address space", bitmap.X86_64, one, 1<<64 - 0x10, 0x1000, ErrAddress},
		{"x86_64: entry 2 GiB + 1 ahead", bitmap.X86_64, one, 0x1000, 0x1000 + x86JmpEnd + 0x80000000, ErrAddress},
		{"x86_64: entry 2 GiB + 1 back", bitmap.X86_64, one, 0x80001000, x86JmpEnd - 1 + 0x1000, ErrAddress},
		{"aarch64: entry not a multiple of 4", bitmap.AARCH64, one, 0x10000, 0x1002, ErrAddress},
		{"aarch64: entry 4 GiB ahead", bitmap.AARCH64, one, 0x10000, 0x10000 + 1<<32, ErrAddress},
		{"aarch64: entry 4 GiB back", bitmap.AARCH64, one, 0x100010000, 0x10000 - 0x1000, ErrAddress},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(tt.abi, tt.filter, tt.stubAddr, tt.entry)
			if !errors.Is(err, tt.want) {
				t.Errorf("Build(%v, %d instructions, %#x, %#x) = %d bytes, %v; want %v", tt.abi, len(tt.filter), tt.stubAddr, tt.entry, len(p), err, tt.want)
			}
		})
	}
	if _, err := Size(bitmap.ARM, 1); !errors.Is(err, ErrABI) {
		t.Errorf("Size(arm, 1) = %v, want ErrABI", err)
	}
	if _, err := build(bitmap.X86_64, one, 0x1000, 0x2000, true); !errors.Is(err, ErrABI) {
		t.Errorf("build(x86_64, acceptENOSYS) = %v, want ErrABI (no such switch)", err)
	}
}

// TestParseRefuses tampers with built payloads, byte by byte and field by
// field: Parse must refuse everything that is not exactly what Build makes
// and name the offset where it departs.
func TestParseRefuses(t *testing.T) {
	const stubAddr, entry = 0x600000, 0x401040
	for _, abi := range stubABIs {
		t.Run(abi.String(), func(t *testing.T) {
			tmpl, _ := templateFor(abi)
			good, err := Build(abi, testFilter(t, abi), stubAddr, entry)
			if err != nil {
				t.Fatal(err)
			}
			refused := func(what string, p []byte, addr uint64, off int64) {
				t.Helper()
				_, _, err := Parse(abi, p, addr)
				var fe *FormatError
				if !errors.Is(err, ErrNotStub) || !errors.As(err, &fe) {
					t.Errorf("%s: Parse = %v, want a FormatError (ErrNotStub)", what, err)
				} else if off >= 0 && fe.Off != off {
					t.Errorf("%s: Parse = %v, want it at offset %#x", what, err, off)
				}
			}

			// Every byte of the code and messages, each bit flipped:
			// refused at that byte. (The length and the jump are checked
			// below: a changed jump can be another valid entry, which the
			// caller compares with what the note records.)
			placeholder := func(i int) bool {
				n := 4
				if abi == bitmap.AARCH64 {
					n = 12
				}
				return i >= tmpl.filterLen && i < tmpl.filterLen+8 || i >= tmpl.entry && i < tmpl.entry+n
			}
			for i := range tmpl.code {
				if placeholder(i) {
					continue
				}
				for bit := range 8 {
					p := bytes.Clone(good)
					p[i] ^= 1 << bit
					refused(fmt.Sprintf("byte %#x bit %d flipped", i, bit), p, stubAddr, int64(i))
				}
			}

			// Truncated at every length, one byte more, one instruction more.
			for n := range len(good) {
				refused(fmt.Sprintf("truncated to %d bytes", n), good[:n], stubAddr, -1)
			}
			refused("one byte more", append(bytes.Clone(good), 0), stubAddr, -1)
			refused("one instruction more", append(bytes.Clone(good), make([]byte, 8)...), stubAddr, int64(tmpl.filterLen))

			// The length word.
			for _, n := range []uint64{0, 1, uint64(len(testFilter(t, abi)) + 1), MaxFilter + 1, 1 << 16, 1 << 63} {
				p := bytes.Clone(good)
				binary.LittleEndian.PutUint64(p[tmpl.filterLen:], n)
				refused(fmt.Sprintf("filter length %d", n), p, stubAddr, int64(tmpl.filterLen))
			}

			// The test switch, which Build never sets.
			if tmpl.acceptENOSYS >= 0 {
				p, err := build(abi, testFilter(t, abi), stubAddr, entry, true)
				if err != nil {
					t.Fatal(err)
				}
				refused("accept_enosys set", p, stubAddr, int64(tmpl.acceptENOSYS))
			}

			// A jump into the stub itself.
			p := bytes.Clone(good)
			switch abi {
			case bitmap.X86_64:
				binary.LittleEndian.PutUint32(p[tmpl.entry:], uint32(int32(-tmpl.entry-4))) // to the stub's start
			case bitmap.AARCH64:
				binary.LittleEndian.PutUint32(p[tmpl.entry:], a64B|uint32(-tmpl.entry>>2)&0x03ffffff)
			}
			refused("a jump to the stub's start", p, stubAddr, -1)

			// Parsed at another address than it was built for: the jump
			// lands elsewhere, or (aarch64) no longer needs its form.
			if _, e, err := Parse(abi, good, stubAddr+0x1000); err == nil && e == entry {
				t.Errorf("Parse at another address gave the same entry %#x", e)
			}
			if _, _, err := Parse(abi, good, stubAddr+8); !errors.Is(err, ErrAddress) {
				t.Errorf("Parse at a misaligned address = %v, want ErrAddress", err)
			}

			// Another ABI's stub.
			other := bitmap.AARCH64
			if abi == bitmap.AARCH64 {
				other = bitmap.X86_64
			}
			if _, _, err := Parse(other, good, stubAddr); !errors.Is(err, ErrNotStub) {
				t.Errorf("%v stub parsed as %v: %v, want ErrNotStub", abi, other, err)
			}
			if _, _, err := Parse(bitmap.ARM, good, stubAddr); !errors.Is(err, ErrABI) {
				t.Errorf("Parse(arm) = %v, want ErrABI", err)
			}
		})
	}

	// aarch64: the far form for an entry b reaches is not what Build
	// makes.
	tmpl := &templateAARCH64
	p, err := Build(bitmap.AARCH64, testFilter(t, bitmap.AARCH64), 0x10000000, 0x400000)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(p[tmpl.entry:])&0xfc000000 == a64B {
		t.Fatal("0x400000 from 0x10000000 was expected to be beyond b")
	}
	if _, _, err := Parse(bitmap.AARCH64, p, 0x10000000-0x8000000); !errors.Is(err, ErrNotStub) {
		t.Errorf("far form for a near entry: Parse = %v, want ErrNotStub", err)
	}
}

// model is SPEC section 3's verdict for the stamp-time filter (no exec
// gate), written from the text: the reference the embedded filter is
// checked against.
func model(set bitmap.Set, arch, nr uint32) uint32 {
	const kill, allow = 0x80000000, 0x7fff0000 // SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ALLOW
	switch {
	case arch != set.ABI().AuditArch():
		return kill
	case set.ABI() == bitmap.X86_64 && nr&bitmap.X32SyscallBit != 0:
		return kill
	case nr >= bitmap.Size && set.DenyBeyond():
		return kill
	case nr >= bitmap.Size:
		return allow
	case set.Has(int(nr)):
		return kill
	}
	return allow
}

// TestFilterModel runs the filter a payload carries, as Parse reads it, in
// golang.org/x/net/bpf's VM for every syscall number below 600, numbers
// with the x32 bit, and a foreign arch, and compares with the model, for
// each ABI's stub.
func TestFilterModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for _, abi := range stubABIs {
		random := bitmap.NewSet(abi)
		for nr := range bitmap.Size {
			if r.IntN(4) == 0 {
				random.Add(nr)
			}
		}
		random.SetDenyBeyond(true)
		for name, set := range map[string]bitmap.Set{"empty": bitmap.NewSet(abi), "ptrace,kexec_load": testSet(abi), "random": random} {
			t.Run(abi.String()+"/"+name, func(t *testing.T) {
				f, err := filter.Build(set, filter.Options{})
				if err != nil {
					t.Fatal(err)
				}
				p, err := Build(abi, f.Instructions(), 0x600000, 0x401000)
				if err != nil {
					t.Fatal(err)
				}
				raw, _, err := Parse(abi, p, 0x600000)
				if err != nil {
					t.Fatal(err)
				}
				insns, ok := bpf.Disassemble(raw)
				if !ok {
					t.Fatal("the embedded filter does not disassemble")
				}
				vm, err := bpf.NewVM(insns)
				if err != nil {
					t.Fatal(err)
				}
				arches := []uint32{abi.AuditArch(), 0x80000016 /* AUDIT_ARCH_S390X */, bitmap.AUDIT_ARCH_I386}
				nrs := []uint32{bitmap.X32SyscallBit, bitmap.X32SyscallBit | 101, 0xffffffff}
				for nr := range uint32(600) {
					nrs = append(nrs, nr)
				}
				for _, arch := range arches {
					for _, nr := range nrs {
						// seccomp_data: nr, arch as 32-bit words; the VM
						// loads big-endian, so store them that way.
						d := make([]byte, 64)
						binary.BigEndian.PutUint32(d[0:], nr)
						binary.BigEndian.PutUint32(d[4:], arch)
						got, err := vm.Run(d)
						if err != nil {
							t.Fatalf("VM: %v", err)
						}
						if want := model(set, arch, nr); uint32(got) != want {
							t.Errorf("arch %#x nr %#x: %#x, want %#x", arch, nr, got, want)
						}
					}
				}
			})
		}
	}
}

// FuzzParse feeds Parse arbitrary payloads: it must never panic, and
// whatever it accepts must be exactly what Build makes of what it read.
func FuzzParse(f *testing.F) {
	for _, abi := range stubABIs {
		for _, l := range layouts[abi] {
			p, err := Build(abi, testFilter(f, abi), l.stubAddr, l.entry)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(abi), p, l.stubAddr)
		}
	}
	f.Fuzz(func(t *testing.T, abi uint8, payload []byte, stubAddr uint64) {
		filter, entry, err := Parse(bitmap.ABI(abi), payload, stubAddr)
		if err != nil {
			return
		}
		again, err := Build(bitmap.ABI(abi), filter, stubAddr, entry)
		if err != nil {
			t.Fatalf("Parse accepted what Build refuses: %v", err)
		}
		if !bytes.Equal(again, payload) {
			t.Fatalf("Parse accepted a payload Build does not make")
		}
	})
}
