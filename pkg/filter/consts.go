package filter

// Kernel constants, spelled as in include/uapi/linux/seccomp.h,
// include/uapi/linux/filter.h, include/uapi/linux/fcntl.h and
// include/uapi/linux/prctl.h. They are defined here rather than taken from
// golang.org/x/sys/unix so that this package, which is pure, compiles and
// is tested on every OS.
const (
	SECCOMP_RET_KILL_PROCESS = 0x80000000
	SECCOMP_RET_KILL_THREAD  = 0x00000000
	SECCOMP_RET_TRAP         = 0x00030000
	SECCOMP_RET_ERRNO        = 0x00050000
	SECCOMP_RET_USER_NOTIF   = 0x7fc00000
	SECCOMP_RET_TRACE        = 0x7ff00000
	SECCOMP_RET_LOG          = 0x7ffc0000
	SECCOMP_RET_ALLOW        = 0x7fff0000

	SECCOMP_RET_ACTION_FULL = 0xffff0000
	SECCOMP_RET_DATA        = 0x0000ffff

	// AT_EMPTY_PATH is the execveat flag of the exec gate.
	AT_EMPTY_PATH = 0x1000

	// The arguments of the start-up stub's calls (Options.StubCalls;
	// include/uapi/linux/prctl.h, include/uapi/linux/seccomp.h).
	PR_SET_NO_NEW_PRIVS       = 38
	SECCOMP_SET_MODE_FILTER   = 1
	SECCOMP_FILTER_FLAG_TSYNC = 1
)

// Offsets in struct seccomp_data (include/uapi/linux/seccomp.h):
//
//	struct seccomp_data {
//		int   nr;                  // 0
//		__u32 arch;                // 4
//		__u64 instruction_pointer; // 8
//		__u64 args[6];             // 16 + 8*i
//	};
//
// The args are in the task's byte order; every ABI sysrestrict enforces is
// little-endian, so the low half of args[i] is at 16+8*i, the high half 4
// bytes further.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
	dataLen = 64
)

func offArgLo(i int) uint32 { return uint32(offArgs + 8*i) }
func offArgHi(i int) uint32 { return uint32(offArgs + 8*i + 4) }

// Classic BPF opcodes (include/uapi/linux/bpf_common.h): only those the
// compiler emits. Every one of them but the argument loads is understood by
// the kernel's action-cache emulator, seccomp_is_const_allow in
// kernel/seccomp.c.
const (
	opLdAbsW  = 0x20 // BPF_LD  | BPF_W   | BPF_ABS
	opJa      = 0x05 // BPF_JMP | BPF_JA
	opJeqK    = 0x15 // BPF_JMP | BPF_JEQ  | BPF_K
	opJgtK    = 0x25 // BPF_JMP | BPF_JGT  | BPF_K
	opJgeK    = 0x35 // BPF_JMP | BPF_JGE  | BPF_K
	opJsetK   = 0x45 // BPF_JMP | BPF_JSET | BPF_K
	opAndK    = 0x54 // BPF_ALU | BPF_AND  | BPF_K
	opRetK    = 0x06 // BPF_RET | BPF_K
	maxJumpJt = 255
)

// MaxInstructions is BPF_MAXINSNS, the kernel's limit for one filter.
const MaxInstructions = 4096
