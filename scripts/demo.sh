#!/usr/bin/env bash
# make demo: stamp a small program, run it with and without the loader, and
# show the kill. Fails (exit 1) if anything does not happen as shown.
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

say "1. The program, unrestricted"
run "$work/greet"

say "2. Stamp it: deny exec and ptrace (the binary is edited in place, nothing recompiled)"
run "$stamp" --deny @exec,ptrace "$work/greet"
run "$stamp" --show "$work/greet"
run readelf -n "$work/greet" | sed -n '/SysRestrict/,+1p'

say "3. Stamped, but run without the loader: the note alone changes nothing"
run "$work/greet"

say "4. Through the loader: it starts, and its own exec is killed with SIGSYS"
set +e
"$loader" -v "$work/greet"
status=$?
set -e
printf '(exit status %d' "$status"
if [ "$status" -eq 159 ]; then
	printf ' = 128 + SIGSYS: killed by the seccomp filter)\n'
else
	printf ': expected 159, killed by SIGSYS)\n'
	exit 1
fi

say "5. The filter the loader installs"
"$loader" --dump "$work/greet" | head -n 24

say "6. Remove the note: the binary is as it was"
run "$stamp" --remove "$work/greet"
run "$loader" --require "$work/greet" || printf '(exit status %d: --require refuses a binary with no note)\n' "$?"
