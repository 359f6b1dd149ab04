/*
 * audit.c: an rtld-audit module given in LD_AUDIT (rtld-audit(7)): ld.so
 * calls its la_version first thing, before it loads the program's
 * libraries; it makes the denied syscall.
 *
 * Build: cc -O2 -shared -fPIC -o audit.so audit.c
 */
#include "hooks.h"

unsigned int la_version(unsigned int version) {
	hook("LD_AUDIT la_version");
	return version;
}
