package filter

import (
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
		if f.Gated() && argLoads == 0 {
			t.Errorf("%s: gated filter loads no argument", c.name)
		}
		if !f.Gated() && argLoads != 0 {
			t.Errorf("%s: ungated filter loads %d arguments", c.name, argLoads)
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
