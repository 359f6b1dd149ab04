// x32call: makes one x32 syscall (getpid | __X32_SYSCALL_BIT) from an
// x86_64 program, which seccomp sees with arch x86_64 and the x32 bit, and
// prints what it returned (the kernel answers ENOSYS where x32 is off).
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
	long r = syscall(0x40000000 | SYS_getpid);
	printf("x32 getpid = %ld\n", r);
	return 0;
}
