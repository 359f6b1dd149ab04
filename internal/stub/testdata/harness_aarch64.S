/*
 * The test program around an aarch64 stub (qemu_linux_test.go), run under
 * qemu-aarch64.
 *
 * The test places this code at the start of a minimal static ELF file
 * mapped read-write-execute (everything is in .text: no relocations), and
 * a stub payload in a segment of its own. The kernel (qemu) starts it at
 * `prestub`, which
 *
 *   - records sp in want_sp and copies the 64 bytes at sp (argc, argv...)
 *     to stack_copy;
 *   - sets NZCV and loads every register, x0 to x30, from `load`;
 *   - branches to the stub by `br x16`, as glibc's ld.so reaches AT_ENTRY
 *     (the test makes load's x16 the stub's address).
 *
 * The stub's jump to the original entry lands on `entry`, which checks
 * that x0 to x30, NZCV and sp are what `want` says (else it exits 10 + the
 * index in `want`: x0..x30, nzcv, sp) and that the stack is unchanged
 * (else 50), writes "ran\n" to stdout, calls getppid and exits 0.
 *
 * Syscall numbers: include/uapi/asm-generic/unistd.h.
 */

	.arch	armv8-a
	.text
prestub:
	mov	x0, sp
	adr	x1, want_sp
	str	x0, [x1]
	adr	x1, stack_copy		/* stack_copy = the 64 bytes at sp */
	ldp	x2, x3, [x0]
	stp	x2, x3, [x1]
	ldp	x2, x3, [x0, #16]
	stp	x2, x3, [x1, #16]
	ldp	x2, x3, [x0, #32]
	stp	x2, x3, [x1, #32]
	ldp	x2, x3, [x0, #48]
	stp	x2, x3, [x1, #48]
	adr	x30, load
	ldr	x0, [x30, #248]		/* load_nzcv */
	msr	nzcv, x0
	ldp	x0, x1, [x30]		/* ldp changes no flag */
	ldp	x2, x3, [x30, #16]
	ldp	x4, x5, [x30, #32]
	ldp	x6, x7, [x30, #48]
	ldp	x8, x9, [x30, #64]
	ldp	x10, x11, [x30, #80]
	ldp	x12, x13, [x30, #96]
	ldp	x14, x15, [x30, #112]
	ldp	x16, x17, [x30, #128]
	ldp	x18, x19, [x30, #144]
	ldp	x20, x21, [x30, #160]
	ldp	x22, x23, [x30, #176]
	ldp	x24, x25, [x30, #192]
	ldp	x26, x27, [x30, #208]
	ldp	x28, x29, [x30, #224]
	ldr	x30, [x30, #240]
	br	x16			/* to the stub (or to entry) */

entry:
	sub	sp, sp, #272		/* what the stub left, on the stack: */
	stp	x0, x1, [sp]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	stp	x20, x21, [sp, #160]
	stp	x22, x23, [sp, #176]
	stp	x24, x25, [sp, #192]
	stp	x26, x27, [sp, #208]
	stp	x28, x29, [sp, #224]
	str	x30, [sp, #240]
	mrs	x0, nzcv
	str	x0, [sp, #248]
	add	x0, sp, #272
	str	x0, [sp, #256]		/* sp at entry */
	adr	x1, want		/* == want, doubleword by doubleword */
	mov	x2, #0
1:	ldr	x3, [sp, x2, lsl #3]
	ldr	x4, [x1, x2, lsl #3]
	cmp	x3, x4
	b.ne	bad_reg
	add	x2, x2, #1
	cmp	x2, #33
	b.lo	1b
	add	sp, sp, #272
	adr	x1, stack_copy		/* the stack at sp == stack_copy */
	mov	x2, #0
2:	ldr	x3, [sp, x2, lsl #3]
	ldr	x4, [x1, x2, lsl #3]
	cmp	x3, x4
	b.ne	bad_stack
	add	x2, x2, #1
	cmp	x2, #8
	b.lo	2b
	mov	x0, #1			/* write(1, "ran\n", 4) */
	adr	x1, ran
	mov	x2, #4
	mov	x8, #64
	svc	#0
	mov	x8, #173		/* getppid */
	svc	#0
	mov	x0, #0
	b	exit_group
bad_reg:
	add	x0, x2, #10
	b	exit_group
bad_stack:
	mov	x0, #50
exit_group:
	mov	x8, #94
	svc	#0
	b	exit_group

ran:
	.ascii	"ran\n"
	.balign	8, 0
load:					/* written by the test: x0..x30, nzcv */
	.skip	256
want:					/* written by the test: x0..x30, nzcv */
	.skip	256
want_sp:
	.quad	0
stack_copy:
	.skip	64
