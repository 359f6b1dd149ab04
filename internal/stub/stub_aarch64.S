/*
 * The aarch64 start-up stub of an embedded stamp (docs/embed.md).
 *
 * sysrestrict-stamp --embed points e_entry at `stub`. Before any of the
 * program's own code runs it sets no_new_privs, installs the filter that
 * follows the template with SECCOMP_FILTER_FLAG_TSYNC, restores every
 * register it touched and branches to the original entry. If either call
 * fails it writes one line to stderr,
 *
 *	<argv[0]>: sysrestrict: <call> failed: errno <n>
 *
 * and exits with status 126: nothing of the program runs.
 *
 * At entry (the kernel's start_thread, arch/arm64/include/asm/processor.h,
 * zeroes every register; glibc's ld.so, sysdeps/aarch64/dl-start.S, comes
 * here by `br x16` with x0 = _dl_fini; sysdeps/aarch64/start.S reads it):
 * sp points at argc, then argv[0..argc-1], NULL, envp..., auxv, and is
 * 16-byte aligned; x0 holds rtld_fini. Everything is kept as found, NZCV
 * included: no instruction here sets the flags.
 *
 * The template is position-independent and has no relocations: every
 * reference is PC-relative to a label in this section. Values known only
 * when a binary is stamped are placeholders at the labels the Go side
 * patches (stub.go): filter_len and entry_insns. `go generate` assembles
 * this file into zstub.go; TestTemplateMatchesSource assembles it again
 * and compares.
 *
 * Syscall numbers: include/uapi/asm-generic/unistd.h.
 */

	.ifndef FILTER_LEN
	.set	FILTER_LEN, 0	/* stand-in; stub.Build writes the filter's length */
	.endif
	.ifndef ENTRY_INSN0	/* stand-ins (udf #0); stub.Build writes the branch */
	.set	ENTRY_INSN0, 0
	.endif
	.ifndef ENTRY_INSN1
	.set	ENTRY_INSN1, 0
	.endif
	.ifndef ENTRY_INSN2
	.set	ENTRY_INSN2, 0
	.endif

	.arch	armv8.5-a	/* for bti; a hint, a nop on older cores */
	.text
stub:
	bti	jc		/* landing pad: ld.so reaches AT_ENTRY by br x16 */
	sub	sp, sp, #80	/* sock_fprog at sp, saved registers above; sp stays 16-aligned */
	stp	x0, x1, [sp, #16] /* x0: rtld_fini */
	stp	x2, x3, [sp, #32]
	stp	x4, x8, [sp, #48]
	stp	x9, x10, [sp, #64] /* sp = S - 80, S: sp at entry (&argc) */

	/* prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0): the kernel wants args 3-5 zero */
	mov	x0, #38		/* PR_SET_NO_NEW_PRIVS */
	mov	x1, #1
	mov	x2, #0
	mov	x3, #0
	mov	x4, #0
	mov	x8, #167	/* __NR_prctl */
	svc	#0
	cbnz	x0, prctl_failed

	/* struct sock_fprog { unsigned short len; struct sock_filter *filter; } */
	ldr	x9, filter_len	/* .len and its 6 bytes of padding (zero) */
	adr	x10, filter	/* .filter */
	stp	x9, x10, [sp]
	mov	x0, #1		/* SECCOMP_SET_MODE_FILTER */
seccomp_flags:
	mov	x1, #1		/* SECCOMP_FILTER_FLAG_TSYNC: every thread, or none */
	mov	x2, sp		/* &sock_fprog */
	mov	x8, #277	/* __NR_seccomp */
	svc	#0
	cbz	x0, installed	/* 0: in; < 0: -errno; > 0: a thread TSYNC could not sync */
	ldr	x9, accept_enosys /* a switch for tests under qemu-user; Build writes 0 */
	cbz	x9, seccomp_failed
	add	x9, x0, #38	/* x0 == -ENOSYS? */
	cbnz	x9, seccomp_failed
installed:
	ldp	x9, x10, [sp, #64] /* everything back as it was at entry */
	ldp	x4, x8, [sp, #48]
	ldp	x2, x3, [sp, #32]
	ldp	x0, x1, [sp, #16]
	add	sp, sp, #80	/* sp = S again */
entry_insns:			/* placeholders, to the original entry: */
	.inst	ENTRY_INSN0	/*   b <entry>  (within 128 MiB)  | adrp x16, <entry>          */
	.inst	ENTRY_INSN1	/*   udf #0     (never reached)   | add x16, x16, :lo12:<entry> */
	.inst	ENTRY_INSN2	/*   udf #0     (never reached)   | br x16                     */

/* Failure: a reason (x1, length x2) and what the call returned (x0). */
prctl_failed:
	adr	x1, why_prctl
	mov	x2, #(why_prctl_end - why_prctl)
	b	fail
seccomp_failed:
	adr	x1, why_seccomp
	mov	x2, #(why_seccomp_end - why_seccomp)
	tbnz	x0, #63, fail	/* -errno */
	adr	x1, why_tsync	/* a thread id */
	mov	x2, #(why_tsync_end - why_tsync)
fail:
	ldr	x3, [sp, #88]	/* argv[0], at S + 8; NULL if argc is 0 */
	sub	sp, sp, #96	/* struct iovec iov[4] at sp; the number ends at sp + 96 */
	stp	x1, x2, [sp, #32] /* iov[2]: the reason */
	adr	x1, prefix
	mov	x2, #(prefix_end - prefix)
	stp	x1, x2, [sp, #16] /* iov[1]: ": sysrestrict: " */
	mov	x4, #0		/* iov[0]: argv[0], strlen of it */
	cbz	x3, 2f
1:	ldrb	w5, [x3, x4]
	cbz	w5, 2f
	add	x4, x4, #1
	b	1b
2:	stp	x3, x4, [sp]
	tbz	x0, #63, 3f	/* the number: |x0| */
	neg	x0, x0
3:	add	x3, sp, #95	/* its decimal digits, then "\n", written backwards */
	mov	w5, #'\n'
	strb	w5, [x3]
	mov	x6, #10
4:	udiv	x7, x0, x6
	msub	x5, x7, x6, x0	/* the digit: x0 - (x0 / 10) * 10 */
	add	w5, w5, #'0'
	strb	w5, [x3, #-1]!
	mov	x0, x7
	cbnz	x0, 4b
	add	x4, sp, #96	/* iov[3]: the digits and "\n" */
	sub	x4, x4, x3
	stp	x3, x4, [sp, #48]
	mov	x0, #2		/* stderr */
	mov	x1, sp
	mov	x2, #4
	mov	x8, #66		/* __NR_writev: one line in one write */
	svc	#0
5:	mov	x0, #126
	mov	x8, #94		/* __NR_exit_group */
	svc	#0
	b	5b		/* not reached */

prefix:
	.ascii	": sysrestrict: "
prefix_end:
why_prctl:
	.ascii	"prctl(PR_SET_NO_NEW_PRIVS) failed: errno "
why_prctl_end:
why_seccomp:
	.ascii	"seccomp(SECCOMP_SET_MODE_FILTER) failed: errno "
why_seccomp_end:
why_tsync:
	.ascii	"seccomp(SECCOMP_SET_MODE_FILTER) failed: TSYNC could not sync thread "
why_tsync_end:

	.balign	8, 0
filter_len:
	.quad	FILTER_LEN	/* placeholder: sock_fprog.len, 1 to BPF_MAXINSNS */
accept_enosys:
	.quad	0		/* nonzero: seccomp()'s ENOSYS counts as installed (tests only) */
filter:				/* the filter's struct sock_filter records follow */
