/*
 * hooks.h: what each fixture of testdata/victims/embed does at its hook:
 * make the syscall the tests deny (sysinfo, with a NULL argument: EFAULT
 * when it runs) and then write one line naming the hook. Both are raw
 * syscalls, so a hook can run before libc is relocated or initialised
 * (an IFUNC resolver, an audit module's la_version): a line on stdout
 * means the syscall ran; a hook that runs under the filter dies of
 * SIGSYS before it writes anything.
 */
#ifndef HOOKS_H
#define HOOKS_H

#if defined(__x86_64__)
#define NR_WRITE 1
#define NR_SYSINFO 99
static inline long raw3(long nr, long a, long b, long c) {
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}
#elif defined(__aarch64__)
#define NR_WRITE 64
#define NR_SYSINFO 179
static inline long raw3(long nr, long a, long b, long c) {
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	return x0;
}
#else
#error "hooks.h: x86_64 and aarch64 only"
#endif

/* hook makes the denied syscall, then writes "NAME ran\n". */
static inline void hook(const char *name) {
	raw3(NR_SYSINFO, 0, 0, 0);
	long n = 0;
	while (name[n])
		n++;
	raw3(NR_WRITE, 1, (long)name, n);
	raw3(NR_WRITE, 1, (long)" ran\n", 5);
}

#endif
