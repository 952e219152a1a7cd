#!/bin/bash
# Cross-check test of the cowvm guest: boots guest.elf under QEMU (TCG, PVH
# boot) and, when a cowvm binary is given, under cowvm, and checks what the
# guest reports. QEMU needs no KVM; when /dev/kvm is not usable the cowvm
# runs are left out and, if the QEMU checks pass, the test exits 77 (skip).
# usage: qemu_guest.sh MODE QEMU GUEST_ELF EXPECT NM [COWVM]
#   MODE: selftest | memtest | fault | workloads | forktest
#   EXPECT: memtest-expect, or forktest-expect for MODE forktest
set -u

mode=$1 qemu=$2 elf=$3 expect_bin=$4 nm=$5 cowvm=${6:-}
failures=0

# Print a failure with the last run's raw output, and count it.
fail() {
	echo "FAIL: $*" >&2
	printf '%s\n' "${raw:-}" | sed 's/^/  | /' >&2
	failures=$((failures + 1))
}

if [[ ! -x $qemu ]]; then
	echo "FAIL: qemu-system-x86_64 not found ('$qemu'); the setup must install qemu-system-x86" >&2
	exit 1
fi
[[ -r $elf ]] || { echo "FAIL: guest ELF '$elf' missing" >&2; exit 1; }

# The modes that run cowvm need a usable /dev/kvm; without one they run
# their QEMU part only and report the cowvm part as skipped.
. "$(dirname "$0")/../lib/kvm.sh"
cowvm_skip=
case $mode in
selftest | memtest | forktest)
	if [[ -n $cowvm ]] && ! cowvm_skip=$(kvm_usable); then
		echo "note: cowvm runs skipped: $cowvm_skip"
		cowvm=
	else
		cowvm_skip=
	fi
	;;
esac

# run_qemu CMDLINE: boot the guest, set $out (serial output, CRs removed)
# and $status (the guest's exit status, or a description of what happened).
run_qemu() {
	local rc tmp
	tmp=$(mktemp)
	timeout 60 "$qemu" -accel tcg -machine pc -m 128 -smp 1 \
		-kernel "$elf" -append "$1" -nographic -no-reboot -net none \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-serial stdio -display none -monitor none </dev/null >"$tmp" 2>&1
	rc=$?
	raw=$(cat -v "$tmp" | head -c 4000)
	# SeaBIOS leaves "Booting from ROM.." without a newline before the
	# guest's first line, with a dot more when the host is busy.
	out=$(tr -d '\r' <"$tmp" | sed 's/^.*Booting from ROM\.*//')
	rm -f "$tmp"
	if ((rc == 124)); then
		status="timeout"
	elif ((rc % 2 == 1)); then
		status=$(((rc - 1) / 2)) # isa-debug-exit: (value << 1) | 1
	else
		status="qemu-rc-$rc"
	fi
	echo "--- qemu '$1': status $status"
	printf '%s\n' "$out" | grep -a -E '^(selftest|memtest|forktest|guest|fault|serial|exit):'
}

# run_cowvm CMDLINE: boot under cowvm, set $out and $status.
run_cowvm() {
	local words
	read -r -a words <<<"$1"
	out=$(timeout 60 "$cowvm" run --timeout 30 "$elf" -- "${words[@]}" </dev/null 2>&1)
	status=$?
	raw=$out
	echo "--- cowvm '$1': status $status"
	printf '%s\n' "$out" | grep -a -E '^(selftest|memtest|forktest|guest|fault|serial|exit|cowvm):'
}

# The last verdict line ("<prefix>: PASS" or "<prefix>: FAIL ...") in $out.
verdict() {
	printf '%s\n' "$out" | grep -a -E "^$1: (PASS|FAIL)( |\$)" | tail -n 1
}

case $mode in
selftest)
	run_qemu selftest
	qv=$(verdict selftest)
	[[ $qv == "selftest: PASS" ]] || fail "qemu verdict '$qv', expected 'selftest: PASS'"
	[[ $status == 0 ]] || fail "qemu exit status $status, expected 0"
	if [[ -n $cowvm ]]; then
		run_cowvm selftest
		cv=$(verdict selftest)
		[[ -n $cv && $cv == "$qv" ]] || fail "cowvm verdict '$cv' differs from qemu verdict '$qv'"
		[[ $status == 0 ]] || fail "cowvm exit status $status, expected 0"
	elif [[ -z $cowvm_skip ]]; then
		echo "note: no cowvm binary built; QEMU run only"
	fi
	;;
memtest)
	want=$("$expect_bin" 7 4) || { echo "FAIL: memtest-expect failed" >&2; exit 1; }
	echo "expected: $want"
	run_qemu "memtest seed=7 mib=4"
	got=$(printf '%s\n' "$out" | grep -a '^memtest: seed=' | tail -n 1)
	[[ $got == "$want" ]] || fail "qemu printed '$got'"
	[[ $status == 0 ]] || fail "qemu exit status $status, expected 0"
	if [[ -n $cowvm ]]; then
		run_cowvm "memtest seed=7 mib=4"
		got=$(printf '%s\n' "$out" | grep -a '^memtest: seed=' | tail -n 1)
		[[ $got == "$want" ]] || fail "cowvm printed '$got'"
		[[ $status == 0 ]] || fail "cowvm exit status $status, expected 0"
	fi
	;;
