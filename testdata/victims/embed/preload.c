/*
 * preload.c: a library given in LD_PRELOAD: its constructor makes the
 * denied syscall.
 *
 * Build: cc -O2 -shared -fPIC -o preload.so preload.c
 */
#include "hooks.h"

__attribute__((constructor)) static void preload_ctor(void) { hook("LD_PRELOAD constructor"); }
