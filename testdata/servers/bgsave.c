/*
 * bgsave: a small line-protocol server with a background save, as redis
 * has: BGSAVE fork()s a child that writes the data to a file while the
 * server goes on serving. If the fork fails, the server answers with the
 * error and keeps serving, its data intact; that is what a stamp with
 * --deny clone:ENOSYS relies on (issue 14).
 *
 *   bgsave DIR        listen on 127.0.0.1, an ephemeral port; print
 *                     "listening PORT" on stdout; serve one client at a
 *                     time until SHUTDOWN
 *
 * Commands, one a line; each answer is one line:
 *   PING              +PONG
 *   SET VALUE         +OK                       (the data, in memory)
 *   GET               +VALUE
 *   BGSAVE            +Background saving started (pid N)
 *                     -ERR fork: STRERROR       (and the server goes on)
 *   LASTSAVE          +ok | +none | +failed      (the last child's fate)
 *   THREAD            +thread ok | -ERR pthread_create: STRERROR
 *                     (a thread computes and is joined: glibc's
 *                     pthread_create makes clone3, and clone if clone3
 *                     fails with ENOSYS)
 *   SHUTDOWN          +bye, then exit 0
 *
 * Build: cc -O2 -Wall -pthread -o bgsave bgsave.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char data[512] = "";
static const char *dir;
static int last = -1; /* -1 none, 0 ok, 1 failed */

static void *worker(void *arg) {
	long *n = arg;
	for (int i = 0; i < 1000; i++)
		*n += i;
	return NULL;
}

static void reap(void) {
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		last = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static void answer(FILE *out, const char *line) {
	if (!strncmp(line, "PING", 4)) {
		fprintf(out, "+PONG\n");
	} else if (!strncmp(line, "SET ", 4)) {
		snprintf(data, sizeof data, "%s", line + 4);
		fprintf(out, "+OK\n");
	} else if (!strncmp(line, "GET", 3)) {
		fprintf(out, "+%s\n", data);
	} else if (!strncmp(line, "BGSAVE", 6)) {
		fflush(out);
		pid_t p = fork();
		if (p < 0) {
			fprintf(out, "-ERR fork: %s\n", strerror(errno));
		} else if (p == 0) {
			char path[4096];
			snprintf(path, sizeof path, "%s/dump.txt", dir);
			FILE *f = fopen(path, "w");
			if (!f || fprintf(f, "%s\n", data) < 0 || fclose(f))
				_exit(1);
			_exit(0);
		} else {
			fprintf(out, "+Background saving started (pid %d)\n", (int)p);
		}
	} else if (!strncmp(line, "LASTSAVE", 8)) {
		reap();
		fprintf(out, "+%s\n", last < 0 ? "none" : last ? "failed" : "ok");
	} else if (!strncmp(line, "THREAD", 6)) {
		pthread_t t;
		long n = 0;
		int e = pthread_create(&t, NULL, worker, &n);
		if (e) {
			fprintf(out, "-ERR pthread_create: %s\n", strerror(e));
		} else {
			pthread_join(t, NULL);
			fprintf(out, n == 499500 ? "+thread ok\n" : "-ERR thread\n");
		}
	} else {
		fprintf(out, "-ERR unknown command\n");
	}
	fflush(out);
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: bgsave DIR\n");
		return 2;
	}
	dir = argv[1];
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8) || getsockname(s, (struct sockaddr *)&a, &len)) {
		perror("bgsave");
		return 2;
	}
	printf("listening %d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("bgsave: accept");
			return 2;
		}
		FILE *in = fdopen(c, "r"), *out = fdopen(dup(c), "w");
		char line[512];
		while (fgets(line, sizeof line, in)) {
			line[strcspn(line, "\r\n")] = 0;
			if (!strcmp(line, "SHUTDOWN")) {
				fprintf(out, "+bye\n");
				fclose(out);
				return 0;
			}
			answer(out, line);
		}
		fclose(in);
		fclose(out);
	}
}
