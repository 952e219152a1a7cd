#!/bin/bash
# sys_probe (glibc static, glibc static-pie, musl static) under
# `cowvm exec` over a --dir tree made here: stdout and exit status equal
# to the native run's; with --strace, the same stdout and the calls named
# on stderr.
# usage: probe.sh COWVM KERNEL PROGDIR SRCDIR
set -u
. "$(dirname "$0")/lib.sh"
lx_init "$@"
T=$LX_TMP
tree=$T/tree

mkdir -p "$tree/sub/deeper" "$tree/empty-dir"
lx_text 3000 8 >"$tree/a.txt"
lx_random 65659 >"$tree/data.bin"
lx_random 10000 >"$tree/sub/b.bin"
: >"$tree/empty.txt"
lx_text 50 9 >"$tree/sub/deeper/c.txt"
lx_text 70000 10 >"$tree/sub/deeper/d.txt"
lx_text 100 11 >"$T/stdin"

probes=("$LX_PROGS/sys_probe" "$LX_PROGS/sys_probe-pie")
[ -f "$LX_PROGS/sys_probe-musl" ] && probes+=("$LX_PROGS/sys_probe-musl")
[ ${#probes[@]} -eq 3 ] || echo "note: musl-gcc missing, musl probe not run"

status=7
for prog in "${probes[@]}"; do
	name=$(basename "$prog")
	lx_same "$name" "$T/stdin" --mem 256M --dir "$tree:$tree" \
		--env A=1 --env "B=two words" --env EMPTY= \
		"$prog" "$tree" "$status" x 'y z' ''
	status=$(((status * 37 + 11) % 256))
done
for prog in "$LX_PROGS/sys_probe" "$LX_PROGS/sys_probe-musl"; do
	[ -f "$prog" ] || continue
	name="$(basename "$prog") --strace"
	lx_same "$name" "$T/stdin" --strace --mem 256M --dir "$tree:$tree" \
		"$prog" "$tree" 0
	p=$(lx_prefix "$name")
	case $prog in
	*musl) want='open' ;;
	*) want='openat' ;;
	esac
	if grep -q "$want(" "$p.cowvm.err" && grep -q '= ' "$p.cowvm.err"; then
		lx_pass "$name: stderr names the calls ($want(, = )"
	else
		lx_fail "$name" "stderr lacks '$want(' or '= '"
		head -n 5 "$p.cowvm.err" | sed 's/^/    /'
	fi
done

lx_finish
