// fork: a forking victim. Only the child calls times(2) (x86_64 100); the
// parent never does. The parent ends the way the child ended: same exit
// code, or the same signal raised on itself, so a kill in the child shows in
// the parent's wait status.
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		struct tms t;
		syscall(SYS_times, &t);
		printf("child ok\n");
		fflush(stdout);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 3;
	if (WIFSIGNALED(st)) {
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
	}
	printf("parent ok\n");
	return WEXITSTATUS(st);
}
