#include "textflag.h"

// func installExec(fprog, fd, path, argv, envp, secret, ruleset uintptr) (stage, errno uintptr)
//
// prctl(PR_SET_NO_NEW_PRIVS, 1), landlock_restrict_self(ruleset, 0)
// unless ruleset is -1, seccomp(SECCOMP_SET_MODE_FILTER, 0, fprog) and
// execveat(fd, path, argv, envp, AT_EMPTY_PATH, secret), in a row, in one
// assembly function: the runtime never preempts assembly, so the goroutine
// cannot move to another thread between them, and nothing else runs on
// this thread in between. Landlock comes before the filter, which may
// restrict landlock_restrict_self, and both are per thread: they must be
// on the thread that execs. On failure it returns the stage that failed
// (1 prctl, 4 landlock_restrict_self, 2 seccomp, 3 execveat: the filter
// is in) and the errno.
TEXT ·installExec(SB),NOSPLIT,$0-72
	MOVQ	$157, AX	// SYS_prctl
	MOVQ	$38, DI		// PR_SET_NO_NEW_PRIVS
	MOVQ	$1, SI
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	XORQ	R9, R9
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	landlock
	MOVQ	$1, stage+56(FP)
	JMP	fail

landlock:
	MOVQ	ruleset+48(FP), DI
	CMPQ	DI, $-1
	JEQ	seccomp
	MOVQ	$446, AX	// SYS_landlock_restrict_self
	XORQ	SI, SI		// flags
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	seccomp
	MOVQ	$4, stage+56(FP)
	JMP	fail

seccomp:
	MOVQ	$317, AX	// SYS_seccomp
	MOVQ	$1, DI		// SECCOMP_SET_MODE_FILTER
	XORQ	SI, SI		// flags: this thread only
	MOVQ	fprog+0(FP), DX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	exec
	MOVQ	$2, stage+56(FP)
	JMP	fail

exec:
	MOVQ	$322, AX	// SYS_execveat
	MOVQ	fd+8(FP), DI
	MOVQ	path+16(FP), SI
	MOVQ	argv+24(FP), DX
	MOVQ	envp+32(FP), R10
	MOVQ	$0x1000, R8	// AT_EMPTY_PATH
	MOVQ	secret+40(FP), R9
	SYSCALL
	MOVQ	$3, stage+56(FP)

fail:
	NEGQ	AX
	MOVQ	AX, errno+64(FP)
	RET
