package filter

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"golang.org/x/net/bpf"
)

// Program is a compiled seccomp filter: a classic BPF program over struct
// seccomp_data. Its shape is fixed when Build returns; Render fills in the
// run-time values its options ask for (the gate's secret and descriptor,
// the sentinel), and it is then ready to install (pkg/enforce).
type Program struct {
	prog []bpf.RawInstruction
	set  bitmap.Set
	opts Options

	gate     bool // the gate is compiled in
	stub     bool // a check of Options.StubCalls is compiled in
	rendered bool // Render wrote values in
	slots    slots

	// The values last rendered (Values), kept in as few bytes as they
	// need: the loader allocates a Program, and one of 144 bytes shares
	// its size class with others of the loader's.
	fd       int32
	sentinel uint32
	secret   uint64
}

// Instructions returns the program. The slice is shared: do not modify it.
func (p *Program) Instructions() []bpf.RawInstruction { return p.prog }

// Len returns the number of instructions.
func (p *Program) Len() int { return len(p.prog) }

// Set returns the set the program enforces.
func (p *Program) Set() bitmap.Set { return p.set }

// Options returns the options the program was built with.
func (p *Program) Options() Options { return p.opts }

// Action returns the action the program gives a restricted syscall.
func (p *Program) Action() Action { return p.opts.Action }

// Gated reports whether the program holds the exec gate: Options.Gate was
// given and the loader's execveat would otherwise not be allowed.
func (p *Program) Gated() bool { return p.gate }

// StubCalls reports whether the program lets the start-up stub's prctl or
// seccomp through: Options.StubCalls was given and the set restricts at
// least one of them.
func (p *Program) StubCalls() bool { return p.stub }

// Bytes returns the program as the kernel takes it: struct sock_filter
// records (u16 code, u8 jt, u8 jf, u32 k), 8 bytes each, in little-endian
// order — what seccomp-tools disasm reads and what PTRACE_SECCOMP_GET_FILTER
// returns on the hosts sysrestrict enforces.
func (p *Program) Bytes() []byte {
	b := make([]byte, 0, 8*len(p.prog))
	for _, ins := range p.prog {
		b = binary.LittleEndian.AppendUint16(b, ins.Op)
		b = append(b, ins.Jt, ins.Jf)
		b = binary.LittleEndian.AppendUint32(b, ins.K)
	}
	return b
}

// String returns a readable disassembly, one instruction a line:
//
//	0000  ld   [4]                    ; arch
//	0001  jeq  #0xc000003e  0002 0005 ; AUDIT_ARCH_X86_64
//
// with the targets of a conditional jump as absolute line numbers (true,
// false) and comments naming offsets, arches, syscalls and return values.
func (p *Program) String() string { return Disassemble(p.prog, p.set.ABI()) }

// Disassemble returns the readable form of prog, naming syscall numbers
// with abi's table.
func Disassemble(prog []bpf.RawInstruction, abi bitmap.ABI) string {
	var b strings.Builder
	// What A holds and which ABI names numbers, flowed along the jumps
	// (all forward) so a block reached by a jump is annotated right.
	type state struct {
		load uint32 // offset A was loaded from, or 0xffffffff
		cur  bitmap.ABI
	}
	states := make([]*state, len(prog)+1)
	states[0] = &state{0xffffffff, abi}
	flow := func(to int, st state) {
		if to >= 0 && to < len(states) && states[to] == nil {
			states[to] = &st
		}
	}
	for pc, ins := range prog {
		st := state{0xffffffff, abi}
		if states[pc] != nil {
			st = *states[pc]
		}
		lastLoad, cur := st.load, st.cur
		var text, comment string
		hex := func(k uint32) string { return "#0x" + strconv.FormatUint(uint64(k), 16) }
		line := func(n int) string {
			s := strconv.Itoa(n)
			return strings.Repeat("0", max(0, 4-len(s))) + s
		}
		switch ins.Op {
		case opLdAbsW:
			text = "ld   [" + strconv.Itoa(int(ins.K)) + "]"
			comment = fieldName(ins.K)
			flow(pc+1, state{ins.K, cur})
		case opAndK:
			text = "and  " + hex(ins.K)
			flow(pc+1, st)
		case opRetK:
			text = "ret  " + hex(ins.K)
			comment = RetName(ins.K)
		case opJa:
			text = "ja   " + line(pc+1+int(ins.K))
			flow(pc+1+int(ins.K), st)
		case opJeqK, opJgeK, opJgtK, opJsetK:
			name := map[uint16]string{opJeqK: "jeq ", opJgeK: "jge ", opJgtK: "jgt ", opJsetK: "jset"}[ins.Op]
			text = name + " " + hex(ins.K)
			text += strings.Repeat(" ", max(1, 16-len(text)))
			text += line(pc+1+int(ins.Jt)) + " " + line(pc+1+int(ins.Jf))
			taken := st
			switch lastLoad {
			case offArch:
				comment = archName(ins.K)
				if ins.Op == opJeqK && comment != "" {
					taken.cur = abi
					if ins.K != abi.AuditArch() {
						taken.cur = abiOfArch(ins.K)
					}
				}
			case offNr:
				k := ins.K
				if cur == bitmap.X32 {
					k &^= bitmap.X32SyscallBit
				}
				if (ins.Op == opJeqK || ins.Op == opJgeK) && k < bitmap.Size {
					comment = cur.Name(int(k))
				}
			}
			flow(pc+1+int(ins.Jt), taken)
			flow(pc+1+int(ins.Jf), st)
		default:
			text = "?    op " + hex(uint32(ins.Op))
		}
		b.WriteString(line(pc))
		b.WriteString("  ")
		b.WriteString(text)
		if comment != "" {
			b.WriteString(strings.Repeat(" ", max(1, 30-len(text))))
			b.WriteString("; ")
			b.WriteString(comment)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func fieldName(off uint32) string {
	switch {
	case off == offNr:
		return "nr"
	case off == offArch:
		return "arch"
	case off == 8:
		return "instruction_pointer.lo"
	case off == 12:
		return "instruction_pointer.hi"
	case off >= offArgs && off < dataLen:
		i := (off - offArgs) / 8
		half := ".lo"
		if (off-offArgs)%8 != 0 {
			half = ".hi"
		}
		return "args[" + strconv.Itoa(int(i)) + "]" + half
	}
	return ""
}

func abiOfArch(k uint32) bitmap.ABI {
	for _, abi := range bitmap.ABIs {
		if abi.AuditArch() == k {
			return abi
		}
	}
	return bitmap.Unknown
}

func archName(k uint32) string {
	switch k {
	case bitmap.AUDIT_ARCH_X86_64:
		return "AUDIT_ARCH_X86_64"
	case bitmap.AUDIT_ARCH_I386:
		return "AUDIT_ARCH_I386"
	case bitmap.AUDIT_ARCH_AARCH64:
		return "AUDIT_ARCH_AARCH64"
	case bitmap.AUDIT_ARCH_ARM:
		return "AUDIT_ARCH_ARM"
	}
	return ""
}
