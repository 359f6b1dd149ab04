package filter

import (
	"errors"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"golang.org/x/net/bpf"
)

// TestOnlyGateLoadsArguments walks every path of every filter of cases
// from its entry and fails if any instruction loads anything but arch or
// nr without the path having taken the true edge of a jeq on the gate
// ABI's execve or execveat number while A held nr.
func TestOnlyGateLoadsArguments(t *testing.T) {
	for _, c := range cases(t) {
		f, err := c.compile()
		if err != nil {
			t.Fatalf("%s: Build: %v", c.name, err)
		}
		g := c.opts.GateABI
		execNrs := map[uint32]bool{}
		for _, name := range []string{"execve", "execveat"} {
			for _, nr := range g.Lookup(name) {
				execNrs[uint32(nr)|g.NrBase()] = true
			}
		}
		if c.opts.StubCalls {
			// The stub's prctl and seccomp, of the set's ABI.
			abi := c.set.ABI()
			for _, name := range []string{"prctl", "seccomp"} {
				for _, nr := range abi.Lookup(name) {
					execNrs[uint32(nr)|abi.NrBase()] = true
				}
			}
		}
		argLoads := 0
		type state struct {
			pc        int
			aIsNr     bool
			afterExec bool
		}
		seen := map[state]bool{}
		var walk func(s state)
		walk = func(s state) {
			if seen[s] {
				return
			}
			seen[s] = true
			prog := f.Instructions()
			if s.pc >= len(prog) {
				t.Fatalf("%s: a path runs off the end", c.name)
			}
			ins := prog[s.pc]
			next := func(skip int, aIsNr, afterExec bool) {
				walk(state{s.pc + 1 + skip, aIsNr, afterExec})
			}
			switch ins.Op {
			case opLdAbsW:
				if ins.K != offNr && ins.K != offArch {
					argLoads++
					if !s.afterExec {
						t.Errorf("%s: instruction %d loads %s on a path that is not execve/execveat's:\n%v", c.name, s.pc, fieldName(ins.K), f)
					}
				}
				next(0, ins.K == offNr, s.afterExec)
			case opRetK:
			case opJa:
				next(int(ins.K), s.aIsNr, s.afterExec)
			case opAndK:
				next(0, false, s.afterExec)
			case opJeqK, opJgeK, opJgtK, opJsetK:
				gateEdge := ins.Op == opJeqK && s.aIsNr && execNrs[ins.K]
				next(int(ins.Jt), s.aIsNr, s.afterExec || gateEdge)
				next(int(ins.Jf), s.aIsNr, s.afterExec)
			default:
				t.Fatalf("%s: unexpected opcode %#x at %d", c.name, ins.Op, s.pc)
			}
		}
		walk(state{})
		if (f.Gated() || f.StubCalls()) && argLoads == 0 {
			t.Errorf("%s: gated filter, or one with the stub's calls, loads no argument", c.name)
		}
		if !f.Gated() && !f.StubCalls() && argLoads != 0 {
			t.Errorf("%s: filter with neither the gate nor the stub's calls loads %d arguments", c.name, argLoads)
		}
		stubNrsRestricted := false
		if c.opts.StubCalls {
			for _, name := range []string{"prctl", "seccomp"} {
				for _, nr := range c.set.ABI().Lookup(name) {
					stubNrsRestricted = stubNrsRestricted || c.set.Has(nr)
				}
			}
		}
		if f.StubCalls() != stubNrsRestricted {
			t.Errorf("%s: StubCalls() = %v, want %v (asked %v, prctl or seccomp restricted %v)", c.name, f.StubCalls(), stubNrsRestricted, c.opts.StubCalls, stubNrsRestricted)
		}
	}
}

// TestActionCache checks that every syscall the filter allows, but the
// gate's execveat, is one the kernel's action cache can serve.
func TestActionCache(t *testing.T) {
	for _, c := range cases(t) {
		f, err := c.compile()
		if err != nil {
			t.Fatalf("%s: Build: %v", c.name, err)
		}
		abi := c.set.ABI()
		gateNr, _ := execveatNr(c.opts.GateABI)
		for nr := range uint32(1024) {
			nr |= abi.NrBase()
			if f.Gated() && nr == gateNr && abi.AuditArch() == c.opts.GateABI.AuditArch() {
				continue
			}
			allowed := model(c.set, c.opts, c.vals, data{arch: abi.AuditArch(), nr: nr}) == SECCOMP_RET_ALLOW
			if got := ConstAllow(f.Instructions(), abi.AuditArch(), nr); got != allowed {
				t.Errorf("%s: ConstAllow(nr %#x) = %v, want %v", c.name, nr, got, allowed)
			}
		}
	}
}

