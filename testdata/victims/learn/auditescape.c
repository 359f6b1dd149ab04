/*
 * auditescape: what a program under sysrestrict-exec --audit may try on its
 * supervisor, whose seccomp listener lets its restricted syscalls run.
 * Each mode reports on stdout (or into FILE) what the kernel answered.
 *
 *   auditescape listener [noattach]
 *                             look for a seccomp listener among its own
 *                             descriptors; try to take the parent's
 *                             descriptors (pidfd_getfd on the parent, and
 *                             /proc/PPID/fd); try PTRACE_ATTACH to it
 *                             (unless noattach: a control run must not stop
 *                             its parent); then call getppid(2), the
 *                             syscall the tests restrict
 *   auditescape orphan FILE VICTIM
 *                             kill the parent (the supervisor) with SIGKILL,
 *                             wait until reparented, then unlink(VICTIM),
 *                             which the tests restrict, and write into FILE
 *                             what unlink returned and whether VICTIM is
 *                             still there
 *   auditescape race N        a second thread flips a path buffer between
 *                             two names while the main thread calls
 *                             openat(buffer) N times (openat restricted);
 *                             print how many returned ENOENT
 *
 * Build: cc -O2 -pthread -o auditescape auditescape.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int is_listener(const char *link) {
	char target[256];
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n < 0)
		return 0;
	target[n] = 0;
	return strstr(target, "seccomp notify") != NULL;
}

static int listener(int attach) {
	int own = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[300];
		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		own += is_listener(p);
	}
	if (d)
		closedir(d);
	printf("own listeners: %d\n", own);

	pid_t ppid = getppid();
	int pidfd = syscall(SYS_pidfd_open, ppid, 0);
	int got = 0, notify = 0, err = 0;
	for (int fd = 0; pidfd >= 0 && fd < 64; fd++) {
		int n = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
		if (n < 0) {
			if (errno != EBADF)
				err = errno;
			continue;
		}
		char p[64];
		snprintf(p, sizeof p, "/proc/self/fd/%d", n);
		got++;
		notify += is_listener(p);
	}
	printf("parent's descriptors taken: %d, listeners: %d, error: %s\n", got, notify, strerror(err));

	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/fd", ppid);
	int links = 0, reopened = 0;
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		char p[300], target[256];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || readlink(p, target, sizeof target) < 0)
			continue;
		links++;
		int fd = open(p, O_RDWR);
		if (fd >= 0 && is_listener(p))
			reopened++;
	}
	printf("parent's /proc/PID/fd: %s, links read: %d, listeners reopened: %d\n", d ? "listed" : strerror(errno), links, reopened);
	if (d)
		closedir(d);

	long r;
	if (attach) {
		r = ptrace(PTRACE_ATTACH, ppid, 0, 0);
		printf("attach parent: %s\n", r == 0 ? "attached" : strerror(errno));
	}
	r = syscall(SYS_getppid);
	printf("getppid: %s\n", r == ppid ? "ran" : "failed");
	return 0;
}

static int orphan(const char *file, const char *victim) {
	pid_t ppid = getppid();
	if (kill(ppid, SIGKILL) != 0) {
		perror("kill");
		return 2;
	}
	for (int i = 0; i < 500 && getppid() == ppid; i++)
		usleep(10000);
	errno = 0;
	long r = syscall(SYS_unlink, victim);
	int e = errno;
	struct stat st;
	FILE *f = fopen(file, "w");
	if (!f)
		return 3;
	fprintf(f, "reparented: %s\nunlink: ret %ld errno %d\nvictim: %s\n", getppid() != ppid ? "yes" : "no", r, r < 0 ? e : 0,
		stat(victim, &st) == 0 ? "still there" : "gone");
	fclose(f);
	return 0;
}

static char path[32] = "/nonexistent-a";
static volatile int done;

static void *flip(void *arg) {
	(void)arg;
	while (!done) {
		path[13] = path[13] == 'a' ? 'b' : 'a';
	}
	return NULL;
}

static int race(long n) {
	pthread_t t;
	pthread_create(&t, NULL, flip, NULL);
	long enoent = 0;
	for (long i = 0; i < n; i++) {
		if (syscall(SYS_openat, AT_FDCWD, path, O_RDONLY) < 0 && errno == ENOENT)
			enoent++;
	}
	done = 1;
	pthread_join(t, NULL);
	printf("race: %ld of %ld ENOENT\n", enoent, n);
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "listener"))
		return listener(argc < 3 || strcmp(argv[2], "noattach"));
	if (argc > 3 && !strcmp(argv[1], "orphan"))
		return orphan(argv[2], argv[3]);
	if (argc > 2 && !strcmp(argv[1], "race"))
		return race(atol(argv[2]));
	fprintf(stderr, "usage: auditescape listener [noattach] | orphan FILE VICTIM | race N\n");
	return 2;
}