fault)
	[[ -x $nm ]] || { echo "FAIL: nm not found ('$nm')" >&2; exit 1; }
	declare -A vec=([ud]=6 [pf]=14 [gp]=13 [de]=0)
	declare -A cr2=([ud]=0x0 [pf]=0x7ff000000000 [gp]=0x0 [de]=0x0)
	for k in ud pf gp de; do
		sym=$("$nm" "$elf" | awk -v s="guest_fault_$k" '$3 == s { print $1 }')
		[[ -n $sym ]] || { fail "symbol guest_fault_$k not in $elf"; continue; }
		run_qemu "fault $k"
		line=$(printf '%s\n' "$out" | grep -a '^guest: fault vector=' | tail -n 1)
		re='^guest: fault vector=([0-9]+) error=(0x[0-9a-f]+) rip=(0x[0-9a-f]+) cr2=(0x[0-9a-f]+) rsp=(0x[0-9a-f]+) cs=(0x[0-9a-f]+)$'
		if [[ ! $line =~ $re ]]; then
			fail "fault $k: no fault line"
			continue
		fi
		[[ ${BASH_REMATCH[1]} == "${vec[$k]}" ]] || fail "fault $k: vector ${BASH_REMATCH[1]}, expected ${vec[$k]}"
		((BASH_REMATCH[3] == 0x$sym)) || fail "fault $k: rip ${BASH_REMATCH[3]}, guest_fault_$k is 0x$sym"
		((BASH_REMATCH[4] == ${cr2[$k]})) || fail "fault $k: cr2 ${BASH_REMATCH[4]}, expected ${cr2[$k]}"
		((BASH_REMATCH[6] == 0x1b)) || fail "fault $k: cs ${BASH_REMATCH[6]}, expected ring 3 (0x1b)"
		[[ $k != pf ]] || ((BASH_REMATCH[2] == 0x4)) || fail "fault pf: error ${BASH_REMATCH[2]}, expected 0x4 (user read, not present)"
		[[ $status == 3 ]] || fail "fault $k: exit status $status, expected 3"
	done
	;;
workloads)
	run_qemu "exit 42"
	[[ $status == 42 ]] || fail "exit 42: status $status"
	run_qemu "exit 0"
	[[ $status == 0 ]] || fail "exit 0: status $status"
	run_qemu "no-such-workload x"
	printf '%s\n' "$out" | grep -a -q -x "guest: unknown workload 'no-such-workload'" ||
		fail "unknown workload: message missing"
	[[ $status == 2 ]] || fail "unknown workload: status $status, expected 2"
	run_qemu "memtest mib=200"
	printf '%s\n' "$out" | grep -a -q '^memtest: range 0x800000\.\.0xd000000 is not in RAM' ||
		fail "memtest beyond RAM: refusal message missing"
	[[ $status == 2 ]] || fail "memtest beyond RAM: status $status, expected 2"
	run_qemu "serial"
	printf '%s\n' "$out" | grep -a -q -x 'serial: hello from the 16550' ||
		fail "serial: line missing"
	[[ $status == 0 ]] || fail "serial: status $status"
	;;
forktest)
	# Nothing answers the snapshot hypercall under QEMU and `cowvm run`
	# resumes with ret 0: every round gets id 0. Compare every forktest
	# line with the host reference, then check a refused argument.
	for args in "3 8 4 5" "99 2 6 512"; do
		read -r s m r k <<<"$args"
		cl="forktest seed=$s mib=$m rounds=$r pages=$k"
		want=$("$expect_bin" $s $m $r $k) || { echo "FAIL: forktest-expect failed" >&2; exit 1; }
		runners=(run_qemu)
		[[ -z $cowvm ]] || runners+=(run_cowvm)
		for run in "${runners[@]}"; do
			"$run" "$cl"
			got=$(printf '%s\n' "$out" | grep -a '^forktest: ')
			[[ $got == "$want" ]] || fail "$run '$cl' printed:"$'\n'"$got"$'\n'"expected:"$'\n'"$want"
			[[ $status == 0 ]] || fail "$run '$cl': exit status $status, expected 0"
		done
	done
	run_qemu "forktest mib=1 pages=257"
	printf '%s\n' "$out" | grep -a -q '^forktest: pages=257 exceeds the 256 pages' ||
		fail "forktest pages=257: refusal message missing"
	[[ $status == 2 ]] || fail "forktest pages=257: status $status, expected 2"
	;;
*)
	echo "FAIL: unknown mode '$mode'" >&2
	exit 1
	;;
esac

if ((failures)); then
	echo "$mode: $failures check(s) failed" >&2
	exit 1
fi
if [[ -n $cowvm_skip ]]; then
	echo "skip: $mode: QEMU checks passed, cowvm runs skipped: $cowvm_skip"
	exit 77
fi
echo "$mode: ok"
