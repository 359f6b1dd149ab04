package filter

import "golang.org/x/net/bpf"

// Eval runs prog on one syscall's seccomp_data fields (arch, nr, args) the
// way the kernel does, and returns its verdict, a SECCOMP_RET_* value. It
// knows the instructions Build emits; any other instruction, or running
// off the end, gives SECCOMP_RET_KILL_PROCESS. The loader uses it to
// decide, before installing, whether its own write(2) would be allowed.
func Eval(prog []bpf.RawInstruction, arch, nr uint32, args [6]uint64) uint32 {
	k, _ := run(prog, arch, nr, &args)
	return k
}

// ConstAllow reports whether prog allows the syscall (arch, nr) whatever
// its arguments: the kernel's seccomp_is_const_allow (kernel/seccomp.c,
// Linux 5.11+), which decides per syscall number whether the action cache
// may skip the filter. It is Eval with the arguments unknown: a load of
// anything but nr and arch on the path, or an instruction the kernel's
// emulator does not know, makes the syscall uncacheable.
func ConstAllow(prog []bpf.RawInstruction, arch, nr uint32) bool {
	k, known := run(prog, arch, nr, nil)
	return known && k == SECCOMP_RET_ALLOW
}

// run is the one evaluator behind Eval and ConstAllow. With args nil the
// arguments are unknown: a load of any field but nr and arch ends the run
// with known false. The instructions it takes are the ones
// seccomp_is_const_allow emulates (ld [k] of a 32-bit word, jeq, jge, jgt,
// jset and ja on constants, and #k, ret #k); anything else is a kill
// (known, for Eval) and uncacheable (for ConstAllow, which wants known
// and ALLOW).
func run(prog []bpf.RawInstruction, arch, nr uint32, args *[6]uint64) (k uint32, known bool) {
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		ins := prog[pc]
		switch ins.Op {
		case opLdAbsW:
			switch {
			case ins.K == offNr:
				a = nr
			case ins.K == offArch:
				a = arch
			case args == nil:
				return 0, false
			case ins.K >= offArgs && ins.K < dataLen:
				v := args[(ins.K-offArgs)/8]
				if (ins.K-offArgs)%8 != 0 {
					v >>= 32
				}
				a = uint32(v)
			default:
				a = 0 // instruction_pointer: not known here
			}
		case opAndK:
			a &= ins.K
		case opJa:
			pc += int(ins.K)
		case opJeqK, opJgeK, opJgtK, opJsetK:
			var ok bool
			switch ins.Op {
			case opJeqK:
				ok = a == ins.K
			case opJgeK:
				ok = a >= ins.K
			case opJgtK:
				ok = a > ins.K
			case opJsetK:
				ok = a&ins.K != 0
			}
			if ok {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		case opRetK:
			return ins.K, true
		default:
			return SECCOMP_RET_KILL_PROCESS, true
		}
	}
	return SECCOMP_RET_KILL_PROCESS, true
}
