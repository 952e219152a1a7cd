#!/usr/bin/env bash
# One `cowvm fuzz` test, named by the last argument; exits 0 (pass), 1
# (fail) or 77 (skip: /dev/kvm is not usable).
set -uo pipefail

cowvm=$1 magic=$2 tlv=$3 hang=$4 bad_init=$5 ret_abort=$6 fpu=$7 guest=$8
build_target=$9 builddir=${10} name=${11}
. "$(dirname "$0")/fuzz_lib.sh"

# Fuzz target $1 with seed $2 for at most $3 runs; the first crash must be
# saved with a reason matching $4 and reproduce with the same reason.
find_bug() {
	local elf=$1 seed=$2 runs=$3 pattern=$4
	expect 1 fuzz --seed "$seed" --runs "$runs" --stop-on-crash -q \
		-o "$tmp/o" "$elf"
	grep -h "first crash" "$tmp/err"
	[ -f "$tmp/o/crashes/id:000000" ] || fail "no crash file"
	grep -q -- "$pattern" "$tmp/o/crashes/id:000000.txt" ||
		fail "crash reason: $(head -1 "$tmp/o/crashes/id:000000.txt")"
	expect 1 fuzz --reproduce "$tmp/o/crashes/id:000000" "$elf"
	grep -q -- "$pattern" "$tmp/out" || fail "reproduce said: $(cat "$tmp/out")"
}

case $name in
find-magic-len)
	find_bug "$magic" 1 20000 "vector=14 #PF"
	;;
find-tlv)
	find_bug "$tlv" 1 40000 "vector=0 #DE"
	;;
libfuzzer-flags)
	# libFuzzer's spellings mean what cowvm's own options do.
	expect 0 fuzz -seed=7 -runs=3000 -timeout=1 -q -o "$tmp/a" "$tlv"
	expect 0 fuzz --seed 7 --runs 3000 --timeout-ms 1000 -q -o "$tmp/b" \
		"$tlv"
	diff -r "$tmp/a/queue" "$tmp/b/queue" || fail "queues differ"
	[ "$(ls "$tmp/a/queue" | wc -l)" -gt 1 ] || fail "queue did not grow"
	expect 0 fuzz -max_total_time=1 -q "$tlv"
	grep -q "runs" "$tmp/err" || fail "no final status: $(cat "$tmp/err")"
	expect 120 fuzz -runs=x "$tlv"
	grep -q "not a number" "$tmp/err" || fail "-runs=x: $(cat "$tmp/err")"
	expect 120 fuzz -timeout=0 "$tlv"
	grep -q "1..3600" "$tmp/err" || fail "-timeout=0: $(cat "$tmp/err")"
	expect 120 fuzz -use_value_profile=1 "$tlv"
	grep -q "libFuzzer flag '-use_value_profile=1' is not supported" \
		"$tmp/err" || fail "unknown flag: $(cat "$tmp/err")"
	;;
afl-status)
	# fuzzer_stats and plot_data as AFL++'s tools read them.
	mkdir -p "$tmp/sync"
	expect 0 fuzz --seed 3 --runs 10000 -q -o "$tmp/sync/main" "$tlv"
	stats=$tmp/sync/main/fuzzer_stats
	[ -f "$stats" ] || fail "no fuzzer_stats"
	field() { sed -n "s/^$1 *: //p" "$stats"; }
	[ "$(field execs_done)" = 10000 ] || fail "execs_done $(field execs_done)"
	queued=$(ls "$tmp/sync/main/queue" | grep -vc '\.txt$')
	[ "$(field corpus_count)" = "$queued" ] ||
		fail "corpus_count $(field corpus_count), queue holds $queued"
	[ "$(field fuzzer_pid)" -gt 0 ] || fail "fuzzer_pid $(field fuzzer_pid)"
	[ "$(field exec_timeout)" = 100 ] || fail "exec_timeout"
	expect 1 fuzz --seed 1 --runs 20000 --stop-on-crash -q -o "$tmp/sync/b" \
		"$magic"
	[ "$(sed -n 's/^saved_crashes *: //p' "$tmp/sync/b/fuzzer_stats")" = 1 ] ||
		fail "saved_crashes: $(grep saved_crashes "$tmp/sync/b/fuzzer_stats")"
	head -1 "$tmp/sync/main/plot_data" | grep -q '^# relative_time,' ||
		fail "plot_data header"
	tail -1 "$tmp/sync/main/plot_data" | awk -F', ' \
		'NF != 13 || $12 != 10000 { exit 1 }' ||
		fail "plot_data line: $(tail -1 "$tmp/sync/main/plot_data")"
	TERM=dumb afl-whatsup -s -d "$tmp/sync" >"$tmp/w" 2>&1 ||
		fail "afl-whatsup: $(cat "$tmp/w")"
	grep -q "Dead or remote : 2" "$tmp/w" || fail "whatsup: $(cat "$tmp/w")"
	grep -q "Crashes saved : 1" "$tmp/w" || fail "whatsup: $(cat "$tmp/w")"
	;;
