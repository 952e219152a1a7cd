#!/usr/bin/env bash
# cowvm developer entry point: install what is missing, build, then run the
# demo (`demo`) or every test in a normal and a sanitizer build, after
# building a release one too (`test`).
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(gcc g++ pkg-config meson ninja-build python3 libelf-dev liburing-dev
	libbenchmark-dev qemu-system-x86 qemu-system-data seabios clang afl++
	busybox-static musl-tools liblua5.4-dev zlib1g-dev
	libexpat1-dev libyaml-dev)

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

# Run one build's whole suite; its output goes to stderr.
run_suite() {
	meson test -C "$1" --print-errorlogs --num-processes 2 >&2 || true
}

# Print "ok failed skipped" counted from the test logs of the given builds.
count_results() {
	python3 - "$@" <<'PY'
import json, sys
ok = fail = skip = 0
for d in sys.argv[1:]:
    for line in open(d + "/meson-logs/testlog.json"):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif r == "SKIP":
            skip += 1
        else:
            fail += 1
print(ok, fail, skip)
PY
}

cmd=${1:-}
case "$cmd" in
demo)
	install_missing
	build build
	exec build/vmm/cowvm demo build/guest/guest.elf
	;;
test)
	install_missing
	build build
	build build-asan -Dsanitize=true
	# -O3 sees warnings (werror) the default build does not: build only.
	build build-release -Dbuildtype=release
	for dir in build build-asan; do
		echo "== meson test -C $dir" >&2
		run_suite "$dir"
	done
	read -r ok fail skip < <(count_results build build-asan)
	printf '\n%s passed, %s failed, %s skipped\n' "$ok" "$fail" "$skip"
	[ "$fail" -eq 0 ] && [ "$ok" -gt 0 ]
	;;
*)
	echo "usage: scripts/dev.sh demo|test" >&2
	exit 2
	;;
esac
