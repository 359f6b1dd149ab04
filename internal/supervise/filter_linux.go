package supervise

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
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
