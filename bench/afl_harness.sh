#!/usr/bin/env bash
# bench/afl_compare.sh harnesses: each libFuzzer-style harness of
# fuzz/harnesses, for the same wall time and from the same seeds, under
# AFL++ (fork server; persistent mode with CmpLog; both built natively
# with afl-clang-fast against the same Debian libraries), `cowvm fuzz` with
# one worker and with -j 2, and the floor: cowvm fuzz on a harness that
# returns at once. Prints execs/s, edges and seconds to the planted bug.
#   bench/afl_harness.sh [SECONDS] [BUILDDIR]                 (20, build)
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
builddir=${2:-$here/build}
cowvm=$builddir/vmm/cowvm
declare -A libs=([zlib_inflate]=-lz [expat_parse]=-lexpat [yaml_parse]=-lyaml)

missing=()
command -v afl-fuzz >/dev/null || missing+=("afl-fuzz (apt-get install afl++)")
command -v afl-clang-fast >/dev/null || missing+=("afl-clang-fast (apt-get install afl++)")
[ -x "$cowvm" ] || missing+=("$cowvm (build cowvm: ninja -C $builddir)")
for h in "${!libs[@]}"; do
	[ -x "$builddir/fuzz/$h" ] || missing+=("$builddir/fuzz/$h (install its library's -dev package, rebuild)")
done
if [ ${#missing[@]} -gt 0 ]; then
	printf 'afl_harness.sh: missing: %s\n' "${missing[@]}" >&2
	exit 1
fi
tmp=$(mktemp -d)
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT

# Fork-server main: one input from stdin per process.
cat >"$tmp/fork.c" <<'C'
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static uint8_t buf[1 << 20];
int main(void)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(0, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	LLVMFuzzerTestOneInput(buf, len);
	return 0;
}
C
# Persistent main: __AFL_LOOP over shared-memory test cases.
cat >"$tmp/persist.c" <<'C'
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__AFL_FUZZ_INIT();
int main(void)
{
	unsigned char *buf;

	__AFL_INIT();
	buf = __AFL_FUZZ_TESTCASE_BUF;
	while (__AFL_LOOP(100000))
		LLVMFuzzerTestOneInput(buf, (size_t)__AFL_FUZZ_TESTCASE_LEN);
	return 0;
}
C
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$tmp/floor.c"
"$here/scripts/build-harness.sh" "$tmp/floor.c" -o "$tmp/floor" 2>/dev/null ||
	{ echo "afl_harness.sh: cannot build the floor harness" >&2; exit 1; }

# Build harness $1 natively for AFL++ as $tmp/$1-{fork,persist,cmplog}.
build_afl() {
	local h=$1 mode
	for mode in fork persist cmplog; do
		local main=$mode env=()
		[ $mode = cmplog ] && main=persist env=(AFL_LLVM_CMPLOG=1)
		env "${env[@]}" AFL_QUIET=1 afl-clang-fast -O2 "$tmp/$main.c" \
			"$here/fuzz/harnesses/$h.c" "${libs[$h]}" \
			-o "$tmp/$h-$mode" >"$tmp/$h-$mode.log" 2>&1 || {
			cat "$tmp/$h-$mode.log" >&2
			return 1
		}
	done
}

# AFL++ on harness $1 in mode $2 (fork or persist, which adds CmpLog);
# prints "execs/s edges first-bug-seconds" (- when none).
run_afl() {
	local h=$1 mode=$2 out=$tmp/afl-$1-$2 stats start first cmp=()
	[ "$mode" = persist ] && cmp=(-c "$tmp/$h-cmplog")
	AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
		AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=1 AFL_NO_CRASH_README=1 \
		afl-fuzz -V "$secs" "${cmp[@]}" -i "$here/fuzz/harnesses/seeds/$h" \
		-o "$out" -- "$tmp/$h-$mode" >"$out.log" 2>&1
	stats=$out/default/fuzzer_stats
	[ -f "$stats" ] || { tail -3 "$out.log" >&2; echo "- - -"; return; }
	start=$(awk -F' *: *' '$1=="start_time"{print $2}' "$stats")
	first=$(find "$out/default/crashes" -name 'id:*' -printf '%T@\n' |
		sort -n | head -1)
	[ -n "$first" ] && first=$(awk -v a="$first" -v b="$start" \
		'BEGIN{printf "%.1f", a - b}') || first=-
	awk -F' *: *' -v f="$first" '$1=="execs_done"{e=$2}
		$1=="run_time"{t=$2} $1=="edges_found"{g=$2}
		END{printf "%.0f %s %s\n", (t > 0 ? e / t : 0), g, f}' "$stats"
}

# cowvm fuzz on harness $1 with extra options $2...; prints "execs/s
# edges first-bug-seconds".
run_cowvm() {
	local h=$1 log=$tmp/cowvm-$1-$RANDOM.log
	shift
	"$cowvm" fuzz --seconds "$secs" --seed 1 -q "$@" \
		-i "$here/fuzz/harnesses/seeds/$h" "$builddir/fuzz/$h" 2>"$log"
	sed -n 's/.*done: .* execs\/s=\([0-9]*\) .*edges=\([0-9]*\)\/.*/\1 \2/p' "$log" |
		tr '\n' ' '
	sed -n 's/.*first crash .*after \([0-9.]*\) s.*/\1/p' "$log" | grep . || echo -
}

read -r floor_eps _ < <("$cowvm" fuzz --seconds "$secs" -q --no-cmp "$tmp/floor" 2>&1 |
	sed -n 's/.*done: .* execs\/s=\([0-9]*\).*/\1 x/p')
printf 'cowvm fuzz floor (a harness that returns at once): %s execs/s\n' "$floor_eps"
printf '%s s per run, %s cores, %s\n' "$secs" "$(nproc)" \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
printf '%-14s %-26s %9s %6s %10s\n' harness fuzzer execs/s edges bug-s
for h in zlib_inflate expat_parse yaml_parse; do
	build_afl "$h" || { echo "afl_harness.sh: cannot build $h for AFL++" >&2; exit 1; }
	read -r fe fg ff < <(run_afl "$h" fork)
	read -r pe pg pf < <(run_afl "$h" persist)
	read -r ce cg cf < <(run_cowvm "$h" -o "$tmp/c1-$h")
	read -r je jg jf < <(run_cowvm "$h" -j 2 -o "$tmp/c2-$h")
	printf '%-14s %-26s %9s %6s %10s\n' "$h" "AFL++ fork server" "$fe" "$fg" "$ff" \
		"" "AFL++ persistent+CmpLog" "$pe" "$pg" "$pf" \
		"" "cowvm fuzz" "$ce" "$cg" "$cf" \
		"" "cowvm fuzz -j 2" "$je" "$jg" "$jf"
	awk -v c="$ce" -v p="$pe" -v j="$je" -v f="$floor_eps" 'BEGIN{
		printf "%-14s cowvm/persistent %.2fx (goal >= 1), -j 2/one %.2fx (goal >= 1.8), cowvm/floor %.2fx\n",
			"", (p > 0 ? c / p : 0), (c > 0 ? j / c : 0), (f > 0 ? c / f : 0) }'
done
