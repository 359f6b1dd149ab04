/*
 * The test program around an x86_64 stub (run_linux_amd64_test.go).
 *
 * The test places this code at the start of a minimal static ELF file
 * mapped read-write-execute (everything below is in .text, so it needs no
 * relocations), and a stub payload in a segment of its own. The kernel
 * starts it at `prestub`, which
 *
 *   - reads the mode, argv[1][0];
 *   - in modes T and X, starts a thread before the stub runs (as a library
 *     constructor could);
 *   - copies the 64 bytes at rsp (argc, argv...) to stack_copy;
 *   - sets distinctive flags and loads every register from `load`,
 *     recording the flags and rsp it ends with in `want`;
 *   - jumps to the stub (to_stub's rel32, written by the test), whose
 *     jump to the original entry lands on `entry`.
 *
 * `entry` checks that every register, the flags, rsp and the stack are
 * what prestub left (else it exits 10 + the register's index in `want`,
 * or 40 for the stack), writes "ran\n" to stdout and does what the mode
 * says:
 *
 *   g  getppid, exit 0
 *   p  ptrace, exit 0 if it returned
 *   s  exit 10 * prctl(PR_GET_SECCOMP) + prctl(PR_GET_NO_NEW_PRIVS)
 *   f  fork; the child calls ptrace and exits 0; exit with the child's
 *      signal, or 100 + its exit status
 *   t  start a thread that calls ptrace and exits the process with 3
 *   T  wake the thread prestub started, which calls ptrace and exits the
 *      process with 4
 *   e  execve(argv[2], &argv[2], envp)
 *   w  wait (pause) until killed, for the test to read /proc/PID/status
 *   X  (not reached: prestub's thread has a filter of its own, so the
 *      stub's TSYNC fails)
 *
 * Syscall numbers: arch/x86/entry/syscalls/syscall_64.tbl.
 */

	.text
	.code64
prestub:
	xor	%ebx, %ebx		/* mode: argv[1][0], or 0 */
	cmpq	$2, (%rsp)
	jb	1f
	mov	16(%rsp), %rbx
	movzbl	(%rbx), %ebx
1:	mov	%bl, mode(%rip)
	cmp	$'T', %bl
	je	spawn_waiter
	cmp	$'X', %bl
	je	spawn_divergent
load_regs:
	xor	%ecx, %ecx		/* stack_copy = the 8 quadwords at rsp */
	lea	stack_copy(%rip), %rdx
2:	mov	(%rsp,%rcx,8), %rax
	mov	%rax, (%rdx,%rcx,8)
	inc	%ecx
	cmp	$8, %ecx
	jb	2b
	mov	%rsp, want_rsp(%rip)
	pushq	load_flags(%rip)	/* CF PF AF ZF SF DF OF ID */
	popfq
	pushfq
	popq	want_flags(%rip)	/* as the CPU took them */
	mov	load+0(%rip), %rax	/* mov changes no flag */
	mov	load+8(%rip), %rbx
	mov	load+16(%rip), %rcx
	mov	load+24(%rip), %rdx
	mov	load+32(%rip), %rsi
	mov	load+40(%rip), %rdi
	mov	load+48(%rip), %rbp
	mov	load+56(%rip), %r8
	mov	load+64(%rip), %r9
	mov	load+72(%rip), %r10
	mov	load+80(%rip), %r11
	mov	load+88(%rip), %r12
	mov	load+96(%rip), %r13
	mov	load+104(%rip), %r14
	mov	load+112(%rip), %r15
	.byte	0xe9			/* jmp rel32 */
to_stub:
	.long	0			/* written by the test: to the stub, or to entry */

/* T: a thread that waits for `go`, then calls ptrace. */
spawn_waiter:
	lea	waiter(%rip), %r12
	call	clone_thread
	jmp	load_regs
waiter:
1:	cmpl	$0, go(%rip)
	jne	2f
	mov	$202, %eax		/* futex(&go, FUTEX_WAIT, 0, NULL) */
	lea	go(%rip), %rdi
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	syscall
	jmp	1b
