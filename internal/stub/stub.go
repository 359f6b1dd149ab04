package stub

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"golang.org/x/net/bpf"
)

// MaxFilter is BPF_MAXINSNS (include/uapi/linux/bpf_common.h): the most
// instructions the kernel takes in one seccomp filter.
const MaxFilter = 4096

// Align is the alignment Build requires of the stub's address. A page
// boundary, where the stamper puts it, is aligned.
const Align = 16

// insnSize is the size of one struct sock_filter (u16 code, u8 jt, u8 jf,
// u32 k), as the kernel reads it.
const insnSize = 8

// Size returns the size of the payload Build makes for abi and a filter of
// n instructions: the code and messages, then 8 bytes an instruction.
func Size(abi bitmap.ABI, n int) (int, error) {
	t, err := templateFor(abi)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > MaxFilter {
		return 0, filterErr(n)
	}
	return len(t.code) + insnSize*n, nil
}

// Build returns the stub that installs filter, for a binary of abi: the
// payload to be loaded at virtual address stubAddr (with the same load
// bias as the program: a PIE's offsets do) and made the entry point, which
// jumps to entry, the original one, once the filter is in. The payload is
// the code, its messages, the filter's length and the filter's records,
// Size(abi, len(filter)) bytes; docs/embed.md draws it.
//
// Build refuses (ErrFilter) an empty filter or one longer than MaxFilter,
// (ErrAddress) a stubAddr that is not a multiple of Align or whose payload
// would wrap, an entry inside the payload, an entry the stub's jump cannot
// reach (x86_64: ±2 GiB; aarch64: ±4 GiB, and a multiple of 4), and
// (ErrABI) any ABI but x86_64 and aarch64. It does not check the filter
// beyond its length: the kernel does, at start-up, and the stub fails
// closed if it refuses.
func Build(abi bitmap.ABI, filter []bpf.RawInstruction, stubAddr, entry uint64) ([]byte, error) {
	return build(abi, filter, stubAddr, entry, false)
}

// build is Build with aarch64's test switch: acceptENOSYS makes the stub
// take seccomp()'s ENOSYS for success, which qemu-user returns. Only tests
// set it; Parse refuses a payload that has it.
func build(abi bitmap.ABI, filter []bpf.RawInstruction, stubAddr, entry uint64, acceptENOSYS bool) ([]byte, error) {
	t, err := templateFor(abi)
	if err != nil {
		return nil, err
	}
	size, err := Size(abi, len(filter))
	if err != nil {
		return nil, err
	}
	if stubAddr%Align != 0 {
		return nil, fmt.Errorf("%w: stub address %#x is not a multiple of %d", ErrAddress, stubAddr, Align)
	}
	end := stubAddr + uint64(size)
	if end < stubAddr {
		return nil, fmt.Errorf("%w: a stub of %d bytes at %#x wraps around the address space", ErrAddress, size, stubAddr)
	}
	if entry >= stubAddr && entry < end {
		return nil, fmt.Errorf("%w: entry point %#x inside the stub at %#x-%#x", ErrAddress, entry, stubAddr, end)
	}
	p := make([]byte, size)
	copy(p, t.code)
	binary.LittleEndian.PutUint64(p[t.filterLen:], uint64(len(filter)))
	if err := t.putEntry(p, stubAddr, entry); err != nil {
		return nil, err
	}
	for i, ins := range filter {
		b := p[len(t.code)+insnSize*i:]
		binary.LittleEndian.PutUint16(b, ins.Op)
		b[2], b[3] = ins.Jt, ins.Jf
		binary.LittleEndian.PutUint32(b[4:], ins.K)
	}
	if acceptENOSYS {
		if t.acceptENOSYS < 0 {
			return nil, fmt.Errorf("%w: the %v stub has no ENOSYS switch", ErrABI, abi)
		}
		binary.LittleEndian.PutUint64(p[t.acceptENOSYS:], 1)
	}
	return p, nil
}

// AArch64 instructions of the jump to the entry (Arm ARM, C6.2: B, ADRP,
// ADD (immediate), BR, UDF).
const (
	a64B       = 0x14000000 // b <imm26 * 4>
	a64ADRPx16 = 0x90000010 // adrp x16, <immhi:immlo pages>
	a64ADDx16  = 0x91000210 // add x16, x16, #<imm12>
	a64BRx16   = 0xd61f0200 // br x16
	a64UDF     = 0x00000000 // udf #0

	a64BReach    = 1 << 27 // b: ±128 MiB
	a64ADRPReach = 1 << 32 // adrp: ±4 GiB, in pages
)

