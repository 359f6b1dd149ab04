/*
 * before.c: a program with a hook at every place code can run before main,
 * each making the denied syscall (hooks.h), for the tests of what runs
 * before an embedded stub's filter (internal/embedtest, docs/embed.md
 * "What runs before the filter"):
 *
 *   its own IFUNC resolver    an IRELATIVE relocation: applied by ld.so
 *                             when it relocates the program (dynamic), by
 *                             __libc_start_main (static)
 *   its DT_PREINIT_ARRAY      run by ld.so's _dl_init (dynamic), by
 *                             __libc_start_main (static)
 *   its constructor           DT_INIT_ARRAY: run by __libc_start_main
 *   main
 *
 * With DYNAMIC defined it links libhooks.so (lib.c) and calls its IFUNC
 * function. BEFORE_MAIN_ONLY=1 in the environment makes the constructor
 * skip the syscall, so that main's is the first after the entry point.
 *
 * Build: cc -O2 -DDYNAMIC -Wl,-z,now -o before before.c -L. -lhooks -Wl,-rpath,DIR
 *        cc -O2 -static -o before-static before.c
 */
#include <stdio.h>
#include <stdlib.h>
#include "hooks.h"

static int exe_impl(void) { return 7; }

static int (*resolve_exe_f(void))(void) {
	hook("program IFUNC resolver");
	return exe_impl;
}

int exe_f(void) __attribute__((ifunc("resolve_exe_f")));

static void preinit(int argc, char **argv, char **envp) {
	(void)argc, (void)argv, (void)envp;
	hook("program preinit_array");
}
__attribute__((section(".preinit_array"), used)) static void (*preinit_entry)(int, char **, char **) = preinit;

__attribute__((constructor)) static void exe_ctor(void) {
	if (getenv("BEFORE_MAIN_ONLY"))
		raw3(NR_WRITE, 1, (long)"program constructor (no syscall) ran\n", 37);
	else
		hook("program constructor");
}

#ifdef DYNAMIC
int lib_f(void);
#endif

int main(void) {
	int x = exe_f();
#ifdef DYNAMIC
	x += lib_f();
#endif
	hook("main");
	return x == 0;
}
