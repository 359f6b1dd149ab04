package supervise

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Offsets in struct seccomp_data (include/uapi/linux/seccomp.h).
const offNr = 0

// learnFilter traces every syscall.
func learnFilter() ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		bpf.RetConstant{Val: unix.SECCOMP_RET_TRACE},
	})
}

// sentinelFilter kills the process on syscall number sentinel, whatever
// the arch, and allows everything else. Explain stacks it on the enforcing
// filter: the tracer rewrites a restricted syscall's number to sentinel,
// and the kernel's re-run of every filter after the trace stop answers with
// SECCOMP_RET_KILL_PROCESS, the strongest action, so the process dies of
// SIGSYS before the syscall runs. filter.Options.Sentinel does the same
// inside the enforcing filter, but after its arch check; this filter also
// covers a hit of a foreign arch (an i386 syscall from an x86_64 program),
// for which that filter answers RET_TRACE again, which a re-check allows.
// It reads only nr, so the kernel's action cache keeps it free.
func sentinelFilter(sentinel uint32) ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: offNr, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: sentinel, SkipFalse: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_KILL_PROCESS},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW},
	})
}

// errnoFilter gives the numbers base | e (e in 1..4095; base's low 12
// bits zero, below the x32 bit) SECCOMP_RET_ERRNO | e, whatever the arch,
// and allows every other number. Explain stacks it like sentinelFilter:
// the tracer rewrites a restricted syscall whose action is errno e to base
// | e, and the kernel's re-run of the filters after the trace stop answers
// with SECCOMP_RET_ERRNO | e (stricter than the enforcing filter's
// RET_TRACE, which the re-run allows): the call fails with e, as it does
// without --explain, and the program goes on. Real syscall numbers take
// the first jump to ALLOW, so the kernel's action cache keeps them free;
// the ALU instructions are on the rewritten numbers' path only.
func errnoFilter(base uint32) ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: offNr, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: base + 1, SkipFalse: 4},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: base + 0x1000, SkipTrue: 3},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xfff},
		bpf.ALUOpConstant{Op: bpf.ALUOpOr, Val: unix.SECCOMP_RET_ERRNO},
		bpf.RetA{},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW},
	})
}

// encodeFilters turns filters into the text the child reads from its
// environment: for each, base64 of the struct sock_filter array in host
// byte order; separated by commas, in the order they are to be installed.
func encodeFilters(filters ...[]bpf.RawInstruction) string {
	var enc []string
	for _, f := range filters {
		b := make([]byte, 0, 8*len(f))
		for _, in := range f {
			b = binary.NativeEndian.AppendUint16(b, in.Op)
			b = append(b, in.Jt, in.Jf)
			b = binary.NativeEndian.AppendUint32(b, in.K)
		}
		enc = append(enc, base64.StdEncoding.EncodeToString(b))
	}
	return strings.Join(enc, ",")
}

