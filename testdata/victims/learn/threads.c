// threads: a multithreaded victim. Only the second thread calls sysinfo(2)
// (x86_64 99); the main thread never does. Prints "threads ok" when the
// thread's call returned.
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static void *worker(void *arg) {
	struct sysinfo si;
	*(long *)arg = syscall(SYS_sysinfo, &si);
	return NULL;
}

int main(void) {
	pthread_t t;
	long r = -1;
	if (pthread_create(&t, NULL, worker, &r) != 0)
		return 2;
	pthread_join(t, NULL);
	printf("threads ok %ld\n", r);
	return r == 0 ? 0 : 1;
}
