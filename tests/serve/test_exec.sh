#!/bin/bash
# cowvm serve --exec with a real Linux runtime (lua_host running
# lua_handler/handler.lua): generated loads and stdin requests in every
# mode checked byte for byte against native runs (--check), stdout equal
# to the native runs' concatenation, requests that crash, exit 3 or spin
# reported for themselves only, mismatches found, and one line with a
# documented status for bad programs and options.
# usage: test_exec.sh COWVM LINUX.elf LUA_HOST HANDLER.lua
set -u
if [ $# -lt 4 ]; then
	echo "usage: $0 COWVM LINUX.elf LUA_HOST HANDLER.lua" >&2
	exit 2
fi
cowvm=$(readlink -f "$1") kernel=$(readlink -f "$2")
lua=$(readlink -f "$3") handler=$(readlink -f "$4")
fails=0
. "$(dirname "$0")/../lib/kvm.sh"
kvm_require
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cowvm-serve-exec.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
out=$tmp/out errf=$tmp/err
prog=(--file "$handler" "$lua" "$handler")

# fail WHAT: record a failed check, showing stdout and stderr.
fail() {
	echo "FAIL: $1"
	echo "  stdout:"
	head -n 20 "$out" | sed 's/^/    /'
	echo "  stderr:"
	head -n 20 "$errf" | sed 's/^/    /'
	fails=$((fails + 1))
}

# serve STATUS [SERVE ARGS...]: cowvm serve --exec with stdin from
# $input; fails unless the exit status is STATUS.
serve() {
	local want=$1
	shift
	printf '%s' "${input:-}" |
		"$cowvm" serve --exec --kernel "$kernel" "$@" >"$out" 2>"$errf"
	local got=$?
	if [ "$got" != "$want" ]; then
		fail "serve --exec $*: status $got (want $want)"
		return 1
	fi
}

# native LINE... [-- ENV...]: what lua_host answers natively to each line
# (one run per line, a clean environment plus ENV), concatenated.
native() {
	local envs=() lines=() seen=0
	for a in "$@"; do
		if [ "$a" = -- ]; then
			seen=1
		elif [ $seen = 1 ]; then
			envs+=("$a")
		else
			lines+=("$a")
		fi
	done
	for l in "${lines[@]}"; do
		printf '%s\n' "$l" | env -i "${envs[@]}" "$lua" "$handler"
	done
}

# Generated loads in every mode, checked against native runs.
input=''
for mode in clone spare reset; do
	serve 0 --check --mode $mode --concurrency 2 --requests 64 --live 4 \
		"${prog[@]}" || continue
	grep -Eq "^$mode +64 +2 .* 64 +0 +0$" "$out" &&
		grep -q 'memory per live clone (4 alive' "$out" &&
		grep -q '^cowvm serve --exec: .*template boot' "$out" ||
		fail "$mode: generated summary"
done

# stdin requests in every mode: the responses are the native runs'
# bytes, in order; every one served by a fresh state ("served 1").
lines=("1" "alpha bravo 7 alpha" "" "3 delta 999 delta delta" "  "
	"oscar papa papa 12 12 12" "6 kilo lima mike november" "7")
input=$(printf '%s\n' "${lines[@]}")$'\n'
native "${lines[@]}" >"$tmp/want"
for mode in clone spare reset; do
	serve 0 --check --mode $mode --concurrency 3 "${prog[@]}" || continue
	cmp -s "$tmp/want" "$out" || fail "$mode: stdin responses differ"
	grep -Eq "^$mode +8 +3 .* 8 +0 +0$" "$errf" ||
		fail "$mode: stdin summary"
	[ "$(grep -c 'served 1$' "$out")" = 8 ] || fail "$mode: served"
done

# A request that raises an error (SERVE_CRASH_AT) fails alone: the
# native run fails the same way, so nothing mismatches.
input=''
for mode in clone reset; do
	serve 1 --check --mode $mode --requests 32 --live 0 \
		--env SERVE_CRASH_AT=17 "${prog[@]}" || continue
	grep -Eq "^$mode +32 +1 .* 31 +1 +0$" "$out" ||
		fail "$mode: crash summary"
	grep -Eq '^cowvm serve: request 17: exit status 1; stderr: lua_host: .*crash requested for request 17$' \
		"$errf" && [ "$(grep -c ': request [0-9]*:' "$errf")" = 1 ] ||
		fail "$mode: the crashing request is not named alone"
done

# On stdin: a Lua error, os.exit(3) and a spin (past --timeout) each
# print one failure line in place of their response; the others answer
# as natively.
lines=("1 alpha" "2 crash" "3 bravo" "4 exit3" "5 charlie" "6 spin" "7 delta")
input=$(printf '%s\n' "${lines[@]}")$'\n'
native "1 alpha" "3 bravo" "5 charlie" "7 delta" >"$tmp/want"
for mode in clone spare reset; do
	serve 1 --check --mode $mode --timeout 1 "${prog[@]}" || continue
	grep -v '^failed: ' "$out" >"$tmp/ok"
	cmp -s "$tmp/want" "$tmp/ok" || fail "$mode: answers around failures"
	grep -q '^failed: exit status 1; stderr: lua_host: .*crash word in request 2 crash$' "$out" &&
		grep -q '^failed: exit status 3$' "$out" &&
		grep -q '^failed: timed out$' "$out" &&
		[ "$(grep -c '^failed: ' "$out")" = 3 ] ||
		fail "$mode: failure lines"
	grep -Eq "^$mode +7 +1 .* 4 +3 +0$" "$errf" ||
		fail "$mode: failures summary"
	for k in 2 4 6; do
		grep -q "^cowvm serve: request $k: " "$errf" ||
			fail "$mode: request $k is not named on stderr"
	done
done

# Answers that differ from the native run (random bytes read after the
# snapshot) are mismatches, each named.
input=''
serve 1 --check --mode spare --requests 8 --live 0 --env SERVE_RANDOM=1 \
	"${prog[@]}" &&
	{ grep -Eq '^spare +8 +1 .* 0 +0 +8$' "$out" &&
		grep -q "request 1: stdout differs from the native run's at byte" \
			"$errf" || fail "mismatches are not counted"; }
# Without --check the same answers are OK, and the exit status is 0.
serve 0 --requests 8 --live 0 --env SERVE_RANDOM=1 "${prog[@]}" &&
	{ grep -q 'not compared (no --check)' "$out" ||
		fail "no --check: note"; }

# --strace: the trace of every request's run reaches cowvm's stderr.
input=''
serve 0 --strace --requests 3 --live 0 "${prog[@]}" &&
	{ [ "$(grep -c '^exit_group(0)' "$errf")" = 3 ] ||
		fail "--strace: not one trace per request"; }

# What a program writes before its first read of stdin (in the template)
# starts every response, as it does natively: busybox sh (Debian's
# busybox-static), when it is there.
if [ -x /bin/busybox ] && ! file -L /bin/busybox 2>/dev/null | grep -q dynamic
then
	sh_prog=(/bin/busybox sh -c 'echo banner; read x; echo "got $x"')
	input=$'one\ntwo\n'
	serve 0 --check --mode reset "${sh_prog[@]}" &&
		{ [ "$(cat "$out")" = $'banner\ngot one\nbanner\ngot two' ] &&
			grep -q '7 bytes of stdout before it' "$errf" ||
			fail "output before the first read of stdin"; }
else
	echo "note: no static /bin/busybox, the banner case is skipped"
fi

# Bad programs and options: one line on stderr and a documented status.
# one_line STATUS PATTERN [SERVE ARGS...]
one_line() {
	local want=$1 pat=$2
	shift 2
	serve "$want" "$@" || return
	[ "$(wc -l <"$errf")" = 1 ] && grep -Eq -- "$pat" "$errf" ||
		fail "serve --exec $*: not one line matching /$pat/"
}
input=$'x\n'
one_line 127 '^cowvm serve: /nonexistent/prog: No such file' /nonexistent/prog
one_line 126 '^cowvm serve: /bin/true: .*dynamic' /bin/true
one_line 126 "^cowvm serve: $handler: not an ELF" "$handler"
one_line 122 'exited with status 1 before its first read of stdin: lua_host: cannot open /nonexistent.lua' \
	"$lua" /nonexistent.lua
one_line 120 'missing PROGRAM' --mode reset
one_line 120 '--state-mib is for the built-in serve workload' --state-mib 4 \
	"${prog[@]}"
one_line 121 'personality kernel /nonexistent.elf' --kernel /nonexistent.elf \
	"${prog[@]}"
printf 'x\n' | "$cowvm" serve --check --requests 1 "$lua" >"$out" 2>"$errf"
[ $? = 120 ] && grep -q -- '--check needs --exec' "$errf" ||
	fail "--check without --exec"
"$cowvm" --help | grep -q 'cowvm serve --exec \[SERVE OPTIONS\] PROGRAM' ||
	fail "--help lacks serve --exec"

echo "$fails failures"
[ "$fails" = 0 ]
