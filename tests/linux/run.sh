#!/usr/bin/env bash
# `cowvm run` given a static Linux executable runs it as `cowvm exec`
# would (the words after -- are its arguments), and still boots a cowvm
# guest kernel as before. Arguments: COWVM KERNEL PROGDIR SRCDIR.
. "$(dirname "$0")/lib.sh"
lx_init "$@"

# run_same NAME STDIN PROGRAM [ARGS...]: `cowvm run PROGRAM -- ARGS`
# against the native run.
run_same() {
	local name=$1 in=$2 prog=$3 p rc
	shift 3
	p=$(lx_prefix "$name")
	lx_run native "$p.native" "$in" "$prog" "$@"
	COWVM_LINUX_KERNEL=$LX_KERNEL "$LX_COWVM" run --timeout 60 "$prog" \
		-- "$@" <"$in" >"$p.cowvm.out" 2>"$p.cowvm.err"
	rc=$?
	echo "$rc" >"$p.cowvm.rc"
	lx_compare "$name" "$p"
}

printf 'one two\nthree\n' >in.txt
run_same "run hello with arguments" /dev/null "$LX_PROGS/hello" a 'b c' --x
run_same "run busybox wc" in.txt /bin/busybox wc
run_same "run busybox with a -- argument" in.txt /bin/busybox -- wc -l
run_same "run busybox false" /dev/null /bin/busybox false
# A cowvm guest kernel is still booted as one: its exit status is 3.
guest=$(dirname "$LX_KERNEL")/guest.elf
"$LX_COWVM" run "$guest" -- exit 3 >/dev/null 2>&1
rc=$?
[ "$rc" = 3 ] && lx_pass "run a cowvm guest" ||
	lx_fail "run a cowvm guest" "status $rc, expected 3"
lx_finish
