/*
 * hello-c: the C program of the test package. With no argument it greets;
 * "ptrace" calls ptrace(PTRACE_TRACEME) and "exec" execs /bin/true, both
 * of which its policy restricts: run through sysrestrict-exec, either dies
 * of SIGSYS.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "ptrace") == 0) {
		long r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		printf("ptrace returned %ld\n", r);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "exec") == 0) {
		execl("/bin/true", "true", (char *)NULL);
		perror("execl /bin/true");
		return 1;
	}
	puts("hello from C");
	return 0;
}
