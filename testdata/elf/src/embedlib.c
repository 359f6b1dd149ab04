/* embedlib.c: libembed.so, the shared object of the --embed victims
 * (embed.c). Its destructor reports, once embedlib_report was called,
 * that ld.so ran it at exit: through rtld_fini, which the program's entry
 * point must hand on to __libc_start_main. */
#include <stdio.h>

static int report;

void embedlib_report(void)
{
	report = 1;
}

__attribute__((destructor)) static void fini(void)
{
	if (report)
		printf("destructor from libembed.so\n");
}
