// heavy: a syscall-heavy victim for measuring learning's cost: N getppid(2)
// calls (default 100000), nothing else.
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 100000;
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return 0;
}
