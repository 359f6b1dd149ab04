#!/usr/bin/env bash
# make demo: stamp a small program, run it with and without the loader, and
# show the kill; then embed a copy (--embed), which enforces its note itself
# when a shell runs it. Fails (exit 1) if anything does not happen as shown.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
stamp=$BIN/sysrestrict-stamp
loader=$BIN/sysrestrict-exec
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cat > "$work/greet.c" <<'C'
/* greet: says hello, then runs /bin/echo, as a program that shells out would. */
#include <stdio.h>
#include <unistd.h>
int main(void) {
	printf("greet: hello, I am pid %d; now running /bin/echo\n", getpid());
	fflush(stdout);
	execl("/bin/echo", "echo", "echo: the exec went through", (char *)0);
	perror("greet: execl");
	return 1;
}
C
cc -O2 -o "$work/greet" "$work/greet.c"
cp "$work/greet" "$work/greet.orig"

say "1. The program, unrestricted"
run "$work/greet"

say "2. Stamp it: deny exec and ptrace (the binary is edited in place, nothing recompiled)"
run "$stamp" --deny @exec,ptrace "$work/greet"
run "$stamp" --show "$work/greet"
run readelf -n "$work/greet" | sed -n '/SysRestrict/,+1p'

say "3. Stamped (a note only, no --embed), but run without the loader: the note alone changes nothing"
run "$work/greet"

# killed STATUS: check that a run ended in SIGSYS, as a shell reports it.
killed() {
	printf '(exit status %d' "$1"
	if [ "$1" -eq 159 ]; then
		printf ' = 128 + SIGSYS: killed by the seccomp filter)\n'
	else
		printf ': expected 159, killed by SIGSYS)\n'
		exit 1
	fi
}

say "4. Through the loader: it starts, and its own exec is killed with SIGSYS"
set +e
"$loader" -v "$work/greet"
status=$?
set -e
killed "$status"

say "5. Embedded: a copy stamped with --embed carries a start-up stub that installs the filter itself"
run "$stamp" --embed --deny @exec,ptrace -o "$work/greet-embedded" "$work/greet.orig"
run "$stamp" --show "$work/greet-embedded"

say "6. Run directly from a shell, no loader: the embedded copy is killed all the same"
# A shell, as systemd, cron or any other program would start it; the
# shell says "Bad system call" for a child killed by SIGSYS.
printf '$ sh -c %s\n' "'$work/greet-embedded; ...'"
set +e
sh -c '"$0"; exit $?' "$work/greet-embedded"
status=$?
set -e
killed "$status"

say "7. The embedded copy through the loader: both filters, the same kill"
set +e
"$loader" "$work/greet-embedded"
status=$?
set -e
killed "$status"
run "$loader" --explain "$work/greet-embedded" || printf '(exit status %d: --explain names the syscall, then kills)\n' "$?"

say "8. The filter the loader installs"
"$loader" --dump "$work/greet" | head -n 24

say "9. Remove the note: the binary is as it was"
run "$stamp" --remove "$work/greet"
run "$loader" --require "$work/greet" || printf '(exit status %d: --require refuses a binary with no note)\n' "$?"
