#!/usr/bin/env bash
# stackprobe.sh BIN [ARGS...]: run BIN once and print the Go call stack at
# each runtime.morestack, i.e. wherever the goroutine stack had to grow.
# The loader should show only the runtime's own growth in internal/godebug's
# init (docs/exec.md, "Start-up"); one in our code costs ~5 page faults.
#
#   make build && scripts/stackprobe.sh bin/sysrestrict-exec ./stamped-program
#
# Needs root and perf (Debian: linux-perf) with uprobes; a maintainer's tool,
# not part of make test.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BIN [ARGS...]" >&2; exit 2; }
bin=$(readlink -f "$1"); shift
command -v perf >/dev/null || { echo "stackprobe: perf is needed (apt-get install linux-perf)" >&2; exit 1; }
group=stackprobe
sym=$(go tool nm "$bin" | awk '$3=="runtime.morestack.abi0"{print $1}')
[ -n "$sym" ] || { echo "stackprobe: no runtime.morestack.abi0 in $bin: not a Go binary?" >&2; exit 1; }
# uprobes take a file offset; Go's text segment maps offset 0 at 0x400000
# (non-PIE amd64 builds, as make build makes).
base=$(readelf -lW "$bin" | awk '$1=="LOAD" && $2=="0x000000" {print $3; exit}')
off=$(printf '0x%x' $((0x$sym - base)))
data=$(mktemp)
trap 'perf probe -q -d "$group:*" >/dev/null 2>&1 || true; rm -f "$data"' EXIT
perf probe -q -d "$group:*" >/dev/null 2>&1 || true
perf probe -q -x "$bin" -a "$group:morestack=$off" >/dev/null
perf record -q -e "$group:morestack" --call-graph=fp -o "$data" "$bin" "$@" >/dev/null 2>&1 || true
perf script -i "$data" 2>/dev/null | awk 'NF==0 {print "--"; next} $1 ~ /^[0-9a-f]+$/ {print "  " $2}'
