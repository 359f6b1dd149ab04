/*
 * lib.c: a shared library the embedded program before.c links against:
 * an IFUNC resolver (run by ld.so while it relocates, at load time with
 * BIND_NOW) and a constructor (run by ld.so's _dl_init before the
 * program's entry point), each making the denied syscall.
 *
 * Build: cc -O2 -shared -fPIC -o libhooks.so lib.c
 */
#include "hooks.h"

static int lib_impl(void) { return 42; }

static int (*resolve_lib_f(void))(void) {
	hook("library IFUNC resolver");
	return lib_impl;
}

int lib_f(void) __attribute__((ifunc("resolve_lib_f")));

__attribute__((constructor)) static void lib_ctor(void) { hook("library constructor"); }