// putEntry writes into p, loaded at stubAddr, the jump to entry.
func (t *template) putEntry(p []byte, stubAddr, entry uint64) error {
	switch t.abi {
	case bitmap.X86_64:
		next := stubAddr + uint64(t.entry) + 4 // the jmp's rel32 counts from its end
		rel, ok := distance(next, entry, 1<<31)
		if !ok {
			return fmt.Errorf("%w: entry point %#x is beyond the ±2 GiB a jmp from %#x reaches", ErrAddress, entry, next)
		}
		binary.LittleEndian.PutUint32(p[t.entry:], uint32(int32(rel)))
	case bitmap.AARCH64:
		if entry%4 != 0 {
			return fmt.Errorf("%w: entry point %#x is not a multiple of 4", ErrAddress, entry)
		}
		pc := stubAddr + uint64(t.entry)
		insns := [3]uint32{a64UDF, a64UDF, a64UDF}
		if rel, ok := distance(pc, entry, a64BReach); ok {
			insns[0] = a64B | uint32(rel>>2)&0x03ffffff
		} else {
			// Farther: through x16, which the AAPCS64 lets any branch
			// veneer clobber and glibc's ld.so itself jumps through.
			pages, ok := distance(pc&^0xfff, entry&^0xfff, a64ADRPReach)
			if !ok {
				return fmt.Errorf("%w: entry point %#x is beyond the ±4 GiB an adrp at %#x reaches", ErrAddress, entry, pc)
			}
			imm := uint32(pages>>12) & 0x1fffff
			insns[0] = a64ADRPx16 | (imm&3)<<29 | (imm>>2)<<5
			insns[1] = a64ADDx16 | uint32(entry&0xfff)<<10
			insns[2] = a64BRx16
		}
		for i, insn := range insns {
			binary.LittleEndian.PutUint32(p[t.entry+4*i:], insn)
		}
	default:
		return &abiError{t.abi}
	}
	return nil
}

// distance returns to - from when it lies in [-reach, reach).
func distance(from, to, reach uint64) (int64, bool) {
	if to >= from {
		d := to - from
		return int64(d), d < reach
	}
	d := from - to
	return -int64(d), d <= reach
}

// Parse recognises a payload that Build made for abi at stubAddr and
// returns the filter it installs and the entry it jumps to. It returns a
// *FormatError (ErrNotStub) for anything else: a payload is accepted only
// if Build, given what Parse read from it, makes exactly the same bytes, so
// every byte of the code and messages is checked, and so are the length,
// the jump and the test switch that Build never sets. ErrABI: abi has no
// stub.
func Parse(abi bitmap.ABI, payload []byte, stubAddr uint64) (filter []bpf.RawInstruction, entry uint64, err error) {
	t, err := templateFor(abi)
	if err != nil {
		return nil, 0, err
	}
	if stubAddr%Align != 0 {
		return nil, 0, fmt.Errorf("%w: stub address %#x is not a multiple of %d", ErrAddress, stubAddr, Align)
	}
	if len(payload) < len(t.code)+insnSize {
		return nil, 0, formatErr(len(payload), "%d bytes, less than the %v stub with a one-instruction filter", len(payload), abi)
	}
	n := binary.LittleEndian.Uint64(payload[t.filterLen:])
	if n < 1 || n > MaxFilter {
		return nil, 0, formatErr(t.filterLen, "filter length %d, want 1 to %d", n, MaxFilter)
	}
	if want := len(t.code) + insnSize*int(n); len(payload) != want {
		return nil, 0, formatErr(t.filterLen, "filter of %d instructions in a payload of %d bytes, want %d", n, len(payload), want)
	}
	entry, err = t.readEntry(payload, stubAddr)
	if err != nil {
		return nil, 0, err
	}
	filter = make([]bpf.RawInstruction, n)
	for i := range filter {
		b := payload[len(t.code)+insnSize*i:]
		filter[i] = bpf.RawInstruction{Op: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}
	}
	want, err := build(abi, filter, stubAddr, entry, false)
	if err != nil {
		return nil, 0, formatErr(t.entry, "%v", err)
	}
	if !bytes.Equal(want, payload) {
		off := 0
		for want[off] == payload[off] {
			off++
		}
		return nil, 0, formatErr(off, "byte %#x where the %v stub has %#x", payload[off], abi, want[off])
	}
	return filter, entry, nil
}

// readEntry returns the target of the jump to the entry in p, loaded at
// stubAddr. It only decodes; Parse's rebuild checks the rest.
func (t *template) readEntry(p []byte, stubAddr uint64) (uint64, error) {
	switch t.abi {
	case bitmap.X86_64:
		rel := int32(binary.LittleEndian.Uint32(p[t.entry:]))
		return stubAddr + uint64(t.entry) + 4 + uint64(int64(rel)), nil
	case bitmap.AARCH64:
		pc := stubAddr + uint64(t.entry)
		insn := binary.LittleEndian.Uint32(p[t.entry:])
		switch {
		case insn&0xfc000000 == a64B:
			rel := int64(int32(insn<<6)>>6) * 4 // imm26, sign-extended
			return pc + uint64(rel), nil
		case insn&0x9f00001f == a64ADRPx16:
			imm := (insn>>5&0x7ffff)<<2 | insn>>29&3
			pages := int64(int32(imm<<11)>>11) << 12 // imm21, sign-extended
			add := binary.LittleEndian.Uint32(p[t.entry+4:])
			if add&0xffc003ff != a64ADDx16 {
				return 0, formatErr(t.entry+4, "%#x where the stub has add x16, x16, #imm", add)
			}
			return pc&^0xfff + uint64(pages) + uint64(add>>10&0xfff), nil
		}
		return 0, formatErr(t.entry, "%#x where the stub has b or adrp x16", insn)
	}
	return 0, &abiError{t.abi}
}
