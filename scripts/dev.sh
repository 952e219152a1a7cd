#!/usr/bin/env bash
# cowvm developer entry point: install what is missing, build, then run the
# demo (`demo`) or every test in a normal and a sanitizer build (`test`).
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(gcc g++ pkg-config meson ninja-build python3 libelf-dev liburing-dev
	libbenchmark-dev qemu-system-x86 qemu-system-data seabios)

# Install the Debian packages that are not installed yet.
install_missing() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "dev.sh: installing ${missing[*]}" >&2
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2
}

# Configure (once) and build one build directory: build DIR [meson options].
build() {
	local dir=$1
	shift
	[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >&2
	ninja -C "$dir" >&2
}

# Run one build's whole suite; print its counts for the summary.
run_suite() {
	local dir=$1
	meson test -C "$dir" --print-errorlogs --num-processes 2 || true
	python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = fail = skip = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r == "SKIP":
        skip += 1
    else:
        fail += 1
print(f"{ok} {fail} {skip}")
PY
}

cmd=${1:-}
case "$cmd" in
demo)
	install_missing
	build build
	exec build/cow/cow-demo
	;;
test)
	install_missing
	build build
	build build-asan -Dsanitize=true
	total_ok=0 total_fail=0 total_skip=0
	for dir in build build-asan; do
		echo "== meson test -C $dir" >&2
		read -r ok fail skip < <(run_suite "$dir" | tee /dev/stderr | tail -n 1)
		total_ok=$((total_ok + ok))
		total_fail=$((total_fail + fail))
		total_skip=$((total_skip + skip))
	done
	echo "$total_ok passed, $total_fail failed, $total_skip skipped"
	[ "$total_fail" -eq 0 ] && [ "$total_ok" -gt 0 ]
	;;
*)
	echo "usage: scripts/dev.sh demo|test" >&2
	exit 2
	;;
esac
