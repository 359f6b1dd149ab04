package filter

import (
	"fmt"
	"maps"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"golang.org/x/net/bpf"
)

// Options are the policy Build compiles: what a restricted syscall gets
// and which checks the program holds. They are known ahead of time (at
// stamp time, or when the loader reads the note). The values of those
// checks that only exist at run time, the gate's secret and descriptor and
// the supervisor's sentinel, are not options: Build compiles placeholders
// for them, at fixed places, and Program.Render fills them in.
//
// The zero value gives a filter that kills on a hit and has no exec gate.
type Options struct {
	// Action is what a restricted syscall gets, unless Overrides says
	// otherwise: the default. It is also what every syscall the bitmap
	// does not decide gets: one of another arch, one with x32's bit on
	// x86_64 (or without it on x32), a number from 512 up with
	// DENY_BEYOND. Zero: Kill.
	Action Action

	// Gate adds the exec gate (docs/exec.md): one execveat(fd, "", argv,
	// envp, AT_EMPTY_PATH) of GateABI with the secret in its unused sixth
	// argument register is allowed, although the set restricts execveat
	// (or the loader's execveat is of another ABI than the set's). The fd
	// and the secret are Values. The gate is compiled in only when the
	// loader's execveat would otherwise not be allowed (Program.Gated).
	Gate bool

	// GateABI is the ABI of the loader's own execveat, required with Gate
	// (ErrGateABI). A loader passes enforce.NativeABI().
	GateABI bitmap.ABI

	// Sentinel adds a check, right after the arch check, that gives one
	// raw syscall number of the set's ABI, Values.Sentinel,
	// SECCOMP_RET_KILL_PROCESS. The --explain supervisor rewrites a traced
	// syscall to it so the kernel's recheck after RET_TRACE kills the
	// process with a genuine seccomp SIGSYS.
	Sentinel bool

	// StubCalls lets the start-up stub of an embedded program (SPEC
	// section 5, docs/embed.md) make its two calls under this filter
	// although the set restricts them: exactly
	//
	//	prctl(PR_SET_NO_NEW_PRIVS, 1, ...)
	//	seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, ...)
	//
	// of the set's ABI, both arguments compared in full; any other prctl
	// or seccomp gets the action. Both calls can only restrict the
	// process further: no_new_privs cannot be unset, and a filter stacks
	// on this one, the most severe action winning (without
	// SECCOMP_FILTER_FLAG_SPEC_ALLOW, which would turn a speculation
	// mitigation off, or _NEW_LISTENER). Each check is compiled in only
	// when the set restricts its number (Program.StubCalls), and only
	// those numbers' paths load arguments. x86_64 and aarch64, the ABIs
	// with a stub; any other is ErrABI.
	StubCalls bool

	// Overrides gives some restricted syscalls another action than the
	// default: number (of the set's ABI, 0..511) to action. Each number
	// must be in the set (ErrOverride): an override never restricts a
	// syscall, it only says what a restricted one gets. An override equal
	// to the default changes nothing. The program still reads only arch
	// and nr: the bitmap's tree is cut into runs of equal verdict, so
	// numbers that share an action share a leaf (docs/filter.md). Build
	// keeps a copy; nil or empty: every restricted syscall gets Action.
	//
	// (Last: after the small fields, Options is 16 bytes, and Program,
	// which holds one, stays in its allocation size class;
	// TestProgramSize.)
	Overrides map[int]Action
}