// TestGateOnlyWhenNeeded pins the choice docs/exec.md explains: the gate is
// in the filter exactly when the loader's own execveat would otherwise not
// be allowed.
func TestGateOnlyWhenNeeded(t *testing.T) {
	execveat := bitmap.NewSet(bitmap.X86_64, 322)
	execve := bitmap.NewSet(bitmap.X86_64, 59)
	beyond := bitmap.NewSet(bitmap.X86_64)
	beyond.SetDenyBeyond(true)
	tests := []struct {
		name string
		set  bitmap.Set
		opts Options
		want bool
	}{
		{"execveat restricted", execveat, Options{Gate: true, GateABI: bitmap.X86_64}, true},
		{"execveat restricted, no gate asked", execveat, Options{GateABI: bitmap.X86_64}, false},
		{"only execve restricted", execve, Options{Gate: true, GateABI: bitmap.X86_64}, false},
		{"nothing restricted", beyond, Options{Gate: true, GateABI: bitmap.X86_64}, false},
		{"x32 program, x86_64 loader", bitmap.NewSet(bitmap.X32), Options{Gate: true, GateABI: bitmap.X86_64}, true},
		{"i386 program, x86_64 loader", bitmap.NewSet(bitmap.I386), Options{Gate: true, GateABI: bitmap.X86_64}, true},
		{"log action", execveat, Options{Action: Log(), Gate: true, GateABI: bitmap.X86_64}, true},
	}
	for _, tt := range tests {
		f, err := Build(tt.set, tt.opts)
		if err != nil {
			t.Fatalf("%s: Build: %v", tt.name, err)
		}
		if got := f.Gated(); got != tt.want {
			t.Errorf("%s: Build(%v).Gated() = %v, want %v", tt.name, tt.set, got, tt.want)
		}
	}
}

// TestStubNrs checks the numbers of the stub's prctl and seccomp against
// the syscall tables, and that they are there for exactly the ABIs with a
// stub.
func TestStubNrs(t *testing.T) {
	for _, abi := range bitmap.ABIs {
		_, err := Build(bitmap.NewSet(abi), Options{StubCalls: true})
		hasStub := abi == bitmap.X86_64 || abi == bitmap.AARCH64
		if hasStub != (err == nil) {
			t.Errorf("Build(%v, StubCalls) = %v; want an error only for an ABI without a stub", abi, err)
		}
		if !hasStub {
			if !errors.Is(err, ErrABI) {
				t.Errorf("Build(%v, StubCalls) = %v, want ErrABI", abi, err)
			}
			continue
		}
		for name, got := range map[string]uint32{"prctl": stubNrs[abi].prctl, "seccomp": stubNrs[abi].seccomp} {
			if nrs := abi.Lookup(name); len(nrs) != 1 || uint32(nrs[0]) != got {
				t.Errorf("stubNrs[%v].%s = %d; the table says %v", abi, name, got, nrs)
			}
		}
	}
}

// TestStubCallsOnlyWhenNeeded pins that the stub's checks are compiled in
// exactly when the set restricts prctl or seccomp, and that a filter
// without them is the same program as one never asked for them.
func TestStubCallsOnlyWhenNeeded(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  bitmap.Set
		want bool
	}{
		{"neither", bitmap.NewSet(bitmap.X86_64, 101), false},
		{"prctl", bitmap.NewSet(bitmap.X86_64, 157), true},
		{"seccomp", bitmap.NewSet(bitmap.X86_64, 317), true},
		{"aarch64 both", bitmap.NewSet(bitmap.AARCH64, 167, 277), true},
		{"aarch64, x86_64's numbers", bitmap.NewSet(bitmap.AARCH64, 157, 317), false},
	} {
		with, err := Build(tt.set, Options{StubCalls: true})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		without, err := Build(tt.set, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if with.StubCalls() != tt.want {
			t.Errorf("%s: Build(%v, StubCalls).StubCalls() = %v, want %v", tt.name, tt.set, with.StubCalls(), tt.want)
		}
		if same := with.String() == without.String(); same == tt.want {
			t.Errorf("%s: with and without StubCalls the same program: %v, want %v", tt.name, same, !tt.want)
		}
	}
}

