/*
 * The x86_64 start-up stub of an embedded stamp (docs/embed.md).
 *
 * sysrestrict-stamp --embed points e_entry at `stub`. Before any of the
 * program's own code runs it sets no_new_privs, installs the filter that
 * follows the template with SECCOMP_FILTER_FLAG_TSYNC, restores every
 * register and flag it touched and jumps to the original entry. If either
 * call fails it writes one line to stderr,
 *
 *	<argv[0]>: sysrestrict: <call> failed: errno <n>
 *
 * and exits with status 126: nothing of the program runs.
 *
 * At entry (System V x86-64 psABI, 3.4.1 "Initial Stack and Register
 * State"): rsp points at argc, then argv[0..argc-1], NULL, envp..., auxv;
 * rdx holds the function the program must register with atexit
 * (rtld_fini: ld.so's _dl_fini, or 0 from the kernel); the other
 * registers are unspecified, and kept as found.
 *
 * The template is position-independent and has no relocations: every
 * reference is %rip-relative to a label in this section. Values known only
 * when a binary is stamped are placeholders at the labels the Go side
 * patches (stub.go): filter_len and entry_rel. `go generate` assembles this
 * file into zstub.go; TestTemplateMatchesSource assembles it again and
 * compares.
 *
 * Syscall numbers: arch/x86/entry/syscalls/syscall_64.tbl.
 */

	.ifndef FILTER_LEN
	.set	FILTER_LEN, 0	/* stand-in; stub.Build writes the filter's length */
	.endif
	.ifndef ENTRY_REL
	.set	ENTRY_REL, 0	/* stand-in; stub.Build writes the jump to the entry */
	.endif

	.text
	.code64
stub:
	endbr64			/* IBT landing pad: ld.so reaches AT_ENTRY by an indirect jmp */
	pushfq			/* the flags, as the kernel or ld.so left them */
	push	%rax
	push	%rcx		/* syscall overwrites rcx (return address) ... */
	push	%rdx		/* rtld_fini */
	push	%rsi
	push	%rdi
	push	%r8
	push	%r10
	push	%r11		/* ... and r11 (rflags) */
				/* rsp = S - 72, S: rsp at entry (&argc) */

	/* prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0): the kernel wants args 3-5 zero */
	mov	$157, %eax	/* __NR_prctl */
	mov	$38, %edi	/* PR_SET_NO_NEW_PRIVS */
	mov	$1, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	xor	%r8d, %r8d
	syscall
	test	%rax, %rax
	jnz	prctl_failed

	/* struct sock_fprog { unsigned short len; struct sock_filter *filter; } */
	lea	filter(%rip), %rax
	push	%rax		/* .filter */
	pushq	filter_len(%rip) /* .len and its 6 bytes of padding (zero) */
	mov	$317, %eax	/* __NR_seccomp */
	mov	$1, %edi	/* SECCOMP_SET_MODE_FILTER */
seccomp_flags:
	mov	$1, %esi	/* SECCOMP_FILTER_FLAG_TSYNC: every thread, or none */
	mov	%rsp, %rdx	/* &sock_fprog */
	syscall
	add	$16, %rsp	/* drop the sock_fprog */
	test	%rax, %rax	/* 0: in; < 0: -errno; > 0: a thread TSYNC could not sync */
	jnz	seccomp_failed

	pop	%r11		/* everything back as it was at entry */
	pop	%r10
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	popfq			/* rsp = S again */
	.byte	0xe9		/* jmp rel32: to the original entry */
entry_rel:
	.long	ENTRY_REL	/* placeholder: entry - (address of the next byte) */

/* Failure: a reason (rsi, length rdx) and what the call returned (rax). */
prctl_failed:
	lea	why_prctl(%rip), %rsi
	mov	$(why_prctl_end - why_prctl), %edx
	jmp	fail
seccomp_failed:
	lea	why_seccomp(%rip), %rsi
	mov	$(why_seccomp_end - why_seccomp), %edx
	test	%rax, %rax
	js	fail		/* -errno */
	lea	why_tsync(%rip), %rsi /* a thread id */
	mov	$(why_tsync_end - why_tsync), %edx
fail:
	mov	80(%rsp), %rdi	/* argv[0], at S + 8; NULL if argc is 0 */
	sub	$96, %rsp	/* struct iovec iov[4] at rsp; the number ends at rsp + 96 */
	mov	%rsi, 32(%rsp)	/* iov[2]: the reason */
	mov	%rdx, 40(%rsp)
	lea	prefix(%rip), %rsi
	mov	%rsi, 16(%rsp)	/* iov[1]: ": sysrestrict: " */
	movq	$(prefix_end - prefix), 24(%rsp)
	mov	%rdi, (%rsp)	/* iov[0]: argv[0], strlen of it */
	xor	%ecx, %ecx
	test	%rdi, %rdi
	jz	2f
1:	cmpb	$0, (%rdi,%rcx)
	je	2f
	inc	%rcx
	jmp	1b
2:	mov	%rcx, 8(%rsp)
	test	%rax, %rax	/* the number: |rax| */
	jns	3f
	neg	%rax
3:	lea	95(%rsp), %rdi	/* its decimal digits, then "\n", written backwards */
	movb	$'\n', (%rdi)
	mov	$10, %ecx
4:	xor	%edx, %edx
	div	%rcx		/* rax = rax / 10, rdx = the digit */
	add	$'0', %dl
	dec	%rdi
	mov	%dl, (%rdi)
	test	%rax, %rax
	jnz	4b
	mov	%rdi, 48(%rsp)	/* iov[3]: the digits and "\n" */
	lea	96(%rsp), %rdx
	sub	%rdi, %rdx
	mov	%rdx, 56(%rsp)
	mov	$20, %eax	/* __NR_writev: one line in one write */
	mov	$2, %edi	/* stderr */
	mov	%rsp, %rsi
	mov	$4, %edx
	syscall
5:	mov	$231, %eax	/* __NR_exit_group */
	mov	$126, %edi
	syscall
	jmp	5b		/* not reached */

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
filter:				/* the filter's struct sock_filter records follow */
