/*
 * victim: a program the real-kernel tests of sysrestrict-exec run under
 * filters. Each mode makes one kind of syscall and reports on stdout what
 * happened; a mode killed by the filter reports nothing and dies of SIGSYS.
 *
 *   victim getppid               getppid(2), print "ok"
 *   victim ptrace                ptrace(PTRACE_TRACEME), print the result
 *   victim syscall NR            syscall(NR), print "ret R errno E"
 *   victim calls NR...           syscall(NR) for each NR in turn, printing
 *                                "syscall NR: ret R errno E" after each,
 *                                with a SIGSYS handler that prints
 *                                "SIGSYS nr N" (SECCOMP_RET_TRAP)
 *   victim x32 NR                syscall(NR | __X32_SYSCALL_BIT)
 *   victim execve                execve("/bin/true")
 *   victim execveat              execveat(AT_FDCWD, "/bin/true")
 *   victim fork-exec             fork; the child execve()s; print its fate
 *   victim thread-exec           a second thread execve()s
 *   victim marker FILE           create FILE, print "ran"
 *   victim loop N                N getppid(2) calls in 20 chunks; print the
 *                                fastest chunk's ns per call
 *   victim seccomp FILE MODE...  install the raw sock_filter program in FILE
 *                                (no_new_privs, this thread), then run MODE
 *   victim prctl OPTION ARG2     prctl(OPTION, ARG2, 0, 0, 0), print the result
 *   victim seccomp-flags FLAGS   seccomp(SECCOMP_SET_MODE_FILTER, FLAGS, an
 *                                allow-all filter), print the result
 *   victim status                print the Seccomp, Seccomp_filters,
 *                                NoNewPrivs and TracerPid lines of
 *                                /proc/self/status, and "ppid N"
 *   victim traceme               PTRACE_TRACEME (the parent becomes the
 *                                tracer), then raise SIGUSR1, which a handler
 *                                catches; print "usr1 caught"
 *
 * Build: cc -O2 -pthread -o victim victim.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *const true_argv[] = {"true", NULL};
static char *const no_env[] = {NULL};

static void report(const char *what, long r) {
	printf("%s: ret %ld errno %d\n", what, r, r < 0 ? errno : 0);
	fflush(stdout);
}

static void on_sigsys(int sig, siginfo_t *si, void *uc) {
	(void)sig;
	(void)uc;
	char buf[64];
	int n = snprintf(buf, sizeof buf, "SIGSYS nr %d\n", si->si_syscall);
	write(1, buf, n);
}

static volatile sig_atomic_t usr1;
static void on_usr1(int sig) {
	(void)sig;
	usr1 = 1;
}

static void *thread_exec(void *arg) {
	(void)arg;
	long r = syscall(SYS_execve, "/bin/true", true_argv, no_env);
	report("thread execve", r);
	exit(3);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: victim MODE [ARG]\n");
		return 2;
	}
	if (!strcmp(argv[1], "seccomp") && argc > 3) {
		static struct sock_filter prog[4096];
		FILE *f = fopen(argv[2], "rb");
		if (!f) {
			perror(argv[2]);
			return 2;
		}
		struct sock_fprog fp = {(unsigned short)fread(prog, sizeof prog[0], 4096, f), prog};
		fclose(f);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp)) {
			perror("victim: seccomp");
			return 2;
		}
		argv += 2;
		argc -= 2;
	}
	const char *mode = argv[1];
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(mode, "getppid")) {
		syscall(SYS_getppid);
		printf("ok\n");
	} else if (!strcmp(mode, "ptrace")) {
		report("ptrace", syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
	} else if (!strcmp(mode, "syscall") && argc > 2) {
		report("syscall", syscall(strtol(argv[2], NULL, 0)));
	} else if (!strcmp(mode, "calls")) {
		struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
		sigaction(SIGSYS, &sa, NULL);
		for (int i = 2; i < argc; i++) {
			long nr = strtol(argv[i], NULL, 0);
			char what[32];
			snprintf(what, sizeof what, "syscall %ld", nr);
			errno = 0;
			report(what, syscall(nr, 0, 0, 0));
		}
	} else if (!strcmp(mode, "x32") && argc > 2) {
		report("x32", syscall(strtol(argv[2], NULL, 0) | 0x40000000L));
	} else if (!strcmp(mode, "execve")) {
		report("execve", syscall(SYS_execve, "/bin/true", true_argv, no_env));
		return 3;
	} else if (!strcmp(mode, "execveat")) {
		report("execveat", syscall(SYS_execveat, AT_FDCWD, "/bin/true", true_argv, no_env, 0));
		return 3;
	} else if (!strcmp(mode, "fork-exec")) {
		pid_t pid = fork();
		if (pid == 0) {
			syscall(SYS_execve, "/bin/true", true_argv, no_env);
			_exit(3);
		}
		int st;
		waitpid(pid, &st, 0);
		if (WIFSIGNALED(st))
			printf("child signal %d\n", WTERMSIG(st));
		else
			printf("child exit %d\n", WEXITSTATUS(st));
	} else if (!strcmp(mode, "thread-exec")) {
		pthread_t t;
		pthread_create(&t, NULL, thread_exec, NULL);
		pthread_join(t, NULL);
		return 4;
	} else if (!strcmp(mode, "prctl") && argc > 3) {
		report("prctl", syscall(SYS_prctl, strtol(argv[2], NULL, 0), strtol(argv[3], NULL, 0), 0L, 0L, 0L));
	} else if (!strcmp(mode, "seccomp-flags") && argc > 2) {
		static struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
		struct sock_fprog fp = {1, allow};
		report("seccomp", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, strtoul(argv[2], NULL, 0), &fp));
	} else if (!strcmp(mode, "status")) {
		char line[256];
		FILE *f = fopen("/proc/self/status", "r");
		while (f && fgets(line, sizeof line, f))
			if (!strncmp(line, "Seccomp", 7) || !strncmp(line, "NoNewPrivs", 10) || !strncmp(line, "TracerPid", 9))
				fputs(line, stdout);
		if (f)
			fclose(f);
		printf("ppid %d\n", (int)getppid());
	} else if (!strcmp(mode, "traceme")) {
		signal(SIGUSR1, on_usr1);
		report("ptrace", syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
		raise(SIGUSR1);
		printf("usr1 %s\n", usr1 ? "caught" : "not caught");
	} else if (!strcmp(mode, "marker") && argc > 2) {
		FILE *f = fopen(argv[2], "w");
		if (f)
			fclose(f);
		printf("ran\n");
	} else if (!strcmp(mode, "loop") && argc > 2) {
		long n = strtol(argv[2], NULL, 0) / 20;
		double best = 1e18;
		for (int c = 0; c < 20; c++) {
			struct timespec a, b;
			clock_gettime(CLOCK_MONOTONIC, &a);
			for (long i = 0; i < n; i++)
				syscall(SYS_getppid);
			clock_gettime(CLOCK_MONOTONIC, &b);
			double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
			if (ns < best)
				best = ns;
		}
		printf("%.1f\n", best);
	} else {
		fprintf(stderr, "victim: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
