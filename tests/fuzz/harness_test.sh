#!/usr/bin/env bash
# One test of `cowvm fuzz` on libFuzzer-style harnesses (static Linux
# programs of scripts/build-harness.sh), named by the last argument; exits
# 0 (pass), 1 (fail) or 77 (skip: /dev/kvm is not usable).
set -uo pipefail

cowvm=$1 examples=$2 fixtures=$3 seeds=$4 name=$5
. "$(dirname "$0")/fuzz_lib.sh"

# Input $2 (a string) to harness $1 must give reason $3 and status $4.
reproduce_is() {
	printf '%s' "$2" >"$tmp/input"
	expect "$4" fuzz --reproduce "$tmp/input" "$1"
	grep -q -- "$3" "$tmp/out" || fail "input '$2': $(cat "$tmp/out")"
}

# Fuzz example harness $1 from its seeds for $2 runs at seed 1: with
# comparison feedback the planted bug (reason $3) is found, saved and
# reproduced; with --no-cmp and the same budget it is not.
planted_bug() {
	local h=$examples/$1 runs=$2 pattern=$3
	[ -x "$h" ] || fail "$h was not built"
	expect 1 fuzz --seed 1 --runs "$runs" --stop-on-crash -q \
		-i "$seeds/$1" -o "$tmp/cmp" "$h"
	grep -h "first crash\|comparisons" "$tmp/err"
	grep -q -- "$pattern" "$tmp/cmp/crashes/id:000000.txt" ||
		fail "crash reason: $(head -1 "$tmp/cmp/crashes/id:000000.txt")"
	expect 1 fuzz --reproduce "$tmp/cmp/crashes/id:000000" "$h"
	grep -q -- "$pattern" "$tmp/out" || fail "reproduce: $(cat "$tmp/out")"
	expect 0 fuzz --seed 1 --runs "$runs" --no-cmp -q -i "$seeds/$1" \
		-o "$tmp/nocmp" "$h"
	grep -q "runs=$runs " "$tmp/err" || fail "budget: $(cat "$tmp/err")"
	[ -z "$(ls "$tmp/nocmp/crashes")" ] || fail "found without feedback"
}

case $name in
harness-zlib)
	planted_bug zlib_inflate 20000 "signal 4 SIGILL.*in LLVMFuzzerTestOneInput"
	;;
harness-expat)
	planted_bug expat_parse 20000 "signal 6 SIGABRT"
	;;
harness-yaml)
	planted_bug yaml_parse 20000 "signal 11 SIGSEGV.*addr=0x0"
	;;
harness-kinds | harness-kinds-musl)
	h=$fixtures/kinds
	[ "$name" = harness-kinds-musl ] && h=$fixtures/kinds-musl
	reproduce_is "$h" "A" "signal 6 SIGABRT" 1
	reproduce_is "$h" "T" "signal 4 SIGILL.*in LLVMFuzzerTestOneInput+" 1
	reproduce_is "$h" "S" "signal 11 SIGSEGV.*addr=0x10" 1
	reproduce_is "$h" "D" "signal 8 SIGFPE" 1
	reproduce_is "$h" "K" "signal 10 SIGUSR1" 1
	reproduce_is "$h" "R" "the target returned 7" 1
	reproduce_is "$h" "J" "ran cleanly" 0
	reproduce_is "$h" "x" "ran cleanly" 0
	reproduce_is "$h" "P12" "kinds says 3" 0
	printf 'H' >"$tmp/input"
	expect 2 fuzz --timeout-ms 200 --reproduce "$tmp/input" "$h"
	grep -q "timeout" "$tmp/out" || fail "hang: $(cat "$tmp/out")"
	# Fuzzing finds crashes of several kinds and saves each once.
	expect 1 fuzz --seed 2 --runs 3000 --timeout-ms 200 -q -o "$tmp/o" "$h"
	n=$(ls "$tmp/o/crashes" | grep -vc '\.txt$')
	[ "$n" -ge 3 ] || fail "only $n distinct crashes saved"
	# Rejected inputs (return -1) never join the corpus.
	for f in "$tmp/o/queue"/*; do
		[ "$(head -c1 "$f")" != J ] || fail "rejected input $f kept"
	done
	# Natively the harness runs its file arguments, as libFuzzer's do.
	printf 'x' >"$tmp/ok"
	"$h" "$tmp/ok" 2>"$tmp/err" || fail "native run: $(cat "$tmp/err")"
	grep -q "Running: $tmp/ok" "$tmp/err" || fail "native: $(cat "$tmp/err")"
	;;
harness-init-crash)
	expect 122 fuzz --env COWVM_TEST_INIT_CRASH=1 --runs 10 "$fixtures/kinds"
	grep -q "crashed during init.*signal 11 SIGSEGV" "$tmp/err" ||
		fail "init crash: $(cat "$tmp/err")"
	# A Linux program that is not a harness is refused clearly.
	expect 121 fuzz --runs 10 "$(command -v busybox)"
	grep -q "not a cowvm fuzz target.*build-harness.sh" "$tmp/err" ||
		fail "not a harness: $(cat "$tmp/err")"
	;;
harness-dict)
	h=$fixtures/dict_only
	printf '# tokens\nkw1="cowvm-token!"\n"\\x00\\xffab"\n' >"$tmp/d.dict"
	expect 1 fuzz --seed 1 --runs 20000 --no-cmp --stop-on-crash -q \
		-x "$tmp/d.dict" "$h"
	grep -q "dictionary tokens 2" "$tmp/err" || fail "tokens: $(cat "$tmp/err")"
	expect 0 fuzz --seed 1 --runs 20000 --no-cmp -q "$h"
	expect 1 fuzz --seed 1 --runs 20000 --stop-on-crash -q "$h"
	expect 1 fuzz --seed 1 --runs 20000 --no-cmp --stop-on-crash -q \
		-dict="$tmp/d.dict" "$h"
	printf 'kw="unterminated\n' >"$tmp/bad.dict"
	expect 126 fuzz --runs 10 -x "$tmp/bad.dict" "$h"
	grep -q "bad.dict:1: no closing quote" "$tmp/err" ||
		fail "bad dictionary: $(cat "$tmp/err")"
	expect 126 fuzz --runs 10 -x "$tmp/missing.dict" "$h"
	grep -q "missing.dict: No such file" "$tmp/err" ||
		fail "missing dictionary: $(cat "$tmp/err")"
	;;
*)
	fail "unknown test $name"
	;;
esac
echo "PASS: $name"