determinism)
	expect 0 fuzz --seed 7 --runs 10000 -q -o "$tmp/a" "$tlv"
	expect 0 fuzz --seed 7 --runs 10000 -q -o "$tmp/b" "$tlv"
	diff -r "$tmp/a/queue" "$tmp/b/queue" || fail "queues differ"
	[ "$(ls "$tmp/a/queue" | wc -l)" -gt 3 ] || fail "queue did not grow"
	expect 0 fuzz --seed 8 --runs 10000 -q -o "$tmp/c" "$tlv"
	diff -rq "$tmp/a/queue" "$tmp/c/queue" >/dev/null &&
		fail "seeds 7 and 8 made the same queue"
	;;
errors)
	expect 120 fuzz
	expect 120 fuzz --runs x "$magic"
	expect 120 fuzz --bogus "$magic"
	expect 121 fuzz "$tmp/missing.elf"
	echo "not an elf" >"$tmp/bad.elf"
	expect 121 fuzz "$tmp/bad.elf"
	expect 121 fuzz --runs 10 "$guest"
	grep -q "not a cowvm fuzz target" "$tmp/err" || fail "$(cat "$tmp/err")"
	expect 126 fuzz -i "$tmp/nothere" --runs 10 "$magic"
	grep -q "corpus folder" "$tmp/err" || fail "$(cat "$tmp/err")"
	touch "$tmp/file"
	expect 126 fuzz -o "$tmp/file/out" --runs 10 "$magic"
	grep -q "not writable" "$tmp/err" || fail "$(cat "$tmp/err")"
	expect 122 fuzz --runs 10 "$bad_init"
	grep -q "crashed during init: fault vector=6" "$tmp/err" ||
		fail "$(cat "$tmp/err")"
	expect 0 fuzz --runs 10 -q -o "$tmp/o" "$magic"
	expect 126 fuzz --runs 10 -q -o "$tmp/o" "$magic"
	grep -q "already holds" "$tmp/err" || fail "$(cat "$tmp/err")"
	# every error is one line
	for f in "$tmp/err"; do
		[ "$(wc -l <"$f")" -eq 1 ] || fail "more than one line: $(cat "$f")"
	done
	;;
snapfile)
	# A target saved at its harness snapshot fuzzes from the file as the
	# booted one does: the same queue for a seed, the bug found, the crash
	# reproduced; bad files and options give one line.
	expect 0 fuzz --seed 7 --runs 10000 -q -o "$tmp/a" \
		--save-snapshot "$tmp/tlv.snap" "$tlv"
	expect 0 fuzz --seed 7 --runs 10000 -q -o "$tmp/b" --from "$tmp/tlv.snap"
	diff -r "$tmp/a/queue" "$tmp/b/queue" || fail "queues differ"
	[ "$(ls "$tmp/a/queue" | wc -l)" -gt 3 ] || fail "queue did not grow"
	expect 1 fuzz --seed 1 --runs 40000 --stop-on-crash -q -o "$tmp/c" \
		--from "$tmp/tlv.snap"
	grep -q "vector=0 #DE" "$tmp/c/crashes/id:000000.txt" || fail "no #DE"
	expect 1 fuzz --reproduce "$tmp/c/crashes/id:000000" --from "$tmp/tlv.snap"
	grep -q "vector=0 #DE" "$tmp/out" || fail "reproduce: $(cat "$tmp/out")"
	expect 0 fuzz -j 2 --runs 2000 -q -o "$tmp/j" --from "$tmp/tlv.snap"
	expect 120 fuzz --from "$tmp/tlv.snap" --save-snapshot "$tmp/x.snap"
	expect 120 fuzz --from "$tmp/tlv.snap" --mem 8M
	expect 121 fuzz --runs 10 --from "$tmp/missing.snap"
	head -c 4096 "$tmp/tlv.snap" >"$tmp/trunc.snap"
	expect 121 fuzz --runs 10 --from "$tmp/trunc.snap"
	grep -q "truncated" "$tmp/err" || fail "$(cat "$tmp/err")"
	printf 'get 1\n' | "$cowvm" serve --save-snapshot "$tmp/serve.snap" \
		"$guest" >/dev/null 2>&1 || fail "cannot save a serve template"
	expect 121 fuzz --runs 10 --from "$tmp/serve.snap"
	grep -q "not a snapshot of a cowvm fuzz target" "$tmp/err" ||
		fail "$(cat "$tmp/err")"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "more than one line"
	;;
