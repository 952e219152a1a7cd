#!/usr/bin/env bash
# Build a libFuzzer-style harness (LLVMFuzzerTestOneInput) as a static Linux
# program for `cowvm fuzz`: the harness sources compiled with clang and
# edge and comparison coverage, linked with cowvm's fuzz runtime and the
# user's own libraries.
set -euo pipefail

usage() {
	cat <<'USAGE'
usage: scripts/build-harness.sh [--musl] [-I DIR]... [-D DEF]... [-O N]
                                HARNESS.c... [LIB.a|-lNAME|-LDIR]... -o OUT

Compile the harness sources (ordinary C or C++ with a C library, defining
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) and optionally
int LLVMFuzzerInitialize(int *argc, char ***argv)) with clang and
-fsanitize-coverage=trace-pc-guard,trace-cmp, then link them statically
with cowvm's fuzz runtime (guest/fuzz/libfuzzer.c: main, the coverage and
comparison hooks, the snapshot after LLVMFuzzerInitialize) and the given
libraries. memcmp, bcmp, strcmp, strncmp, strcasecmp and strncasecmp calls
of the harness and of the libraries are logged for comparison feedback
(-Wl,--wrap); getrandom, arc4random_buf and arc4random are wrapped too: after the fuzz snapshot
they get a deterministic stream that restarts with every input (no VM exit
for entropy, and inputs reproduce exactly). Libraries compiled without
coverage (a distribution's .a)
work; only instrumented code adds edges. The result runs under
`cowvm fuzz OUT`, and natively as `OUT FILE...` (each file run once).

  --musl        link with musl (musl-tools) instead of glibc
  -I DIR, -D DEF, -O N, -g   passed to the compiler
  CLANG=...     compiler to use (default clang); CXX sources use clang++
USAGE
}

here=$(cd "$(dirname "$0")/.." && pwd)
clang=${CLANG:-clang}
musl=0 out=
srcs=() libs=() cflags=(-O2 -g)
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--musl) musl=1 ;;
	-o) out=${2:?-o needs a file}; shift ;;
	-I | -D) cflags+=("$1" "${2:?$1 needs a value}"); shift ;;
	-I* | -D* | -O* | -g*) cflags+=("$1") ;;
	-l* | -L*) libs+=("$1") ;;
	*.a | *.o) libs+=("$1") ;;
	-*) echo "build-harness.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	*) srcs+=("$1") ;;
	esac
	shift
done
[ ${#srcs[@]} -gt 0 ] || { echo "build-harness.sh: no HARNESS.c given (try --help)" >&2; exit 2; }
[ -n "$out" ] || { echo "build-harness.sh: missing -o OUT" >&2; exit 2; }
command -v "$clang" >/dev/null || { echo "build-harness.sh: $clang not found (apt-get install clang)" >&2; exit 1; }

# musl: clang compiles against musl's headers, musl-gcc links.
sys=() link=("$clang" -static)
if [ $musl = 1 ]; then
	command -v musl-gcc >/dev/null || { echo "build-harness.sh: musl-gcc not found (apt-get install musl-tools)" >&2; exit 1; }
	sys=(-nostdinc -isystem /usr/include/x86_64-linux-musl
		-isystem "$("$clang" -print-resource-dir)/include")
	link=(musl-gcc -static -no-pie)
fi
rt_flags=(-std=gnu11 -O2 -fno-stack-protector -I "$here/include"
	-I "$here/guest/fuzz")
# The compiler must not expand these inline: the calls are what is logged.
nobuiltin=(-fno-builtin-memcmp -fno-builtin-bcmp -fno-builtin-strcmp
	-fno-builtin-strncmp -fno-builtin-strcasecmp -fno-builtin-strncasecmp)
wrap=memcmp,--wrap=bcmp,--wrap=strcmp,--wrap=strncmp,--wrap=strcasecmp,--wrap=strncasecmp,--wrap=getrandom,--wrap=arc4random_buf,--wrap=arc4random

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
objs=()
for s in "${srcs[@]}"; do
	o=$tmp/${#objs[@]}.o
	cc=$clang
	case $s in *.cc | *.cpp | *.cxx) cc=${clang/clang/clang++} ;; esac
	"$cc" "${sys[@]}" "${cflags[@]}" -fno-pie \
		-fsanitize-coverage=trace-pc-guard,trace-cmp "${nobuiltin[@]}" -c "$s" -o "$o"
	objs+=("$o")
done
for s in libfuzzer fuzz_cov; do
	"$clang" "${sys[@]}" "${rt_flags[@]}" -fno-pie -c \
		"$here/guest/fuzz/$s.c" -o "$tmp/rt-$s.o"
	objs+=("$tmp/rt-$s.o")
done
"${link[@]}" -o "$out" "${objs[@]}" "${libs[@]}" -Wl,--wrap="$wrap"
