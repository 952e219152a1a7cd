#!/usr/bin/env bash
# One test of `cowvm fuzz` on libFuzzer-style harnesses (static Linux
# programs of scripts/build-harness.sh), named by the last argument; exits
# 0 (pass), 1 (fail) or 77 (skip: /dev/kvm is not usable).
set -uo pipefail

cowvm=$1 examples=$2 fixtures=$3 seeds=$4 nyxdir=$5 name=$6
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
	# getrandom after the snapshot: a stream that restarts with each
	# input (the same value every run), the C library's natively.
	reproduce_is "$h" "G" "random [0-9a-f]" 0
	g1=$(grep random "$tmp/out")
	reproduce_is "$h" "G" "$g1" 0
	printf 'G' >"$tmp/g"
	n1=$("$h" "$tmp/g" 2>/dev/null) n2=$("$h" "$tmp/g" 2>/dev/null)
	[ -n "$n1" ] && [ "$n1" != "$n2" ] || fail "native getrandom: '$n1' '$n2'"
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
harness-sync)
	# Two cowvm instances on one sync folder: the secondary imports what
	# the main one queued (and only from main instances).
	y=$examples/yaml_parse
	expect 0 fuzz --seed 1 --runs 3000 --no-cmp -q -M main \
		-i "$seeds/yaml_parse" -o "$tmp/sync" "$y"
	[ -f "$tmp/sync/main/is_main_node" ] || fail "no is_main_node"
	expect 0 fuzz --seed 1 --runs 3000 --no-cmp -q -S other \
		-i "$seeds/yaml_parse" -o "$tmp/sync" "$y"
	expect 1 fuzz --seed 2 --runs 300 -q -S sec -o "$tmp/sync" "$y"
	ls "$tmp/sync/sec/queue" | grep -q ',sync:main,src:' ||
		fail "nothing imported: $(ls "$tmp/sync/sec/queue")"
	! ls "$tmp/sync/sec/queue" | grep -q ',sync:other,' ||
		fail "a secondary imported from a secondary"
	for f in "$tmp/sync/sec/queue"/*,sync:main,src:*; do
		src=${f##*,src:} src=${src%%,*}
		cmp -s "$f" "$tmp/sync/main/queue/id:$src,"* ||
			fail "$f differs from main's id:$src"
	done
	grep -q "imported" "$tmp/err" || fail "no import count: $(cat "$tmp/err")"
	expect 120 fuzz -M main "$y"
	grep -q "need -o SYNC_DIR" "$tmp/err" || fail "-M without -o"
	expect 120 fuzz -M "a/b" -o "$tmp/sync" "$y"
	grep -q "is not 1..200 of" "$tmp/err" || fail "bad name: $(cat "$tmp/err")"
	;;
harness-jobs)
	# -j 2: two workers cloned from one boot, main and w1 on the sync
	# folder; they share finds, the status line sums them, a crash of one
	# stops both with --stop-on-crash.
	y=$examples/yaml_parse
	expect 0 fuzz -j 2 --seed 1 --runs 4000 --no-cmp --sync-seconds 0.2 \
		-i "$seeds/yaml_parse" -o "$tmp/j" "$y"
	grep -q "done: 2 workers .*runs=8000 " "$tmp/err" ||
		fail "status: $(cat "$tmp/err")"
	[ -f "$tmp/j/main/is_main_node" ] && [ -f "$tmp/j/w1/fuzzer_stats" ] ||
		fail "worker folders: $(ls -R "$tmp/j" | head)"
	grep -q "sync: [1-9][0-9]* inputs of other instances run" "$tmp/err" ||
		fail "the workers shared nothing: $(cat "$tmp/err")"
	expect 1 fuzz -j 2 --seed 1 --runs 100000 --stop-on-crash \
		-i "$seeds/yaml_parse" -o "$tmp/k" "$y"
	grep -q "first crash at run .* after .*SIGSEGV" "$tmp/err" ||
		fail "crash: $(cat "$tmp/err")"
	runs=$(sed -n 's/.*done: 2 workers .*runs=\([0-9]*\) .*/\1/p' "$tmp/err")
	[ "$runs" -lt 100000 ] || fail "--stop-on-crash did not stop ($runs runs)"
	expect 120 fuzz -j 2 "$y"
	grep -q "\-j needs -o" "$tmp/err" || fail "-j without -o: $(cat "$tmp/err")"
	;;
