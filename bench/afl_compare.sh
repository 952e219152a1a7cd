#!/usr/bin/env bash
# Compare `cowvm fuzz` with AFL++ (fork server and persistent mode) for the
# same wall time each: execs/s and time to the first crash. Installs
# nothing: it says what is missing.
#   bench/afl_compare.sh [TARGET] [SECONDS] [BUILDDIR]   (tlv, 20, build)
# runs one freestanding example target (fuzz/targets);
#   bench/afl_compare.sh harnesses [SECONDS] [BUILDDIR]
# runs every libFuzzer-style harness of fuzz/harnesses (bench/afl_harness.sh).
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-tlv}
secs=${2:-20}
builddir=${3:-$here/build}
[ "$target" != harnesses ] ||
	exec bash "$here/bench/afl_harness.sh" "$secs" "$builddir"
src=$here/fuzz/targets/$target.c
elf=$builddir/fuzz/$target.elf
cowvm=$builddir/vmm/cowvm

missing=()
command -v afl-fuzz >/dev/null || missing+=("afl-fuzz (apt-get install afl++)")
afl_cc=$(command -v afl-clang-fast || command -v afl-cc || true)
[ -n "$afl_cc" ] || missing+=("afl-clang-fast or afl-cc (apt-get install afl++)")
[ -f "$src" ] || missing+=("$src (no such example target)")
[ -x "$cowvm" ] || missing+=("$cowvm (build cowvm: ninja -C $builddir)")
[ -f "$elf" ] || missing+=("$elf (build cowvm with clang installed)")
if [ ${#missing[@]} -gt 0 ]; then
	printf 'afl_compare.sh: missing: %s\n' "${missing[@]}" >&2
	exit 1
fi

tmp=$(mktemp -d)
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/inc" "$tmp/in"
head -c 16 /dev/zero >"$tmp/in/seed" # cowvm fuzz's built-in seed

# The target's API, natively: libc instead of the guest library.
cat >"$tmp/inc/fuzz_target.h" <<'H'
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int cowvm_target(const uint8_t *data, size_t len);
void cowvm_target_init(void) __attribute__((weak));
#define cowvm_target_abort() abort()
#define guest_printf printf
H
# Fork-server main: one input from stdin per process.
cat >"$tmp/fork.c" <<'C'
#include <unistd.h>
#include "fuzz_target.h"
static uint8_t buf[1 << 20];
int main(void)
{
	size_t len = 0;
	ssize_t n;

	if (cowvm_target_init)
		cowvm_target_init();
	while ((n = read(0, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	if (cowvm_target(buf, len))
		abort();
	return 0;
}
C
# Persistent main: __AFL_LOOP over shared-memory test cases.
cat >"$tmp/persist.c" <<'C'
#include <unistd.h>
#include "fuzz_target.h"
__AFL_FUZZ_INIT();
int main(void)
{
	unsigned char *buf;

	if (cowvm_target_init)
		cowvm_target_init();
	__AFL_INIT();
	buf = __AFL_FUZZ_TESTCASE_BUF;
	while (__AFL_LOOP(100000))
		if (cowvm_target(buf, (size_t)__AFL_FUZZ_TESTCASE_LEN))
			abort();
	return 0;
}
C
for mode in fork persist; do
	AFL_QUIET=1 "$afl_cc" -O2 -I "$tmp/inc" "$tmp/$mode.c" "$src" \
		-o "$tmp/$mode" >"$tmp/$mode.log" 2>&1 || {
		cat "$tmp/$mode.log" >&2
		echo "afl_compare.sh: cannot build the $mode binary" >&2
		exit 1
	}
done

# Run AFL++ on binary $1 for $secs s into $tmp/out-$1; print
# "execs/s first-crash-seconds" (- when none).
run_afl() {
	local bin=$1 out=$tmp/out-$1 stats start first eps
	AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
		AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=1 AFL_NO_CRASH_README=1 \
		AFL_FORKSRV_INIT_TMOUT=10000 \
		afl-fuzz -V "$secs" -i "$tmp/in" -o "$out" -- "$tmp/$bin" \
		>"$tmp/afl-$bin.log" 2>&1
	stats=$out/default/fuzzer_stats
	[ -f "$stats" ] || {
		tail -5 "$tmp/afl-$bin.log" >&2
		echo "- -"
		return
	}
	start=$(awk -F' *: *' '$1=="start_time"{print $2}' "$stats")
	eps=$(awk -F' *: *' '$1=="execs_done"{e=$2} $1=="run_time"{t=$2}
		END{printf "%.0f", (t > 0 ? e / t : 0)}' "$stats")
	first=$(find "$out/default/crashes" -name 'id:*' -printf '%T@\n' |
		sort -n | head -1)
	if [ -n "$first" ]; then
		first=$(awk -v a="$first" -v b="$start" 'BEGIN{printf "%.1f", a - b}')
	else
		first=-
	fi
	echo "$eps $first"
}

read -r fork_eps fork_first < <(run_afl fork)
read -r pers_eps pers_first < <(run_afl persist)
"$cowvm" fuzz --seconds "$secs" --seed 1 -q --profile -o "$tmp/cowvm" \
	"$elf" 2>"$tmp/cowvm.log"
cow_eps=$(sed -n 's/.*done: .* execs\/s=\([0-9]*\).*/\1/p' "$tmp/cowvm.log")
cow_first=$(sed -n 's/.*first crash at run [0-9]* after \([0-9.]*\) s.*/\1/p' \
	"$tmp/cowvm.log")
cow_first=${cow_first:--}

printf 'target %s, %s s each, %s cores\n' "$target" "$secs" "$(nproc)"
printf '%-22s %10s %18s\n' fuzzer execs/s first-crash-s
printf '%-22s %10s %18s\n' "AFL++ fork server" "$fork_eps" "$fork_first"
printf '%-22s %10s %18s\n' "AFL++ persistent" "$pers_eps" "$pers_first"
printf '%-22s %10s %18s\n' "cowvm fuzz" "$cow_eps" "$cow_first"
awk -v c="$cow_eps" -v f="$fork_eps" -v p="$pers_eps" 'BEGIN{
	if (f > 0) printf "cowvm / fork server: %.2fx (goal >= 10x)\n", c / f;
	if (p > 0) printf "cowvm / persistent:  %.2fx (goal >= 0.5x)\n", c / p }'
grep "per exec" "$tmp/cowvm.log"
