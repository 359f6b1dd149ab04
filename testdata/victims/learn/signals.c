// signals: a victim that shows which signals reach it, and how often.
//
//   signals catch SIG   handle SIG; print "ready", wait for it; after the
//                       first, count copies for 800 ms more (a copy passed
//                       on twice arrives within that), print
//                       "caught SIGNAME N" and exit 7.
//   signals die SIG     SIG's default action (also if it was inherited
//                       ignored, as in a shell's background job); print
//                       "ready" and wait: it dies of SIG.
//   signals stop        default actions; print "ready", sleep 1.5 s,
//                       print "done", exit 0 (a stop in between delays
//                       "done" until SIGCONT).
//
// SIG is a name without SIG (INT, TERM, ...). "ready" goes to stdout,
// flushed; so do the results.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t count;

static void handler(int sig) {
	(void)sig;
	count++;
}

static const struct {
	const char *name;
	int sig;
} sigs[] = {
	{"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"TERM", SIGTERM},
	{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH},
	{"CONT", SIGCONT}, {"TSTP", SIGTSTP},
};

static int lookup(const char *name) {
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (strcmp(sigs[i].name, name) == 0)
			return sigs[i].sig;
	fprintf(stderr, "signals: unknown signal %s\n", name);
	exit(2);
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv) {
	if (argc == 2 && strcmp(argv[1], "stop") == 0) {
		signal(SIGTSTP, SIG_DFL);
		signal(SIGCONT, SIG_DFL);
		printf("ready\n");
		fflush(stdout);
		sleep_ms(1500);
		printf("done\n");
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: signals catch|die SIG | signals stop\n");
		return 2;
	}
	int sig = lookup(argv[2]);
	if (strcmp(argv[1], "die") == 0) {
		signal(sig, SIG_DFL);
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(sig, &sa, NULL) != 0)
		return 2;
	// Blocked until sigsuspend: a signal that came between the test of
	// count and a pause() would leave it waiting for ever.
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, sig);
	sigprocmask(SIG_BLOCK, &block, &old);
	printf("ready\n");
	fflush(stdout);
	while (count == 0)
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	sleep_ms(800);
	printf("caught SIG%s %d\n", argv[2], (int)count);
	return 7;
}
