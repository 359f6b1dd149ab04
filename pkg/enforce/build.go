package enforce

import (
	"fmt"
	"runtime"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"golang.org/x/net/bpf"
)

// Options tune the filter Build makes. The zero value gives a filter that
// kills on a hit and has no exec gate.
type Options struct {
	// Action is what a restricted syscall gets. Zero: Kill.
	Action Action

	// Secret, when nonzero, adds the exec gate (docs/exec.md): one
	// execveat(Fd, "", argv, envp, AT_EMPTY_PATH) of the loader's ABI with
	// Secret in its unused sixth argument register is allowed, although
	// the set restricts execveat (or the loader's execveat is of another
	// ABI than the set's). Without a secret there is no gate.
	Secret uint64

	// Fd is the descriptor the gate's execveat must name.
	Fd int

	// GateABI is the ABI of the loader's own execveat. Zero (Unknown): the
	// running process's, NativeABI().
	GateABI bitmap.ABI

	// Sentinel, when nonzero, is a raw syscall number of the set's ABI that
	// always gets SECCOMP_RET_KILL_PROCESS, tested right after the arch
	// check. The --explain supervisor rewrites a traced syscall to it so
	// the kernel's recheck after RET_TRACE kills the process with a genuine
	// seccomp SIGSYS.
	Sentinel uint32
}

// NativeABI returns the ABI of the running program's own syscalls, or
// bitmap.Unknown on an architecture sysrestrict does not know.
func NativeABI() bitmap.ABI {
	switch runtime.GOARCH {
	case "amd64":
		return bitmap.X86_64
	case "386":
		return bitmap.I386
	case "arm64":
		return bitmap.AARCH64
	case "arm":
		return bitmap.ARM
	}
	return bitmap.Unknown
}

// execveatNrs is each ABI's execveat, as the kernel's syscall tables number
// it (TestExecveatNrs checks them against bitmap's tables). They are
// constants rather than a lookup by name: the lookup scans a syscall table
// and its names, pages the loader would otherwise fault in at every start.
var execveatNrs = [...]uint32{
	bitmap.X86_64:  322,
	bitmap.X32:     545,
	bitmap.I386:    358,
	bitmap.AARCH64: 281,
	bitmap.ARM:     387,
}

// execveatNr returns the raw number (with x32's bit) of the ABI's execveat.
func execveatNr(abi bitmap.ABI) (uint32, bool) {
	if !abi.Known() || int(abi) >= len(execveatNrs) || execveatNrs[abi] == 0 {
		return 0, false
	}
	return execveatNrs[abi] | abi.NrBase(), true
}

// Build compiles set into the seccomp filter of SPEC section 3
// (docs/filter.md draws it):
//
//  1. seccomp_data.arch is not the set's ABI's audit arch: action;
//  2. Sentinel: KILL_PROCESS;
//  3. the exec gate, on the loader's execveat only;
//  4. x86_64: nr >= 0x40000000 (the x32 bit): action; x32: nr without the
//     x32 bit: action, and the bit is stripped for what follows;
//  5. nr >= 512: action if set.DenyBeyond(), else allow;
//  6. nr in set: action, else allow.
//
// Every path but the gate's loads only arch and nr, so the kernel's action
// cache serves every allowed syscall.
func Build(set bitmap.Set, opts Options) (*Filter, error) {
	root, gated, err := decide(set, opts)
	if err != nil {
		return nil, err
	}
	// compile recurses as deep as the tree. It runs from this small frame
	// rather than from decide's large one, which keeps the loader within
	// the stack it starts with: growing it costs page faults at every exec
	// (docs/exec.md, "Start-up").
	prog := compile(root)
	if len(prog) > MaxInstructions {
		return nil, tooLong(len(prog))
	}
	return &Filter{prog: prog, set: set, opts: opts, gate: gated}, nil
}

func tooLong(n int) error {
	return fmt.Errorf("%w: %d instructions, the kernel takes at most %d", ErrTooLong, n, MaxInstructions)
}

