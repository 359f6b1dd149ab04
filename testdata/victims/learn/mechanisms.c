// mechanisms: the measurement behind the choice of --learn's mechanism
// (docs/learn.md). Runs a command three ways and prints the run time and the
// number of syscalls seen:
//   none   no supervision;
//   trace  SECCOMP_RET_TRACE for every syscall, a ptrace loop reading
//          PTRACE_GET_SYSCALL_INFO at each PTRACE_EVENT_SECCOMP stop;
//   notif  SECCOMP_RET_USER_NOTIF, answered SECCOMP_USER_NOTIF_FLAG_CONTINUE
//          (the listener is fetched with pidfd_getfd: the child cannot send
//          it once its own syscalls wait on the listener).
// Build and run:
//   gcc -O2 -o mechanisms mechanisms.c && gcc -O2 -o heavy heavy.c
//   for m in none trace notif; do ./mechanisms $m ./heavy 100000; done
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int install(unsigned ret, unsigned flags) {
	struct sock_filter f[] = { BPF_STMT(BPF_RET|BPF_K, ret) };
	struct sock_fprog p = { 1, f };
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p);
}
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}

int main(int argc, char **argv) {
	const char *mode = argv[1];
	char **cmd = argv + 2;
	int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	double t0 = now();
	pid_t pid = fork();
	if (pid == 0) {
		if (!strcmp(mode, "trace")) {
			ptrace(PTRACE_TRACEME, 0, 0, 0); raise(SIGSTOP);
			install(SECCOMP_RET_TRACE, 0);
		} else if (!strcmp(mode, "notif")) {
			int fd = install(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
			if (fd < 0) { perror("seccomp"); _exit(1); }

		}
		execvp(cmd[0], cmd); _exit(127);
	}
	long n = 0; int st;
	if (!strcmp(mode, "trace")) {
		waitpid(pid, &st, 0);
		ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESECCOMP|PTRACE_O_TRACEFORK|PTRACE_O_TRACECLONE|PTRACE_O_TRACEVFORK|PTRACE_O_EXITKILL);
		ptrace(PTRACE_CONT, pid, 0, 0);
		for (;;) {
			pid_t p = waitpid(-1, &st, __WALL);
			if (p < 0) break;
			if (WIFSTOPPED(st)) {
				int sig = WSTOPSIG(st);
				if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
					struct __ptrace_syscall_info si;
					ptrace(PTRACE_GET_SYSCALL_INFO, p, sizeof si, &si); n++; sig = 0;
				} else if (sig == SIGTRAP || sig == SIGSTOP) sig = 0;
				ptrace(PTRACE_CONT, p, 0, sig);
			}
		}
	} else if (!strcmp(mode, "notif")) {
		int pfd = syscall(SYS_pidfd_open, pid, 0), fd;
		while ((fd = syscall(SYS_pidfd_getfd, pfd, 5, 0)) < 0) usleep(100);

		struct seccomp_notif req; struct seccomp_notif_resp resp;
		for (;;) {
			memset(&req, 0, sizeof req);
			if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) { if (errno == EINTR) continue; break; }
			n++;
			memset(&resp, 0, sizeof resp); resp.id = req.id; resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
			ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
		}
		waitpid(pid, &st, 0);
	} else waitpid(pid, &st, 0);
	fprintf(stderr, "%s: %.3f s, %ld events\n", mode, now() - t0, n);
	return 0;
}
