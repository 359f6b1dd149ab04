/*
 * embed.c: the victim of the --embed tests (pkg/elfnote/embedrun_test.go).
 * It is hello.c (included below) with more modes, so it follows the fixture
 * convention: "embed", "embed exit N" and "embed notes" do what hello does.
 * Each other mode prints what happened on stdout, unbuffered; a mode whose
 * syscall the filter kills prints nothing more and dies of SIGSYS.
 *
 *   embed status          print the NoNewPrivs and Seccomp lines of
 *                         /proc/self/status
 *   embed call NR         syscall(NR), print "call NR: ret R"
 *   embed fork NR         a forked child makes syscall NR; print how the
 *                         child ended: "child exit E" or "child signal S"
 *   embed thread NR       a second thread makes syscall NR; print
 *                         "thread: ret R"
 *   embed exec PROG ARG.. execv(PROG, [PROG, ARG...])
 *   embed atexit          register an atexit handler and ask the
 *                         destructors (the program's, and with EMBED_LIB
 *                         libembed.so's) to report: each prints a line at
 *                         exit. Library destructors run only if ld.so's
 *                         rtld_fini, which the entry point gets in rdx
 *                         (x0), reached __libc_start_main.
 *
 * Build: see the Makefile (-pthread; -DEMBED_LIB links libembed.so).
 */
#define main hello_main
#include "hello.c"
#undef main

#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef EMBED_LIB
extern void embedlib_report(void);
#endif

static int report;

static void at_exit(void)
{
	printf("atexit from %s\n", NAME);
}

__attribute__((destructor)) static void fini(void)
{
	if (report)
		printf("destructor from %s\n", NAME);
}

static void *thread_call(void *arg)
{
	long r = syscall((long)arg);
	printf("thread: ret %ld\n", r);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(mode, "status")) {
		char line[256];
		FILE *f = fopen("/proc/self/status", "r");
		if (!f)
			return 2;
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "Seccomp:", 8))
				fputs(line, stdout);
		fclose(f);
		return 0;
	}
	if (!strcmp(mode, "call") && argc > 2) {
		long nr = strtol(argv[2], NULL, 0);
		printf("call %ld: ret %ld\n", nr, syscall(nr));
		return 0;
	}
	if (!strcmp(mode, "fork") && argc > 2) {
		long nr = strtol(argv[2], NULL, 0);
		pid_t pid = fork();
		if (pid == 0) {
			syscall(nr);
			_exit(0);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			return 2;
		if (WIFSIGNALED(st))
			printf("child signal %d\n", WTERMSIG(st));
		else
			printf("child exit %d\n", WEXITSTATUS(st));
		return 0;
	}
	if (!strcmp(mode, "thread") && argc > 2) {
		pthread_t t;
		if (pthread_create(&t, NULL, thread_call, (void *)strtol(argv[2], NULL, 0)))
			return 2;
		pthread_join(t, NULL);
		return 0;
	}
	if (!strcmp(mode, "exec") && argc > 2) {
		execv(argv[2], argv + 2);
		perror("execv");
		return 2;
	}
	if (!strcmp(mode, "atexit")) {
		report = 1;
#ifdef EMBED_LIB
		embedlib_report();
#endif
		atexit(at_exit);
		printf("hello from %s\n", NAME);
		return 0;
	}
	return hello_main(argc, argv);
}
