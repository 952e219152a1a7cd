#!/usr/bin/env bash
# Build a cowvm fuzz target ELF: the guest kernel and fuzz harness from a
# cowvm build plus TARGET.c compiled with clang, edge and comparison coverage.
set -euo pipefail

usage() {
	cat <<'USAGE'
usage: scripts/build-target.sh [-B BUILDDIR] [-I DIR]... TARGET.c... -o OUT.elf
       scripts/build-target.sh --print-cflags

Compile the target sources (freestanding C: no libc; see
guest/fuzz/fuzz_target.h for what a target may use) with clang and
-fsanitize-coverage=trace-pc-guard,trace-cmp, then link them with the guest kernel
library (BUILDDIR/guest/kernel/libguest-kernel.a) and the fuzz harness
(BUILDDIR/guest/fuzz/libfuzz-harness.a) of a cowvm build, using
guest/fuzz/fuzz.ld (default BUILDDIR: build next to this script's folder;
build it first: scripts/dev.sh or ninja -C build). The result runs under
`cowvm fuzz`.

  -B BUILDDIR          the cowvm build holding the two libraries
  -I DIR               extra include folder for the target
  --kernel-lib LIB     the guest kernel library (overrides -B)
  --harness-lib LIB    the fuzz harness library (overrides -B)
  CLANG=...            compiler to use (default clang)
USAGE
}

here=$(cd "$(dirname "$0")/.." && pwd)
# Flags of the target objects: the guest's freestanding flags, with clang's
# spelling, plus coverage guards on every edge.
cflags=(-std=gnu11 -O2 -Wall -Wextra -ffreestanding -fno-builtin -nostdlib
	-fno-pic -fno-pie -fno-stack-protector -mno-red-zone -mcmodel=small
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none
	-fno-omit-frame-pointer -fsanitize-coverage=trace-pc-guard,trace-cmp
	-I "$here/guest/fuzz" -I "$here/guest/kernel" -I "$here/include")
# The guest's link flags (guest/meson.build) with the fuzz linker script.
ldflags=(-nostdlib -static -Wl,--build-id=none
	-Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack
	-Wl,-T,"$here/guest/fuzz/fuzz.ld")

clang=${CLANG:-clang}
builddir=$here/build
kernel_lib= harness_lib= out=
srcs=() incs=()
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--print-cflags) echo "${cflags[*]}"; exit 0 ;;
	-B) builddir=${2:?-B needs a folder}; shift ;;
	-I) incs+=(-I "${2:?-I needs a folder}"); shift ;;
	-o) out=${2:?-o needs a file}; shift ;;
	--kernel-lib) kernel_lib=${2:?}; shift ;;
	--harness-lib) harness_lib=${2:?}; shift ;;
	-*) echo "build-target.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	*) srcs+=("$1") ;;
	esac
	shift
done
[ ${#srcs[@]} -gt 0 ] || { echo "build-target.sh: no TARGET.c given (try --help)" >&2; exit 2; }
[ -n "$out" ] || { echo "build-target.sh: missing -o OUT.elf" >&2; exit 2; }
kernel_lib=${kernel_lib:-$builddir/guest/kernel/libguest-kernel.a}
harness_lib=${harness_lib:-$builddir/guest/fuzz/libfuzz-harness.a}
for f in "$kernel_lib" "$harness_lib"; do
	[ -f "$f" ] || { echo "build-target.sh: $f is missing: build cowvm first (ninja -C $builddir)" >&2; exit 1; }
done
command -v "$clang" >/dev/null || { echo "build-target.sh: $clang not found (apt-get install clang)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
objs=()
for s in "${srcs[@]}"; do
	o=$tmp/${#objs[@]}.o
	"$clang" "${cflags[@]}" "${incs[@]}" -c "$s" -o "$o"
	objs+=("$o")
done
"$clang" "${ldflags[@]}" -o "$out" "${objs[@]}" \
	-Wl,--whole-archive "$harness_lib" "$kernel_lib" -Wl,--no-whole-archive