func decodeFilters(s string) ([][]unix.SockFilter, error) {
	var fs [][]unix.SockFilter
	for _, e := range strings.Split(s, ",") {
		f, err := decodeFilter(e)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func decodeFilter(s string) ([]unix.SockFilter, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b)%8 != 0 || len(b)/8 > 4096 {
		return nil, errors.New("bad filter length")
	}
	f := make([]unix.SockFilter, len(b)/8)
	for i := range f {
		in := b[8*i:]
		f[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(in), Jt: in[2], Jf: in[3], K: binary.NativeEndian.Uint32(in[4:])}
	}
	return f, nil
}

// The syscalls by which a supervised program could take the supervisor's
// place: with them, a restricted syscall of the program's could run under
// --explain, and any syscall unrecorded under --learn.
//
//   - ptrace, any request: a tracer of its own children answers their
//     SECCOMP_RET_TRACE stops itself, and a PTRACE_CONT lets the syscall
//     run;
//   - clone with CLONE_UNTRACED: a child the supervisor is never attached
//     to, whose stops go to whoever traces it;
//   - seccomp(SECCOMP_SET_MODE_FILTER) with
//     SECCOMP_FILTER_FLAG_NEW_LISTENER: a filter of its own whose
//     SECCOMP_RET_USER_NOTIF outranks SECCOMP_RET_TRACE, and whose
//     listener's SECCOMP_USER_NOTIF_FLAG_CONTINUE runs the syscall.
//
// Both modes kill the program at any of them (docs/learn.md, "Programs
// that trace"). clone3 takes its flags in memory, which a filter cannot
// read; a CLONE_UNTRACED child made with it is still no escape once
// ptrace is refused: with nobody tracing it, its SECCOMP_RET_TRACE
// syscalls fail with ENOSYS and never run.
const (
	cloneUntraced = 0x00800000 // CLONE_UNTRACED, include/uapi/linux/sched.h
	offArch       = 4
	offArg0Lo     = 16 // args[0], low half (every ABI here is little-endian)
	offArg1Lo     = 24
)

// tracerNrs returns abi's numbers, as seccomp sees them (with the x32
// bit), of ptrace, clone and seccomp.
func tracerNrs(abi bitmap.ABI) (ptrace, clone, seccomp []uint32) {
	nrs := func(name string) []uint32 {
		var n []uint32
		for _, nr := range abi.Lookup(name) {
			n = append(n, uint32(nr)|abi.NrBase())
		}
		return n
	}
	return nrs("ptrace"), nrs("clone"), nrs("seccomp")
}

// tracerFilter answers SECCOMP_RET_TRACE to abi's syscalls by which a
// program could take the supervisor's place (see above) and allows every
// other: Explain stacks it on the enforcing filter, which decides the
// rest (and traces every syscall of another ABI already). Only these
// three numbers' branches load arguments, so every other syscall stays in
// the kernel's action cache.
func tracerFilter(abi bitmap.ABI) ([]bpf.RawInstruction, error) {
	ptrace, clone, seccomp := tracerNrs(abi)
	if len(ptrace) == 0 || len(clone) == 0 || len(seccomp) == 0 {
		return nil, fmt.Errorf("ABI %v: no ptrace, clone or seccomp in its syscall table", abi)
	}
	const (
		allow = unix.SECCOMP_RET_ALLOW
		trace = unix.SECCOMP_RET_TRACE
	)
	// The program, with its jumps as labels resolved below.
	type jump struct {
		cond          bpf.JumpTest
		val           uint32
		ifTrue, ifFal string
	}
	var prog []any // bpf.Instruction, jump or label (a string)
	prog = append(prog,
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		jump{bpf.JumpEqual, abi.AuditArch(), "", "allow"},
		bpf.LoadAbsolute{Off: offNr, Size: 4})
	for _, nr := range ptrace {
		prog = append(prog, jump{bpf.JumpEqual, nr, "trace", ""})
	}
	for _, nr := range clone {
		prog = append(prog, jump{bpf.JumpEqual, nr, "clone", ""})
	}
	for _, nr := range seccomp {
		prog = append(prog, jump{bpf.JumpEqual, nr, "seccomp", ""})
	}
	prog = append(prog,
		bpf.RetConstant{Val: allow},
		"clone",
		bpf.LoadAbsolute{Off: offArg0Lo, Size: 4},
		jump{bpf.JumpBitsSet, cloneUntraced, "trace", "allow"},
		"seccomp",
		bpf.LoadAbsolute{Off: offArg0Lo, Size: 4},
		jump{bpf.JumpEqual, unix.SECCOMP_SET_MODE_FILTER, "", "allow"},
		bpf.LoadAbsolute{Off: offArg1Lo, Size: 4},
		jump{bpf.JumpBitsSet, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, "trace", "allow"},
		"allow",
		bpf.RetConstant{Val: allow},
		"trace",
		bpf.RetConstant{Val: trace})
	at := map[string]int{}
	n := 0
	for _, p := range prog {
		if l, ok := p.(string); ok {
			at[l] = n
		} else {
			n++
		}
	}
	var out []bpf.Instruction
	for _, p := range prog {
		switch p := p.(type) {
		case string:
		case jump:
			skip := func(l string) uint8 {
				if l == "" {
					return 0
				}
				return uint8(at[l] - len(out) - 1)
			}
			out = append(out, bpf.JumpIf{Cond: p.cond, Val: p.val, SkipTrue: skip(p.ifTrue), SkipFalse: skip(p.ifFal)})
		case bpf.Instruction:
			out = append(out, p)
		}
	}
	return bpf.Assemble(out)
}

// tracerHit says whether the syscall si is one by which a program could
// take the supervisor's place, and if so which, with its arguments as
// they decided it.
func tracerHit(si syscallInfo) (string, bool) {
	abi, nr := abiOf(si.Arch, si.Nr)
	if !abi.Known() || nr < 0 {
		return "", false
	}
	n := uint32(nr) | abi.NrBase()
	ptrace, clone, seccomp := tracerNrs(abi)
	name := fmt.Sprintf("%s (%d, %s)", abi.Name(nr), nr, abi)
	switch {
	case slices.Contains(ptrace, n):
		return name, true
	case slices.Contains(clone, n) && uint32(si.Args[0])&cloneUntraced != 0:
		return name + " with CLONE_UNTRACED", true
	case slices.Contains(seccomp, n) && uint32(si.Args[0]) == unix.SECCOMP_SET_MODE_FILTER && uint32(si.Args[1])&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0:
		return name + " with SECCOMP_FILTER_FLAG_NEW_LISTENER", true
	}
	return "", false
}

// tracerLine is the report of a tracer hit under mode (--explain or
// --learn).
func tracerLine(mode string, pid int, exe, what string) string {
	return fmt.Sprintf("sysrestrict-exec: killed %s (pid %d): %s: %s cannot supervise a program that traces processes, starts untraced ones or hands syscalls to a listener of its own, which could let syscalls run past it; run it under sysrestrict-exec without %s",
		exe, pid, what, mode, mode)
}