2:	call	do_ptrace
	mov	$4, %edi
	jmp	exit_group

/* X: a thread with a seccomp filter of its own, which TSYNC cannot sync. */
spawn_divergent:
	lea	divergent(%rip), %r12
	call	clone_thread
1:	cmpl	$0, ready(%rip)		/* wait until its filter is in */
	jne	load_regs
	mov	$202, %eax		/* futex(&ready, FUTEX_WAIT, 0, NULL) */
	lea	ready(%rip), %rdi
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	syscall
	jmp	1b
divergent:
	mov	$157, %eax		/* prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) */
	mov	$38, %edi
	mov	$1, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	xor	%r8d, %r8d
	syscall
	test	%rax, %rax
	jnz	6f
	lea	allow_all(%rip), %rax	/* seccomp(SECCOMP_SET_MODE_FILTER, 0, &{1, allow_all}) */
	push	%rax
	pushq	$1
	mov	$317, %eax
	mov	$1, %edi
	xor	%esi, %esi
	mov	%rsp, %rdx
	syscall
	add	$16, %rsp
	test	%rax, %rax
	jnz	6f
	movl	$1, ready(%rip)
	mov	$202, %eax		/* futex(&ready, FUTEX_WAKE, 1) */
	lea	ready(%rip), %rdi
	mov	$1, %esi
	syscall
1:	mov	$202, %eax		/* wait forever: futex(&never, FUTEX_WAIT, 0, NULL) */
	lea	never(%rip), %rdi
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	syscall
	jmp	1b
6:	mov	$6, %edi
	jmp	exit_group

/* clone_thread: start a thread on thread_stack at the code r12 points to. */
clone_thread:
	mov	$56, %eax		/* clone(VM|FS|FILES|SIGHAND|THREAD|SYSVSEM, stack, 0, 0, 0) */
	mov	$0x50f00, %edi
	lea	thread_stack_top(%rip), %rsi
	xor	%edx, %edx
	xor	%r10d, %r10d
	xor	%r8d, %r8d
	syscall
	test	%rax, %rax
	jz	1f
	js	2f
	ret				/* the parent */
1:	jmp	*%r12			/* the thread */
2:	mov	$5, %edi
	jmp	exit_group

entry:
	pushfq				/* what the stub left: flags first, */
	popq	got_flags(%rip)
	mov	%rax, got+0(%rip)	/* then every register */
	mov	%rbx, got+8(%rip)
	mov	%rcx, got+16(%rip)
	mov	%rdx, got+24(%rip)
	mov	%rsi, got+32(%rip)
	mov	%rdi, got+40(%rip)
	mov	%rbp, got+48(%rip)
	mov	%r8, got+56(%rip)
	mov	%r9, got+64(%rip)
	mov	%r10, got+72(%rip)
	mov	%r11, got+80(%rip)
	mov	%r12, got+88(%rip)
	mov	%r13, got+96(%rip)
	mov	%r14, got+104(%rip)
	mov	%r15, got+112(%rip)
	mov	%rsp, got_rsp(%rip)
	cld
	xor	%ecx, %ecx		/* got == want, quadword by quadword */
	lea	got(%rip), %rsi
	lea	want(%rip), %rdi
1:	mov	(%rsi,%rcx,8), %rax
	cmp	(%rdi,%rcx,8), %rax
	jne	bad_reg
	inc	%ecx
	cmp	$17, %ecx
	jb	1b
	xor	%ecx, %ecx		/* the stack at rsp == stack_copy */
	lea	stack_copy(%rip), %rsi
2:	mov	(%rsp,%rcx,8), %rax
	cmp	(%rsi,%rcx,8), %rax
	jne	bad_stack
	inc	%ecx
	cmp	$8, %ecx
	jb	2b
	mov	$1, %eax		/* write(1, "ran\n", 4) */
	mov	$1, %edi
	lea	ran(%rip), %rsi
	mov	$4, %edx
	syscall

	movzbl	mode(%rip), %eax
	cmp	$'g', %al
	je	mode_g
	cmp	$'p', %al
	je	mode_p
	cmp	$'s', %al
	je	mode_s
	cmp	$'f', %al
	je	mode_f
	cmp	$'t', %al
	je	mode_t
	cmp	$'T', %al
	je	mode_T
	cmp	$'e', %al
	je	mode_e
	cmp	$'w', %al
	je	pause_forever
	mov	$7, %edi
	jmp	exit_group

