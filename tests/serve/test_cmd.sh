#!/bin/bash
# cowvm serve as a command: stdin requests and their responses, generated
# loads in every mode, one-line errors and exit statuses for bad options,
# bad guest ELFs, a guest crash during init and a crashing request.
# usage: test_cmd.sh COWVM GUEST_ELF
set -u
cowvm=$1 elf=$2
fails=0
# Most checks boot the guest: skip unless /dev/kvm is usable.
. "$(dirname "$0")/../lib/kvm.sh"
kvm_require
out=$(mktemp) errf=$(mktemp)
trap 'rm -f "$out" "$errf"' EXIT

# expect STATUS STDERR_PATTERN -- ARGS...: run cowvm serve with stdin from
# $input and check the exit status and that stderr matches (is empty for
# an empty pattern).
expect() {
	local want=$1 pat=$2
	shift 3
	printf '%s' "${input:-}" | "$cowvm" serve "$@" >"$out" 2>"$errf"
	local got=$?
	if [ "$got" != "$want" ] || { [ -n "$pat" ] && ! grep -Eq -- "$pat" "$errf"; } ||
		{ [ -z "$pat" ] && [ -s "$errf" ]; }; then
		echo "FAIL: serve $*: status $got (want $want), stderr:"
		sed 's/^/  /' "$errf"
		fails=$((fails + 1))
	fi
}

input=''
expect 120 '^cowvm serve: missing GUEST.elf' -- --state-mib 4
expect 120 "--mode 'fork' is not clone, spare or reset" -- --mode fork "$elf"
expect 120 "--concurrency '0' is not" -- --concurrency 0 "$elf"
expect 120 "--state-mib 'x' is not" -- --state-mib x "$elf"
expect 120 "--requests needs a value" -- --requests
expect 120 "unknown option '--bogus'" -- --bogus 1 "$elf"
expect 120 "--mem is too small" -- --mem 8M --state-mib 4 "$elf"
expect 120 "unexpected argument 'x'" -- "$elf" x
expect 121 'nonexistent' -- --state-mib 4 /nonexistent.elf
expect 121 '.' -- --state-mib 4 "$0"
expect 122 'crashed during init .*#UD' -- --state-mib 4 "$elf" -- fault=init
expect 122 'exited with status 2 during init' -- --state-mib 4 "$elf" -- \
	state_mib=999
for f in "$errf"; do
	[ "$(wc -l <"$f")" -le 1 ] || {
		echo "FAIL: more than one error line"
		fails=$((fails + 1))
	}
done

# stdin: one response line per request, in order; summary on stderr.
input=$'get 5\nput 5 7; get 5\nget 5\nbogus\n\n'
expect 0 'ok' -- --state-mib 4 --seed 7 --concurrency 2 "$elf"
v=$(sed -n 1p "$out" | sed 's/^req=1 5=//')
want="req=1 5=$v
req=1 5:$v->0000000000000007 5=0000000000000007
req=1 5=$v
error: command 1
req=1"
if [ "${#v}" != 16 ] || [ "$(cat "$out")" != "$want" ]; then
	echo "FAIL: stdin responses:"; cat "$out"
	fails=$((fails + 1))
fi
input=$'get 1\nget 1; crash\nget 2\n'
expect 1 'request 2: the guest crashed' -- --state-mib 4 --mode reset "$elf"
[ "$(sed -n 2p "$out" | cut -c1-25)" = "failed: the guest crashed" ] &&
	[ "$(sed -n 3p "$out" | cut -c1-8)" = "req=1 2=" ] || {
	echo "FAIL: responses around a crash:"; cat "$out"
	fails=$((fails + 1))
}

# Worker processes: the same responses, in order, as one process gives.
input=$'get 1\nput 1 3; get 1\nget 1\nagg x\nget 1; crash\nget 2\nget 3\n'
expect 1 'request 5: the guest crashed' -- --state-mib 4 "$elf"
cp "$out" "$out.one"
expect 1 'request 5: the guest crashed' -- --state-mib 4 --workers 3 \
	--mode spare "$elf"
cmp -s "$out" "$out.one" && [ "$(wc -l <"$out")" = 7 ] || {
	echo "FAIL: --workers 3 responses differ:"; diff "$out.one" "$out"
	fails=$((fails + 1))
}
rm -f "$out.one"
input=''
expect 120 "--workers '0' is not 1..256 or cores" -- --workers 0 "$elf"
expect 120 "--workers is for the built-in serve workload" -- --workers 2 \
	--exec /bin/true
expect 0 '' -- --state-mib 4 --workers cores --requests 40 --live 0 "$elf"
grep -q '^worker processes: ' "$out" && grep -Eq '^clone +40 .* 40 +0 +0$' \
	"$out" || {
	echo "FAIL: --workers cores summary:"; cat "$out"
	fails=$((fails + 1))
}

# Snapshot files: --save-snapshot, then --from (alone and on workers)
# answers as the booted template did; bad files and options are refused.
snapdir=$(mktemp -d)
trap 'rm -f "$out" "$errf"; rm -rf "$snapdir"' EXIT
input=$'get 1\nput 1 3; get 1\nget 1\nagg x\nget 9\n'
expect 0 '' -- --state-mib 4 --seed 9 --save-snapshot "$snapdir/t.cowvm" \
	--requests 20 --live 0 "$elf"
expect 0 'ok' -- --state-mib 4 --seed 9 "$elf"
cp "$out" "$out.boot"
for w in 1 2; do
	expect 0 'opened from its file' -- --from "$snapdir/t.cowvm" --workers $w
	cmp -s "$out" "$out.boot" || {
		echo "FAIL: --from --workers $w responses differ:"
		diff "$out.boot" "$out"
		fails=$((fails + 1))
	}
done
rm -f "$out.boot"
input=''
expect 121 'nonexistent' -- --from "$snapdir/nonexistent.cowvm"
expect 120 '--from FILE takes the template from FILE' -- --from \
	"$snapdir/t.cowvm" "$elf"
expect 120 'no --seed' -- --seed 2 --from "$snapdir/t.cowvm"
expect 120 '--save-snapshot' -- --from "$snapdir/t.cowvm" --save-snapshot \
	"$snapdir/u.cowvm"
head -c 5000 "$snapdir/t.cowvm" >"$snapdir/short.cowvm"
expect 121 'short.cowvm' -- --from "$snapdir/short.cowvm"
"$cowvm" run --save-snapshot "$snapdir/ft.cowvm" "$elf" -- forktest \
	seed=1 mib=1 rounds=1 pages=1 >/dev/null 2>&1
expect 121 'not a serve template' -- --from "$snapdir/ft.cowvm"

# Generated loads: the summary table on stdout, every request ok.
input=''
for mode in clone spare ahead reset; do
	expect 0 '' -- --state-mib 4 --mode $mode --concurrency 2 \
		--requests 100 --live 4 "$elf"
	if ! grep -Eq "^$mode +100 +2 .* 100 +0 +0$" "$out" ||
		! grep -q 'memory per live clone (4 alive' "$out"; then
		echo "FAIL: $mode summary:"; cat "$out"
		fails=$((fails + 1))
	fi
done
"$cowvm" --help | grep -q 'cowvm serve \[SERVE OPTIONS\]' || {
	echo "FAIL: --help lacks serve"
	fails=$((fails + 1))
}
echo "$fails failures"
[ "$fails" = 0 ]