timeouts)
	mkdir "$tmp/in"
	printf 'H' >"$tmp/in/hang"
	printf 'ok' >"$tmp/in/fine"
	expect 0 fuzz --runs 50 --timeout-ms 20 -q -i "$tmp/in" -o "$tmp/o" \
		"$hang"
	[ -f "$tmp/o/hangs/id:000000" ] || fail "no timeout saved"
	grep -q "timeout: no exit within 20 ms" "$tmp/o/hangs/id:000000.txt" ||
		fail "reason: $(cat "$tmp/o/hangs/id:000000.txt")"
	expect 2 fuzz --reproduce "$tmp/in/hang" --timeout-ms 20 "$hang"
	expect 0 fuzz --reproduce "$tmp/in/fine" "$hang"
	grep -q "no crash" "$tmp/out" || fail "$(cat "$tmp/out")"
	;;
crash-kinds)
	printf 'R' >"$tmp/r"
	printf 'A' >"$tmp/a"
	expect 1 fuzz --reproduce "$tmp/r" "$ret_abort"
	grep -q "the target returned 7" "$tmp/out" || fail "$(cat "$tmp/out")"
	expect 1 fuzz --reproduce "$tmp/a" "$ret_abort"
	grep -q "cowvm_target_abort called from rip=0x1" "$tmp/out" ||
		fail "$(cat "$tmp/out")"
	mkdir "$tmp/in"
	cp "$tmp/r" "$tmp/a" "$tmp/in/"
	expect 1 fuzz --runs 20 -q -i "$tmp/in" -o "$tmp/o" "$ret_abort"
	[ -f "$tmp/o/crashes/id:000001.txt" ] || fail "two crash kinds, not saved"
	;;
fpu)
	# Every input starts from the snapshot's FPU modes, whatever the one
	# before changed ('F' inputs change them; a leak makes the target
	# return 9): the harness reloads them, and resets leave them to it.
	mkdir "$tmp/in"
	printf 'F' >"$tmp/in/f"
	printf 'x' >"$tmp/in/x"
	expect 0 fuzz --seed 1 --runs 3000 -q -i "$tmp/in" -o "$tmp/o" "$fpu"
	[ -z "$(ls "$tmp/o/crashes")" ] ||
		fail "FPU state leaked: $(head -1 "$tmp/o/crashes/"*.txt)"
	;;
no-coverage)
	# The budget that finds the magic_len bug with coverage does not
	# without it.
	expect 0 fuzz --no-coverage --seed 1 --runs 20000 -q -o "$tmp/o" "$magic"
	[ -z "$(ls "$tmp/o/crashes")" ] || fail "found a crash blind"
	expect 0 fuzz --no-coverage --seed 1 --runs 40000 -q -o "$tmp/p" "$tlv"
	[ -z "$(ls "$tmp/p/crashes")" ] || fail "found the tlv crash blind"
	;;
script)
	# A target built outside the tree behaves like the in-tree one.
	command -v "${CLANG:-clang}" >/dev/null || exit 77
	cp "$(dirname "$build_target")/../fuzz/targets/magic_len.c" "$tmp/t.c"
	bash "$build_target" -B "$builddir" "$tmp/t.c" -o "$tmp/t.elf" ||
		fail "build-target.sh failed"
	expect 1 fuzz --seed 1 --runs 20000 --stop-on-crash -q "$tmp/t.elf"
	grep "first crash" "$tmp/err" >"$tmp/a"
	expect 1 fuzz --seed 1 --runs 20000 --stop-on-crash -q "$magic"
	grep "first crash" "$tmp/err" | sed 's/after [0-9.]* s//' >"$tmp/b"
	sed -i 's/after [0-9.]* s//' "$tmp/a"
	diff "$tmp/a" "$tmp/b" || fail "script-built target differs"
	;;
*)
	fail "unknown test $name"
	;;
esac
echo "PASS: $name"