mode_g:
	mov	$110, %eax		/* getppid */
	syscall
	xor	%edi, %edi
	jmp	exit_group
mode_p:
	call	do_ptrace
	xor	%edi, %edi
	jmp	exit_group
mode_s:
	mov	$157, %eax		/* prctl(PR_GET_SECCOMP) */
	mov	$21, %edi
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	xor	%r8d, %r8d
	syscall
	imul	$10, %eax, %ebx
	mov	$157, %eax		/* prctl(PR_GET_NO_NEW_PRIVS) */
	mov	$39, %edi
	syscall
	lea	(%rbx,%rax), %edi
	jmp	exit_group
mode_f:
	mov	$57, %eax		/* fork */
	syscall
	test	%rax, %rax
	jnz	1f
	call	do_ptrace		/* the child */
	xor	%edi, %edi
	jmp	exit_group
1:	mov	$61, %eax		/* wait4(-1, &status, 0, NULL) */
	mov	$-1, %rdi
	lea	status(%rip), %rsi
	xor	%edx, %edx
	xor	%r10d, %r10d
	syscall
	mov	status(%rip), %edi
	and	$0x7f, %edi		/* WTERMSIG */
	jnz	exit_group
	movzbl	status+1(%rip), %edi	/* WEXITSTATUS */
	add	$100, %edi
	jmp	exit_group
mode_t:
	lea	ptrace_exit3(%rip), %r12
	call	clone_thread
	jmp	pause_forever
ptrace_exit3:
	call	do_ptrace
	mov	$3, %edi
	jmp	exit_group
mode_T:
	movl	$1, go(%rip)
	mov	$202, %eax		/* futex(&go, FUTEX_WAKE, 1) */
	lea	go(%rip), %rdi
	mov	$1, %esi
	syscall
	jmp	pause_forever
mode_e:
	mov	(%rsp), %rcx		/* execve(argv[2], &argv[2], &envp[0]) */
	cmp	$3, %rcx
	jb	1f
	lea	24(%rsp), %rsi
	mov	(%rsi), %rdi
	lea	16(%rsp,%rcx,8), %rdx
	mov	$59, %eax
	syscall
1:	mov	$8, %edi
	jmp	exit_group

do_ptrace:
	mov	$101, %eax		/* ptrace(-1, 0, 0, 0): EIO when it runs */
	mov	$-1, %rdi
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	syscall
	ret
pause_forever:
	mov	$34, %eax		/* pause, until a thread ends the process */
	syscall
	jmp	pause_forever
bad_reg:
	lea	10(%rcx), %edi
	jmp	exit_group
bad_stack:
	mov	$40, %edi
exit_group:
	mov	$231, %eax
	syscall
	jmp	exit_group

ran:
	.ascii	"ran\n"
	.balign	8, 0
allow_all:
	.short	0x06			/* BPF_RET|BPF_K */
	.byte	0, 0
	.long	0x7fff0000		/* SECCOMP_RET_ALLOW */
load:					/* written by the test: rax..r15 */
	.skip	120
load_flags:
	.quad	0x200cd7		/* CF PF AF ZF SF DF OF ID, bit 1 (always set) */
want:					/* written by the test: rax..r15 */
	.skip	120
want_flags:
	.quad	0
want_rsp:
	.quad	0
got:
	.skip	120
got_flags:
	.quad	0
got_rsp:
	.quad	0
stack_copy:
	.skip	64
status:
	.long	0
mode:
	.long	0
go:
	.long	0
ready:
	.long	0
never:
	.long	0
	.balign	16, 0
thread_stack:
	.skip	16384
thread_stack_top:
