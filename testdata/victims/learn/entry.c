/*
 * entry: where a program was entered, for the tests of the stub skip
 * (internal/supervise stub_test.go). It prints "entry start" when
 * getauxval(AT_ENTRY) is its own _start (an embedded program run past its
 * start-up stub, or any program not embedded) and "entry elsewhere"
 * otherwise (the stub's address), then, with an argument, calls
 * sysinfo(NULL) and prints what it returned.
 *
 * Build: cc -O2 [-static | -static-pie | -no-pie] -o entry entry.c
 */
#include <errno.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char _start[];

int main(int argc, char **argv) {
	(void)argv;
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("entry %s\n", getauxval(AT_ENTRY) == (unsigned long)_start ? "start" : "elsewhere");
	if (argc > 1) {
		long r = syscall(SYS_sysinfo, NULL);
		printf("sysinfo: ret %ld errno %d\n", r, r < 0 ? errno : 0);
	}
	return 0;
}