// stubNrs are the numbers of prctl and seccomp of each ABI that has a
// start-up stub (arch/x86/entry/syscalls/syscall_64.tbl,
// include/uapi/asm-generic/unistd.h; TestStubNrs checks them against
// bitmap's tables): constants, for the same reason as execveatNrs.
var stubNrs = [...]struct{ prctl, seccomp uint32 }{
	bitmap.X86_64:  {157, 317},
	bitmap.AARCH64: {167, 277},
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
//  2. Options.Sentinel: the sentinel number gets KILL_PROCESS;
//  3. Options.Gate: the exec gate, on the loader's execveat only;
//     Options.StubCalls: the start-up stub's prctl and seccomp, on those
//     numbers only;
//  4. x86_64: nr >= 0x40000000 (the x32 bit): action; x32: nr without the
//     x32 bit: action, and the bit is stripped for what follows;
//  5. nr >= 512: action if set.DenyBeyond(), else allow;
//  6. nr in set: action, else allow.
//
// Every path but the gate's and the stub calls' loads only arch and nr, so
// the kernel's action cache serves every allowed syscall.
//
// Build is pure: its result depends on set and opts alone, on every OS
// and architecture. The gate's and the sentinel's values are placeholders
// in the program (see Program.Render): their values never change its
// shape.
func Build(set bitmap.Set, opts Options) (*Program, error) {
	return build(set, opts, &placeholderValues)
}

// placeholderValues are the words Build compiles into the placeholders
// before Render. They fail closed if a program were ever installed
// unrendered: the gate names descriptor -1, which no execveat can run, and
// the sentinel is syscall -1, which no ABI has.
var placeholderValues = words{fd: 0xffffffff, sentinel: 0xffffffff}

// words are the instruction words of the placeholders.
type words struct {
	fd, secretLo, secretHi, sentinel uint32
}

// build is Build with the placeholders compiled as w: TestFixedShape
// compiles with two sets of stand-ins and checks that only those words
// differ.
func build(set bitmap.Set, opts Options, w *words) (*Program, error) {
	if len(opts.Overrides) > 0 {
		opts.Overrides = maps.Clone(opts.Overrides) // the Program's own
	} else {
		opts.Overrides = nil
	}
	p := &Program{set: set, opts: opts}
	root, err := decide(p, w)
	if err != nil {
		return nil, err
	}
	// compile recurses as deep as the tree. It runs from this small frame
	// rather than from decide's large one, which keeps the loader within
	// the stack it starts with: growing it costs page faults at every exec
	// (docs/exec.md, "Start-up").
	p.prog, p.slots = compile(root)
	if len(p.prog) > MaxInstructions {
		return nil, tooLong(len(p.prog))
	}
	return p, nil
}

func tooLong(n int) error {
	return fmt.Errorf("%w: %d instructions, the kernel takes at most %d", ErrTooLong, n, MaxInstructions)
}

// decide builds Build's tree of decisions for p's set and options, with
// the placeholders as w, and records in p whether the gate is in.
func decide(p *Program, w *words) (root node, err error) {
	set, opts := p.set, p.opts
	abi := set.ABI()
	if !abi.Known() {
		return nil, fmt.Errorf("%w: set of ABI %v", ErrABI, abi)
	}
	if err := opts.Action.valid(); err != nil {
		return nil, err
	}
	if err := checkOverrides(set, opts.Overrides); err != nil {
		return nil, err
	}
	act := ret(opts.Action.Ret())

	// Steps 4 to 6, with A = nr.
	beyond := ret(SECCOMP_RET_ALLOW)
	if set.DenyBeyond() {
		beyond = act
	}
	body := jge(bitmap.Size, beyond, bitmapTree(set, opts.Action.Ret(), opts.Overrides))
	switch abi {
	case bitmap.X86_64:
		body = jge(bitmap.X32SyscallBit, act, body)
	case bitmap.X32:
		body = jset(bitmap.X32SyscallBit, and(^uint32(bitmap.X32SyscallBit), body), act)
	}

	// Step 3, the start-up stub's calls (Options.StubCalls), then the exec
	// gate: each tested on its own number only, before the bitmap.
	afterNr := body
	if opts.StubCalls {
		if int(abi) >= len(stubNrs) || stubNrs[abi].prctl == 0 {
			return nil, fmt.Errorf("%w: no start-up stub for ABI %v", ErrABI, abi)
		}
		// Any other call of the number gets what it would get without
		// the check: the default, or the number's override.
		nrs, arch := stubNrs[abi], abi.AuditArch()
		if set.Has(int(nrs.seccomp)) {
			no := ret(ungated(set, opts, arch, nrs.seccomp))
			afterNr = jeq(nrs.seccomp, args01(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, no), afterNr)
			p.stub = true
		}
		if set.Has(int(nrs.prctl)) {
			no := ret(ungated(set, opts, arch, nrs.prctl))
			afterNr = jeq(nrs.prctl, args01(PR_SET_NO_NEW_PRIVS, 1, no), afterNr)
			p.stub = true
		}
	}

	var gate node // nil: no gate
	var gateNr, gateArch uint32
	if opts.Gate {
		g := opts.GateABI
		if g == bitmap.Unknown {
			return nil, ErrGateABI
		}
		nr, ok := execveatNr(g)
		if !ok {
			return nil, fmt.Errorf("%w: exec gate for ABI %v", ErrABI, g)
		}
		gateNr, gateArch = nr, g.AuditArch()
		if needGate(set, gateArch, gateNr) {
			// Any other execveat gets what it would get without the
			// gate: the default, or the number's override.
			no := ret(ungated(set, opts, gateArch, gateNr))
			gate = load(offArgLo(0), slotJeq(slotFd, w.fd,
				load(offArgLo(4), jeq(AT_EMPTY_PATH,
					load(offArgLo(5), slotJeq(slotSecretLo, w.secretLo,
						load(offArgHi(5), slotJeq(slotSecretHi, w.secretHi, ret(SECCOMP_RET_ALLOW), no)),
						no)),
					no)),
				no))
			p.gate = true
		}
	}

	// Steps 1 to 3.
	arch := abi.AuditArch()
	if gate != nil && gateArch == arch {
		afterNr = jeq(gateNr, gate, afterNr)
	}
	if opts.Sentinel {
		afterNr = slotJeq(slotSentinel, w.sentinel, ret(SECCOMP_RET_KILL_PROCESS), afterNr)
	}
	otherArch := act
	if gate != nil && gateArch != arch {
		// The loader's exec is of another arch than the program's (an i386
		// program started by an x86_64 loader): on that arch the gate is
		// the only thing allowed.
		otherArch = jeq(gateArch, load(offNr, jeq(gateNr, gate, act)), act)
	}
	return load(offArch, jeq(arch, load(offNr, afterNr), otherArch)), nil
}

// args01 allows a syscall whose args[0] is a0 and args[1] is a1, each
// compared in full (both 32-bit halves), and gives every other call no.
func args01(a0, a1 uint32, no node) node {
	return load(offArgLo(0), jeq(a0,
		load(offArgHi(0), jeq(0,
			load(offArgLo(1), jeq(a1,
				load(offArgHi(1), jeq(0, ret(SECCOMP_RET_ALLOW), no)),
				no)),
			no)),
		no))
}

// needGate reports whether the loader's execveat would not be plainly
// allowed by the filter without a gate. When it would be, the gate is left
// out: it could only add argument loads, and with them take execveat out of
// the kernel's action cache, while anyone could exec anyway. (The sentinel
// never is the gate's execveat: Render refuses that value.)
func needGate(set bitmap.Set, arch, nr uint32) bool {
	if arch != set.ABI().AuditArch() {
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

// checkOverrides checks Options.Overrides against set: each number in the
// set, each action valid.
func checkOverrides(set bitmap.Set, overrides map[int]Action) error {
	for nr, a := range overrides {
		if nr < 0 || nr >= bitmap.Size || !set.Has(nr) {
			return fmt.Errorf("%w: syscall %d is not restricted by the set", ErrOverride, nr)
		}
		if err := a.valid(); err != nil {
			return fmt.Errorf("override of syscall %d: %w", nr, err)
		}
	}
	return nil
}

// ungated returns what the program without its exec gate gives the
// syscall nr (raw, with x32's bit) of arch: the gate turns only its own
// execveat into ALLOW, and leaves every other try at it what the bitmap
// (or the arch check) says.
func ungated(set bitmap.Set, opts Options, arch, nr uint32) uint32 {
	abi := set.ABI()
	if arch != abi.AuditArch() {
		return opts.Action.Ret()
	}
	switch abi {
	case bitmap.X86_64:
		if nr >= bitmap.X32SyscallBit {
			return opts.Action.Ret()
		}
	case bitmap.X32:
		if nr&bitmap.X32SyscallBit == 0 {
			return opts.Action.Ret()
		}
		nr &^= bitmap.X32SyscallBit
	}
	if nr >= bitmap.Size {
		if set.DenyBeyond() {
			return opts.Action.Ret()
		}
		return SECCOMP_RET_ALLOW
	}
	return verdict(set, opts.Action.Ret(), opts.Overrides, int(nr))
}

// verdict is the bitmap's answer for nr < 512: allow if set does not
// restrict it, else its override or the default def.
func verdict(set bitmap.Set, def uint32, overrides map[int]Action, nr int) uint32 {
	if !set.Has(nr) {
		return SECCOMP_RET_ALLOW
	}
	if a, ok := overrides[nr]; ok {
		return a.Ret()
	}
	return def
}

// bitmapTree returns a balanced binary search, on A = nr < 512, over the
// runs of equal verdict (allow, the default def, or an override's
// action): each run is a leaf that returns its verdict. Without overrides
// the runs are those of equal membership in set; an override splits the
// run it is in, and neighbours with the same action share a run. It uses
// only jge on constants, which the kernel's action-cache emulator
// evaluates.
func bitmapTree(set bitmap.Set, def uint32, overrides map[int]Action) node {
	type run struct {
		start int
		k     uint32
	}
	n, prev := 0, uint32(0)
	for nr := range bitmap.Size {
		if k := verdict(set, def, overrides, nr); nr == 0 || k != prev {
			n, prev = n+1, k
		}
	}
	runs := make([]run, 0, n)
	for nr := range bitmap.Size {
		k := verdict(set, def, overrides, nr)
		if len(runs) == 0 || runs[len(runs)-1].k != k {
			runs = append(runs, run{nr, k})
		}
	}
	var tree func(rs []run) node
	tree = func(rs []run) node {
		if len(rs) == 1 {
			return ret(rs[0].k)
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

// jumpNode is a conditional jump on A. A placeholder's jump (slot != 0)
// compares A with a run-time value: k is its stand-in, and the compiler
// records where the jump lands so Render can write the value there.
type jumpNode struct {
	op   uint16
	slot placeholder
	k    uint32
	t, f node
}

type stmtNode struct {
	ins  bpf.RawInstruction
	next node
}

func ret(k uint32) node             { return retNode{k} }
func jeq(k uint32, t, f node) node  { return &jumpNode{opJeqK, 0, k, t, f} }
func jge(k uint32, t, f node) node  { return &jumpNode{opJgeK, 0, k, t, f} }
func jset(k uint32, t, f node) node { return &jumpNode{opJsetK, 0, k, t, f} }
func load(off uint32, next node) node {
	return &stmtNode{bpf.RawInstruction{Op: opLdAbsW, K: off}, next}
}
func and(mask uint32, next node) node {
	return &stmtNode{bpf.RawInstruction{Op: opAndK, K: mask}, next}
}

// slotJeq is jeq with placeholder s, compiled as standIn.
func slotJeq(s placeholder, standIn uint32, t, f node) node {
	return &jumpNode{opJeqK, s, standIn, t, f}
}

// placeholder names a run-time value of the program.
type placeholder uint8

const (
	slotFd       placeholder = 1 + iota // the gate's descriptor
	slotSecretLo                        // the gate's secret, low 32 bits
	slotSecretHi                        // and high 32 bits
	slotSentinel                        // the sentinel syscall number
	maxSlots     = iota
)

// slots records where the placeholders are: at[i] is the index of the
// instruction whose K is placeholder i+1 (slotFd, ...), or noSlot if the
// program does not hold it. (uint16: a program is at most
// MaxInstructions long, and a Program that stays in its allocation size
// class spares the loader a page fault.)
type slots struct{ at [maxSlots]uint16 }

const noSlot = 0xffff

// compile lays out n. A jump puts the smaller of its two blocks first, so
// the conditional skip is as short as it can be; when even that is beyond
// the 8-bit jt/jf reach, a ja (32-bit offset) bridges it.
//
// The program is emitted backwards, from its last instruction — a block's
// size is known once it is emitted, which is what the jump before it
// needs — into one buffer of the size the tree compiles to: one
// allocation, and a small frame for the recursion (docs/exec.md,
// "Start-up").
func compile(n node) ([]bpf.RawInstruction, slots) {
	c := compiler{prog: make([]bpf.RawInstruction, size(n))}
	for i := range c.slots.at {
		c.slots.at[i] = noSlot
	}
	c.pc = len(c.prog)
	c.emit(n)
	if c.pc != 0 {
		panic("filter: size and emit disagree") // a compiler bug
	}
	return c.prog, c.slots
}

// size returns the number of instructions n compiles to.
func size(n node) int {
	switch n := n.(type) {
	case *stmtNode:
		return 1 + size(n.next)
	case *jumpNode:
		if n.slot == 0 && sameRet(n.t, n.f) {
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
	prog  []bpf.RawInstruction
	pc    int
	slots slots
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
		if n.slot == 0 && sameRet(n.t, n.f) {
			// Both ways end in the same return. (Never a placeholder's
			// jump: a value must not change the program's shape.)
			c.emit(n.t)
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
		c.putJump(n.slot, j)
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
	c.putJump(n.slot, j)
}

// putJump prepends the jump j, and records where it is if it is
// placeholder s's.
func (c *compiler) putJump(s placeholder, j bpf.RawInstruction) {
	c.put(j)
	if s != 0 {
		if c.slots.at[s-1] != noSlot || c.pc >= noSlot {
			panic("filter: a placeholder compiled twice, or beyond any program's length") // a compiler bug
		}
		c.slots.at[s-1] = uint16(c.pc)
	}
}

func unknownNode(n node) { panic(fmt.Sprintf("filter: unknown node %T", n)) }