// decide builds Build's tree of decisions and reports whether it holds
// the exec gate.
func decide(set bitmap.Set, opts Options) (root node, gated bool, err error) {
	abi := set.ABI()
	if !abi.Known() {
		return nil, false, fmt.Errorf("%w: set of ABI %v", ErrABI, abi)
	}
	if err := opts.Action.valid(); err != nil {
		return nil, false, err
	}
	act := ret(opts.Action.Ret())

	// Steps 4 to 6, with A = nr.
	beyond := ret(SECCOMP_RET_ALLOW)
	if set.DenyBeyond() {
		beyond = act
	}
	body := jge(bitmap.Size, beyond, bitmapTree(set, act))
	switch abi {
	case bitmap.X86_64:
		body = jge(bitmap.X32SyscallBit, act, body)
	case bitmap.X32:
		body = jset(bitmap.X32SyscallBit, and(^uint32(bitmap.X32SyscallBit), body), act)
	}

	// Step 3, the exec gate.
	var gate node // nil: no gate
	var gateNr, gateArch uint32
	if opts.Secret != 0 {
		g := opts.GateABI
		if g == bitmap.Unknown {
			g = NativeABI()
		}
		nr, ok := execveatNr(g)
		if !ok {
			return nil, false, fmt.Errorf("%w: exec gate for ABI %v", ErrABI, g)
		}
		gateNr, gateArch = nr, g.AuditArch()
		if needGate(set, opts, gateArch, gateNr) {
			gate = load(offArgLo(0), jeq(uint32(opts.Fd),
				load(offArgLo(4), jeq(AT_EMPTY_PATH,
					load(offArgLo(5), jeq(uint32(opts.Secret),
						load(offArgHi(5), jeq(uint32(opts.Secret>>32), ret(SECCOMP_RET_ALLOW), act)),
						act)),
					act)),
				act))
		}
	}

	// Steps 1 to 3.
	arch := abi.AuditArch()
	afterNr := body
	if gate != nil && gateArch == arch {
		afterNr = jeq(gateNr, gate, body)
	}
	if opts.Sentinel != 0 {
		afterNr = jeq(opts.Sentinel, ret(SECCOMP_RET_KILL_PROCESS), afterNr)
	}
	otherArch := act
	if gate != nil && gateArch != arch {
		// The loader's exec is of another arch than the program's (an i386
		// program started by an x86_64 loader): on that arch the gate is
		// the only thing allowed.
		otherArch = jeq(gateArch, load(offNr, jeq(gateNr, gate, act)), act)
	}
	return load(offArch, jeq(arch, load(offNr, afterNr), otherArch)), gate != nil, nil
}

// needGate reports whether the loader's execveat would not be plainly
// allowed by the filter without a gate. When it would be, the gate is left
// out: it could only add argument loads, and with them take execveat out of
// the kernel's action cache, while anyone could exec anyway.
func needGate(set bitmap.Set, opts Options, arch, nr uint32) bool {
	if arch != set.ABI().AuditArch() {
		return true
	}
	if opts.Sentinel != 0 && nr == opts.Sentinel {
		return true
	}
	switch set.ABI() {
	case bitmap.X86_64:
		if nr >= bitmap.X32SyscallBit {
			return true
		}
	case bitmap.X32:
		if nr&bitmap.X32SyscallBit == 0 {
			return true
		}
		nr &^= bitmap.X32SyscallBit
	}
	return set.Has(int(nr))
}

// bitmapTree returns a balanced binary search, on A = nr < 512, over the
// runs of equal membership in set: a run of restricted numbers gives act, a
// run of allowed ones allow. It uses only jge on constants, which the
// kernel's action-cache emulator evaluates.
func bitmapTree(set bitmap.Set, act node) node {
	type run struct {
		start int
		in    bool
	}
	n := 1
	for nr := 1; nr < bitmap.Size; nr++ {
		if set.Has(nr) != set.Has(nr-1) {
			n++
		}
	}
	runs := make([]run, 0, n)
	for nr := 0; nr < bitmap.Size; nr++ {
		in := set.Has(nr)
		if len(runs) == 0 || runs[len(runs)-1].in != in {
			runs = append(runs, run{nr, in})
		}
	}
	var tree func(rs []run) node
	tree = func(rs []run) node {
		if len(rs) == 1 {
			if rs[0].in {
				return act
			}
			return ret(SECCOMP_RET_ALLOW)
		}
		mid := len(rs) / 2
		return jge(uint32(rs[mid].start), tree(rs[mid:]), tree(rs[:mid]))
	}
	return tree(runs)
}