harness-libfuzzer-cli)
	# Driven as a libFuzzer binary is: corpus folders after the target
	# (the first gets new entries by content hash), -artifact_prefix=.
	y=$examples/yaml_parse
	mkdir "$tmp/corpus" "$tmp/more"
	cp "$seeds/yaml_parse"/* "$tmp/corpus/"
	printf 'a: [b, {c: d}]\n' >"$tmp/more/flow.yaml"
	expect 1 fuzz -runs=3000 -seed=1 -artifact_prefix="$tmp/art-" "$y" \
		"$tmp/corpus" "$tmp/more"
	art=$(ls "$tmp"/art-crash-* 2>/dev/null | head -1)
	[ -n "$art" ] || fail "no crash artifact: $(ls "$tmp")"
	grep -q "Test unit written to $art" "$tmp/err" ||
		fail "not announced: $(cat "$tmp/err")"
	expect 1 fuzz --reproduce "$art" "$y"
	grep -q "SIGSEGV" "$tmp/out" || fail "artifact: $(cat "$tmp/out")"
	new=$(ls "$tmp/corpus" | grep -cE '^[0-9a-f]{16}$')
	[ "$new" -ge 1 ] || fail "no new corpus entries: $(ls "$tmp/corpus")"
	[ "$(ls "$tmp/more")" = flow.yaml ] || fail "wrote into the second folder"
	for f in "$tmp/corpus"/*; do
		[ -s "$f" ] || fail "empty corpus file $f"
	done
	expect 126 fuzz -runs=10 "$y" "$tmp/nonexistent"
	grep -q "corpus folder $tmp/nonexistent: No such file" "$tmp/err" ||
		fail "missing folder: $(cat "$tmp/err")"
	;;
harness-nyx)
	# afl-fuzz's Nyx mode (-X) drives a harness in a cowvm VM through
	# cowvm's libnyx.so: it gets coverage, finds crashes, and they
	# reproduce under cowvm fuzz.
	mkdir -p "$tmp/share" "$tmp/in"
	cp "$fixtures/kinds" "$tmp/share/target"
	echo '()' >"$tmp/share/config.ron"
	printf 'xyz' >"$tmp/in/seed"
	# An ASan build's plugin needs its runtime loaded first in afl-fuzz.
	asan=$(ldd "$nyxdir/libnyx.so" | awk '/libasan/ {print $3}')
	[ -z "$asan" ] || export LD_PRELOAD=$asan \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:symbolize=0
	AFL_PATH=$nyxdir AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 \
		AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_CRASH_README=1 \
		afl-fuzz -X -i "$tmp/in" -o "$tmp/nyx" -V 4 -- "$tmp/share" \
		>"$tmp/afl.log" 2>&1 || fail "afl-fuzz -X: $(tail -5 "$tmp/afl.log")"
	grep -q "libnyx plugin is ready" "$tmp/afl.log" || fail "plugin not loaded"
	st=$tmp/nyx/default/fuzzer_stats
	awk -F' *: *' '$1=="execs_done"{e=$2} $1=="edges_found"{g=$2}
		END{exit !(e > 100 && g > 1)}' "$st" ||
		fail "no runs or edges: $(grep -E 'execs_done|edges_found' "$st")"
	c=$(ls "$tmp/nyx/default/crashes" | grep '^id:' | head -1)
	[ -n "$c" ] || fail "afl-fuzz -X found no crash"
	expect 1 fuzz --reproduce "$tmp/nyx/default/crashes/$c" "$fixtures/kinds"
	grep -q "crash:" "$tmp/out" || fail "reproduce: $(cat "$tmp/out")"
	;;
harness-afl-sync)
	# afl-fuzz and cowvm fuzz on one sync folder exchange inputs: the
	# same harness built natively for AFL++ (afl-clang-fast's libFuzzer
	# driver) imports cowvm's queue, and cowvm imports AFL++'s.
	command -v afl-clang-fast >/dev/null || fail "afl-clang-fast missing"
	AFL_QUIET=1 afl-clang-fast -O1 -fsanitize=fuzzer \
		"$(dirname "$0")/../../fuzz/harnesses/yaml_parse.c" -lyaml \
		-o "$tmp/yaml_afl" || fail "afl-clang-fast build"
	y=$examples/yaml_parse
	expect 0 fuzz --seed 1 --runs 3000 --no-cmp -q -M main \
		-i "$seeds/yaml_parse" -o "$tmp/sync" "$y"
	AFL_IMPORT_FIRST=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
		AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CRASHES=1 \
		afl-fuzz -S afl -o "$tmp/sync" -i "$seeds/yaml_parse" -V 3 \
		-- "$tmp/yaml_afl" >"$tmp/afl.log" 2>&1 ||
		fail "afl-fuzz: $(tail -5 "$tmp/afl.log")"
	ls "$tmp/sync/afl/queue" | grep -q ',sync:main,' ||
		fail "afl-fuzz imported nothing: $(ls "$tmp/sync/afl/queue")"
	expect 0 fuzz --seed 3 --runs 100 --no-cmp -q -M main2 \
		-o "$tmp/sync" "$y"
	ls "$tmp/sync/main2/queue" | grep -q ',sync:afl,src:' ||
		fail "cowvm imported nothing from afl-fuzz"
	TERM=dumb afl-whatsup -s "$tmp/sync" >"$tmp/w" 2>&1
	grep -q "Fuzzers alive *: 0" "$tmp/w" && grep -q "Dead or remote *: 3" "$tmp/w" ||
		fail "afl-whatsup: $(cat "$tmp/w")"
	;;
*)
	fail "unknown test $name"
	;;
esac
echo "PASS: $name"
