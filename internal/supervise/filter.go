package supervise

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Why a syscall was traced: the SECCOMP_RET_DATA of the explain filter's
// RET_TRACE, which the tracer reads back from PTRACE_GET_SYSCALL_INFO.
const (
	reasonLearn  = 0 // the learn filter traces everything
	reasonArch   = 1 // seccomp arch is not the note's ABI
	reasonX32    = 2 // x86_64 note, nr has the x32 bit (or x32 note, nr lacks it)
	reasonBeyond = 3 // nr >= 512 and DENY_BEYOND
	reasonBitmap = 4 // the set's bit for nr
)

// Offsets in struct seccomp_data (include/uapi/linux/seccomp.h).
const (
	offNr   = 0
	offArch = 4
)

// learnFilter traces every syscall.
func learnFilter() ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		bpf.RetConstant{Val: unix.SECCOMP_RET_TRACE | reasonLearn},
	})
}

// explainFilter enforces set with the semantics of SPEC section 3, with
// SECCOMP_RET_TRACE (data: the reason) as the action, and kills the process
// outright on syscall number sentinel, whatever the arch: the tracer rewrites
// a restricted syscall's number to sentinel, and the kernel's re-run of the
// filter after the trace stop kills the process before the syscall runs.
//
// It is a plain linear filter: explain is a diagnosis mode, and since Linux
// 5.11 the kernel's action cache keeps allowed syscalls free whatever the
// filter's length.
func explainFilter(set bitmap.Set, sentinel uint32) ([]bpf.RawInstruction, error) {
	abi := set.ABI()
	if !abi.Known() {
		return nil, fmt.Errorf("%w: %s", ErrABI, abi)
	}
	trace := func(reason uint32) bpf.Instruction { return bpf.RetConstant{Val: unix.SECCOMP_RET_TRACE | reason} }
	allow := bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW}
	p := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offNr, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: sentinel, SkipTrue: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_KILL_PROCESS},
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: abi.AuditArch(), SkipTrue: 1},
		trace(reasonArch),
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
	switch abi {
	case bitmap.X86_64:
		p = append(p,
			bpf.JumpIf{Cond: bpf.JumpBitsNotSet, Val: bitmap.X32SyscallBit, SkipTrue: 1},
			trace(reasonX32))
	case bitmap.X32:
		p = append(p,
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: bitmap.X32SyscallBit, SkipTrue: 1},
			trace(reasonX32),
			bpf.ALUOpConstant{Op: bpf.ALUOpSub, Val: bitmap.X32SyscallBit})
	}
	var beyond bpf.Instruction = allow
	if set.DenyBeyond() {
		beyond = trace(reasonBeyond)
	}
	p = append(p,
		bpf.JumpIf{Cond: bpf.JumpLessThan, Val: bitmap.Size, SkipTrue: 1},
		beyond)
	for nr := range set.All() {
		p = append(p,
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(nr), SkipTrue: 1},
			trace(reasonBitmap))
	}
	p = append(p, allow)
	return bpf.Assemble(p)
}

// encodeFilter turns a filter into the text the child reads from its
// environment: base64 of the struct sock_filter array in host byte order.
func encodeFilter(f []bpf.RawInstruction) string {
	b := make([]byte, 0, 8*len(f))
	for _, in := range f {
		b = binary.NativeEndian.AppendUint16(b, in.Op)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return base64.StdEncoding.EncodeToString(b)
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
