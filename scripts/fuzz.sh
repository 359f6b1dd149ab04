#!/usr/bin/env bash
# Runs every fuzz target of the packages given, each for FUZZTIME (make fuzz).
#
# Go's fuzz coordinator up to go1.26 can report "context deadline exceeded"
# and fail a target when -fuzztime runs out while a worker is still busy
# (golang/go#75804, fixed in go1.27): a race in the engine, not an input the
# target failed on. A real failure always writes its input under
# testdata/fuzz/ ("Failing input written to ...") or prints the panic or the
# t.Error. So a failure whose log has the deadline line and none of those is
# run once more; any other failure, and a second failure, fail the run.
set -euo pipefail
go=${GO:-go}
fuzztime=${FUZZTIME:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

engine_race() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

run() {
	"$go" test -run='^$' -fuzz="^$2\$" -fuzztime="$fuzztime" -fuzzminimizetime=2s "$1" >"$log" 2>&1
}

for pkg in $("$go" list "$@"); do
	dir=$("$go" list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "fuzz $pkg $f ($fuzztime)"
		if run "$pkg" "$f"; then
			continue
		fi
		if engine_race; then
			echo "fuzz $pkg $f: the fuzz engine's deadline race (golang/go#75804), no failing input: once more"
			run "$pkg" "$f" && continue
		fi
		cat "$log"
		exit 1
	done
done
