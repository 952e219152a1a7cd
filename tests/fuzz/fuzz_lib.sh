# Helpers of the `cowvm fuzz` test scripts (sourced with $cowvm set): skip
# unless /dev/kvm is usable, a scratch folder $tmp, fail and expect.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/kvm.sh"
kvm_require
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Fail with a message.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Run cowvm with the given arguments, expecting exit status $1; output in
# $tmp/out (stdout) and $tmp/err (stderr).
expect() {
	local want=$1 got
	shift
	"$cowvm" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	[ "$got" -eq "$want" ] || {
		cat "$tmp/err" >&2
		fail "cowvm $* exited $got, expected $want"
	}
}
