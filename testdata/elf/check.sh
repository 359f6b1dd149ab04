#!/bin/bash
# check.sh: verify fixtures.json against the fixtures themselves.
#
# For every fixture with a "run" argv prefix: run it with "args" and compare
# stdout and the exit status; for those with "self_notes", run it with the
# argument "notes" and compare the notes it reads from its own memory; for
# those with "trace", check that LD_TRACE_LOADED_OBJECTS=1 makes ld.so list
# the libraries instead of running the program, and for the other runnable
# ones that it changes nothing. For every fixture with "facts", compare the
# program header counts with readelf's. Exit 1 on any mismatch.
#
# A fixture with "needs" (a host capability: i386-exec, x32) is run only
# where the running kernel has it, as internal/hostcap probes it; where it
# has not, the run is skipped with the probe's reason and the static facts
# are still checked. A missing tool is never skipped: it fails.
#
# Needs: bash, go (for the probe), jq, readelf, qemu-user (qemu-aarch64, qemu-arm, qemu-s390x,
# qemu-ppc) and the foreign C libraries (libc6-{arm64,armhf,s390x,powerpc}-cross)
# under /usr.
set -u
cd "$(dirname "$0")"
manifest=${MANIFEST:-fixtures.json}
fail=0 runs=0 skips=0
bad() { echo "FAIL $1: $2"; fail=1; }

caps=$(cd ../.. && go run ./internal/hostcap/probe) || { echo "check.sh: the host capability probe failed" >&2; exit 1; }

n=$(jq length "$manifest")
for ((i = 0; i < n; i++)); do
	e=$(jq -c ".[$i]" "$manifest")
	file=$(jq -r .file <<<"$e")
	[ -e "$file" ] || { bad "$file" "missing"; continue; }

	if [ "$(jq '.facts != null' <<<"$e")" = true ]; then
		ph=$(readelf -lW "$file" 2>/dev/null)
		count() { grep -cE "^  $1 " <<<"$ph"; }
		phnum=$(readelf -hW "$file" | awk -F: '/Number of program headers/ {print $2+0}')
		shnum=$(readelf -hW "$file" | awk -F: '/Number of section headers/ {print $2+0}')
		got=$(printf '%s %s %s %s %s %s' "$phnum" "$shnum" "$(count PHDR)" "$(count NULL)" "$(count NOTE)" "$(count INTERP)")
		want=$(jq -r '.facts | "\(.phnum) \(.shnum) \(if .pt_phdr then 1 else 0 end) \(.pt_null) \(.pt_note) \(if .pt_interp then 1 else 0 end)"' <<<"$e")
		[ "$got" = "$want" ] || bad "$file" "readelf phnum shnum PHDR NULL NOTE INTERP = $got, manifest $want"
	fi

	[ "$(jq '.run != null' <<<"$e")" = true ] || continue
	needs=$(jq -r '.needs // empty' <<<"$e")
	if [ -n "$needs" ]; then
		have=$(grep "^$needs " <<<"$caps")
		[ -n "$have" ] || { bad "$file" "needs unknown host capability $needs"; continue; }
		case $have in
		"$needs yes "*) ;;
		*) echo "SKIP $file: not run, the host kernel lacks $have"; skips=$((skips + 1)); continue ;;
		esac
	fi
	mapfile -t run < <(jq -r '.run[]' <<<"$e")
	mapfile -t args < <(jq -r '.args[]' <<<"$e")
	want_out=$(jq -r .stdout <<<"$e")
	want_exit=$(jq -r .exit <<<"$e")
	got_out=$("${run[@]}" "./$file" "${args[@]}")
	got_exit=$?
	runs=$((runs + 1))
	[ "$got_out" = "${want_out%$'\n'}" ] || bad "$file" "stdout $(printf %q "$got_out"), manifest $(printf %q "$want_out")"
	[ "$got_exit" = "$want_exit" ] || bad "$file" "exit $got_exit, manifest $want_exit"
	hello=$("${run[@]}" "./$file")

	if [ "$(jq '.self_notes != null' <<<"$e")" = true ]; then
		want=$( (echo "$hello"; jq -r '.self_notes[]' <<<"$e") )
		got=$("${run[@]}" "./$file" notes) || bad "$file" "notes mode exit $?"
		[ "$got" = "$want" ] || bad "$file" "notes mode printed $(printf %q "$got"), manifest $(printf %q "$want")"
	fi

	if [ "$(jq .dynamic <<<"$e")" = true ]; then
		mapfile -t trace < <(jq -r '.trace[]' <<<"$e")
		got=$("${trace[@]}" "./$file") || bad "$file" "LD_TRACE_LOADED_OBJECTS exit $?"
		case $got in
		*"hello from"* | "") bad "$file" "LD_TRACE_LOADED_OBJECTS=1 did not trace: $(printf %q "$got")" ;;
		esac
	elif [ "$(jq -r .kind <<<"$e")" != script ]; then
		if [ "${#run[@]}" -eq 0 ]; then
			got=$(LD_TRACE_LOADED_OBJECTS=1 "./$file")
		else
			got=$("${run[@]}" -E LD_TRACE_LOADED_OBJECTS=1 "./$file")
		fi
		[ "$got" = "$hello" ] || bad "$file" "dynamic false, but LD_TRACE_LOADED_OBJECTS=1 changed the output: $(printf %q "$got")"
	fi
done

echo "check.sh: $n fixtures, $runs run, $skips not run (host kernel), $([ $fail = 0 ] && echo ok || echo FAILED)"
exit $fail