// TestExecveatNrs checks the exec gate's execveat numbers against the
// syscall tables.
func TestExecveatNrs(t *testing.T) {
	for _, abi := range bitmap.ABIs {
		nrs := abi.Lookup("execveat")
		if len(nrs) == 0 {
			t.Fatalf("%v: the table has no execveat", abi)
		}
		// x32's table also lists 322, x86_64's execveat, which arch/x86's
		// syscall_64.tbl marks "64": an x32 process calls 545, its own.
		got, ok := execveatNr(abi)
		if want := uint32(nrs[len(nrs)-1]) | abi.NrBase(); !ok || got != want {
			t.Errorf("execveatNr(%v) = %#x, %v; the table says %#x", abi, got, ok, want)
		}
	}
	if _, ok := execveatNr(bitmap.Unknown); ok {
		t.Errorf("execveatNr(Unknown) succeeded")
	}
}

// TestConstAllow pins ConstAllow, the evaluator run the way the kernel's
// seccomp_is_const_allow runs it, on hand-made programs: a load of an
// argument or of instruction_pointer on the path, an instruction it does
// not know, a return of anything but ALLOW, or running off the end make a
// syscall uncacheable; Eval of the same programs, with the arguments
// known, follows the loads.
func TestConstAllow(t *testing.T) {
	type ins = bpf.RawInstruction
	allow := ins{Op: opRetK, K: SECCOMP_RET_ALLOW}
	kill := ins{Op: opRetK, K: SECCOMP_RET_KILL_PROCESS}
	argOn5 := []ins{ // nr 5: allow if args[0] is 7; others: allow
		{Op: opLdAbsW, K: offNr},
		{Op: opJeqK, K: 5, Jt: 0, Jf: 3},
		{Op: opLdAbsW, K: offArgLo(0)},
		{Op: opJeqK, K: 7, Jt: 1, Jf: 0},
		kill,
		allow,
	}
	tests := []struct {
		name   string
		prog   []ins
		nr     uint32
		args   [6]uint64
		cached bool
		eval   uint32
	}{
		{"ret allow", []ins{allow}, 0, [6]uint64{}, true, SECCOMP_RET_ALLOW},
		{"ret kill", []ins{kill}, 0, [6]uint64{}, false, SECCOMP_RET_KILL_PROCESS},
		{"ret log", []ins{{Op: opRetK, K: SECCOMP_RET_LOG}}, 0, [6]uint64{}, false, SECCOMP_RET_LOG},
		{"argument load on the path", argOn5, 5, [6]uint64{7}, false, SECCOMP_RET_ALLOW},
		{"argument load on the path, wrong argument", argOn5, 5, [6]uint64{8}, false, SECCOMP_RET_KILL_PROCESS},
		{"argument load on another path", argOn5, 6, [6]uint64{8}, true, SECCOMP_RET_ALLOW},
		{"instruction_pointer", []ins{{Op: opLdAbsW, K: 8}, allow}, 0, [6]uint64{}, false, SECCOMP_RET_ALLOW},
		{"arch and mask", []ins{{Op: opLdAbsW, K: offArch}, {Op: opAndK, K: 0xff}, {Op: opJeqK, K: 0x3e, Jt: 1}, kill, allow}, 0, [6]uint64{}, true, SECCOMP_RET_ALLOW},
		{"ja", []ins{{Op: opJa, K: 1}, kill, allow}, 0, [6]uint64{}, true, SECCOMP_RET_ALLOW},
		{"jgt and jset", []ins{{Op: opLdAbsW, K: offNr}, {Op: opJgtK, K: 3, Jt: 1}, kill, {Op: opJsetK, K: 4, Jt: 1}, kill, allow}, 4, [6]uint64{}, true, SECCOMP_RET_ALLOW},
		{"ldx: unknown to both", []ins{{Op: 0x01}, allow}, 0, [6]uint64{}, false, SECCOMP_RET_KILL_PROCESS},
		{"off the end", []ins{{Op: opLdAbsW, K: offNr}}, 0, [6]uint64{}, false, SECCOMP_RET_KILL_PROCESS},
	}
	for _, tt := range tests {
		if got := ConstAllow(tt.prog, bitmap.AUDIT_ARCH_X86_64, tt.nr); got != tt.cached {
			t.Errorf("%s: ConstAllow(nr %d) = %v, want %v", tt.name, tt.nr, got, tt.cached)
		}
		if got := Eval(tt.prog, bitmap.AUDIT_ARCH_X86_64, tt.nr, tt.args); got != tt.eval {
			t.Errorf("%s: Eval(nr %d, args %v) = %s, want %s", tt.name, tt.nr, tt.args, RetName(got), RetName(tt.eval))
		}
	}
}
