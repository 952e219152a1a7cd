#!/bin/bash
# zpipe (zlib's deflate and inflate, static glibc) under `cowvm exec` on
# inputs of 0 bytes to 3 MB: the compressed stream equals the native one,
# streams cross between cowvm and the host both ways, the round trip
# inside cowvm gives the input back, and a corrupt stream fails the same.
# usage: zlib.sh COWVM KERNEL PROGDIR SRCDIR
set -u
. "$(dirname "$0")/lib.sh"
lx_init "$@"
zp=$LX_PROGS/zpipe
T=$LX_TMP

: >"$T/empty"
printf 'z' >"$T/one"
lx_text 4096 5 >"$T/text4k"
lx_random 100000 >"$T/bin100k"
lx_text 1048576 6 >"$T/text1m"
{ lx_text 1500000 7; lx_random 1500000; } >"$T/mixed3m"

# same_file NAME WANT GOT: a check that two files are byte-identical.
same_file() {
	if cmp -s "$2" "$3"; then
		lx_pass "$1"
	else
		lx_fail "$1" "$(cmp "$2" "$3" 2>&1 | head -n 1)"
	fi
}

for name in empty one text4k bin100k text1m mixed3m; do
	in=$T/$name
	# Compression: cowvm's stream is the native stream.
	lx_same "$name: zpipe c" "$in" "$zp" c
	p=$(lx_prefix "$name: zpipe c")
	# Native stream inflated in cowvm.
	lx_same "$name: zpipe d of the native stream" "$p.native.out" "$zp" d
	q=$(lx_prefix "$name: zpipe d of the native stream")
	same_file "$name: cowvm inflates the native stream to the input" \
		"$in" "$q.cowvm.out"
	# cowvm's stream inflated natively and in cowvm (the round trip).
	"$zp" d <"$p.cowvm.out" >"$T/host.d"
	same_file "$name: the host inflates cowvm's stream to the input" \
		"$in" "$T/host.d"
	lx_run cowvm "$T/rt" "$p.cowvm.out" "$zp" d
	same_file "$name: round trip in cowvm" "$in" "$T/rt.out"
done

# Snapshotted at the first read of stdin and continued in a clone.
lx_same "text1m: zpipe c --snapshot-at stdin" "$T/text1m" --snapshot-at stdin \
	"$zp" c
lx_same "bin100k: zpipe c --snapshot-at stdin" "$T/bin100k" \
	--snapshot-at stdin "$zp" c

# A corrupt and a truncated stream: zlib's error, status 1, both sides.
p=$(lx_prefix "text4k: zpipe c")
head -c 100 "$p.native.out" >"$T/trunc.z"
{ head -c 20 "$p.native.out"; lx_random 200; } >"$T/bad.z"
LX_SAME_STDERR=1 lx_same "truncated stream" "$T/trunc.z" "$zp" d
LX_SAME_STDERR=1 lx_same "corrupt stream" "$T/bad.z" "$zp" d
LX_SAME_STDERR=1 lx_same "usage" /dev/null "$zp" x

lx_finish
