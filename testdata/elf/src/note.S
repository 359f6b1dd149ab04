/*
 * note.S: a .note.sysrestrict section linked into a fixture, as a stamper
 * would have left it, or deliberately broken for reader tests.
 *
 * VARIANT (set by the Makefile):
 *   1 valid: bitmap with execve (59) and ptrace (101), x86_64 numbers
 *   2 valid: same bitmap plus a flags note with DENY_BEYOND
 *   3 bad:   bitmap note with descsz 60 instead of 64
 *   4 bad:   owner SysRestrict, reserved type 3
 *   5 bad:   flags note with an unknown bit (bit 1)
 *   6 bad:   namesz 200, running past the end of the note segment
 */
	.section .note.sysrestrict,"a",@note
	.balign 4

#define BITMAP \
	.byte 0,0,0,0,0,0,0,0x08;	/* bit 59: byte 7, mask 0x08 */ \
	.byte 0,0,0,0,0x20,0,0,0;	/* bit 101: byte 12, mask 0x20 */ \
	.fill 48,1,0

#if VARIANT == 1 || VARIANT == 2
	.long 12, 64, 1
	.asciz "SysRestrict"
	BITMAP
#endif
#if VARIANT == 2
	.long 12, 4, 2
	.asciz "SysRestrict"
	.long 1
#endif
#if VARIANT == 3
	.long 12, 60, 1
	.asciz "SysRestrict"
	.fill 60,1,0
#endif
#if VARIANT == 4
	.long 12, 4, 3
	.asciz "SysRestrict"
	.long 0
#endif
#if VARIANT == 5
	.long 12, 64, 1
	.asciz "SysRestrict"
	BITMAP
	.long 12, 4, 2
	.asciz "SysRestrict"
	.long 2
#endif
#if VARIANT == 6
	.long 200, 64, 1
	.asciz "SysRestrict"
	BITMAP
#endif

	.section .note.GNU-stack,"",@progbits