// The compiler's input: a tree of decisions. Each node compiles to a block
// of instructions whose every path ends in a return, so blocks concatenate
// with no jump leaving its block.
type node interface{}

type retNode struct{ k uint32 }

type jumpNode struct {
	op   uint16
	k    uint32
	t, f node
}

type stmtNode struct {
	ins  bpf.RawInstruction
	next node
}

func ret(k uint32) node             { return retNode{k} }
func jeq(k uint32, t, f node) node  { return &jumpNode{opJeqK, k, t, f} }
func jge(k uint32, t, f node) node  { return &jumpNode{opJgeK, k, t, f} }
func jset(k uint32, t, f node) node { return &jumpNode{opJsetK, k, t, f} }
func load(off uint32, next node) node {
	return &stmtNode{bpf.RawInstruction{Op: opLdAbsW, K: off}, next}
}
func and(mask uint32, next node) node {
	return &stmtNode{bpf.RawInstruction{Op: opAndK, K: mask}, next}
}

// compile lays out n. A jump puts the smaller of its two blocks first, so
// the conditional skip is as short as it can be; when even that is beyond
// the 8-bit jt/jf reach, a ja (32-bit offset) bridges it.
//
// The program is emitted backwards, from its last instruction — a block's
// size is known once it is emitted, which is what the jump before it
// needs — into one buffer of the size the tree compiles to: one
// allocation, and a small frame for the recursion (docs/exec.md,
// "Start-up").
func compile(n node) []bpf.RawInstruction {
	c := compiler{prog: make([]bpf.RawInstruction, size(n))}
	c.pc = len(c.prog)
	c.emit(n)
	if c.pc != 0 {
		panic("enforce: size and emit disagree") // a compiler bug
	}
	return c.prog
}

// size returns the number of instructions n compiles to.
func size(n node) int {
	switch n := n.(type) {
	case *stmtNode:
		return 1 + size(n.next)
	case *jumpNode:
		if sameRet(n.t, n.f) {
			return 1
		}
		t, f := size(n.t), size(n.f)
		if min(t, f) > maxJumpJt {
			return 2 + t + f
		}
		return 1 + t + f
	}
	return 1
}

func sameRet(a, b node) bool {
	ra, ok1 := a.(retNode)
	rb, ok2 := b.(retNode)
	return ok1 && ok2 && ra == rb
}

// compiler fills prog backwards: prog[pc:] is what is emitted so far.
type compiler struct {
	prog []bpf.RawInstruction
	pc   int
}

// put prepends ins to what is emitted so far.
func (c *compiler) put(ins bpf.RawInstruction) {
	c.pc--
	c.prog[c.pc] = ins
}

// emit prepends n's instructions.
func (c *compiler) emit(n node) {
	switch n := n.(type) {
	case retNode:
		c.put(bpf.RawInstruction{Op: opRetK, K: n.k})
	case *stmtNode:
		c.emit(n.next)
		c.put(n.ins)
	case *jumpNode:
		if sameRet(n.t, n.f) {
			c.emit(n.t) // both ways end in the same return
			return
		}
		c.jump(n)
	default:
		unknownNode(n)
	}
}

// jump emits a conditional jump and its two blocks.
func (c *compiler) jump(n *jumpNode) {
	first, second, firstIsTrue := n.f, n.t, false
	if size(n.t) < size(n.f) {
		first, second, firstIsTrue = n.t, n.f, true
	}
	c.emit(second)
	end := c.pc
	c.emit(first)
	skip := end - c.pc
	j := bpf.RawInstruction{Op: n.op, K: n.k}
	if skip <= maxJumpJt {
		// To the first block: fall through (0); to the second: skip the
		// first.
		if firstIsTrue {
			j.Jf = uint8(skip)
		} else {
			j.Jt = uint8(skip)
		}
		c.put(j)
		return
	}
	// To the first block: skip the ja (1); to the second: the ja over the
	// first.
	if firstIsTrue {
		j.Jt = 1
	} else {
		j.Jf = 1
	}
	c.put(bpf.RawInstruction{Op: opJa, K: uint32(skip)})
	c.put(j)
}

func unknownNode(n node) { panic(fmt.Sprintf("enforce: unknown node %T", n)) }
