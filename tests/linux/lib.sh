# The shell library of the linux tests: run a program under `cowvm exec`
# and natively with the same options, arguments and stdin, and compare.
# Source it from a test script (bash) and call lx_init "$@" first; every
# script takes the arguments COWVM KERNEL PROGDIR SRCDIR.

# Set up: the paths, the KVM skip, a temporary folder removed at exit.
lx_init() {
	if [ $# -lt 4 ]; then
		echo "usage: $0 COWVM KERNEL PROGDIR SRCDIR" >&2
		exit 2
	fi
	LX_COWVM=$(readlink -f "$1") LX_PROGS=$(readlink -f "$3")
	LX_SRC=$(readlink -f "$4") LX_KERNEL=$2
	[ -n "$LX_KERNEL" ] && LX_KERNEL=$(readlink -f "$LX_KERNEL")
	. "$LX_SRC/../lib/kvm.sh"
	kvm_require
	lx_fails=0 lx_checks=0
	LX_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cowvm-linux.XXXXXX")
	trap 'rm -rf "$LX_TMP"' EXIT
	# Programs run in the temporary folder, never in the source tree.
	cd "$LX_TMP" || exit 1
	if [ -n "$LX_KERNEL" ] && [ ! -f "$LX_KERNEL" ]; then
		echo "FAIL: the personality kernel $LX_KERNEL was not built"
		exit 1
	fi
}

# lx_exec [OPTIONS] PROGRAM [ARGS...]: cowvm exec with the kernel and a
# default --timeout of 60 s unless the options set one.
lx_exec() {
	local opts=(exec)
	[ -n "$LX_KERNEL" ] && opts+=(--kernel "$LX_KERNEL")
	lx_has_timeout "$@" || opts+=(--timeout 60)
	"$LX_COWVM" "${opts[@]}" "$@"
}

# Succeed when the cowvm exec options before the program set --timeout.
lx_has_timeout() {
	while [ $# -gt 0 ]; do
		case $1 in
		--timeout) return 0 ;;
		--strace) shift ;;
		--*) shift 2 ;;
		*) return 1 ;;
		esac
	done
	return 1
}

# lx_native [OPTIONS] PROGRAM [ARGS...]: run PROGRAM on the host as
# cowvm exec would run it: environment only from --env, the cowvm-only
# options (--mem, --timeout, --file, --dir, --strace, --snapshot-at,
# --kernel) dropped.
lx_native() {
	local envs=()
	while [ $# -gt 0 ]; do
		case $1 in
		--env)
			envs+=("$2")
			shift 2
			;;
		--strace)
			shift
			;;
		--mem | --timeout | --file | --dir | --snapshot-at | --kernel)
			shift 2
			;;
		*)
			break
			;;
		esac
	done
	env -i "${envs[@]}" "$@"
}

# lx_run WHERE PREFIX STDIN [OPTIONS] PROGRAM [ARGS...]: run under cowvm
# (WHERE = cowvm) or natively (native) with stdin from the file STDIN;
# stdout, stderr and the status go to PREFIX.out, .err and .rc.
lx_run() {
	local where=$1 prefix=$2 in=$3 rc
	shift 3
	if [ "$where" = cowvm ]; then
		lx_exec "$@" <"$in" >"$prefix.out" 2>"$prefix.err"
	else
		lx_native "$@" <"$in" >"$prefix.out" 2>"$prefix.err"
	fi
	rc=$?
	echo "$rc" >"$prefix.rc"
	return 0
}

# The file name for a check's outputs: NAME with unsafe characters mapped.
lx_prefix() {
	printf '%s/%s' "$LX_TMP" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' _)"
}

# Record a failed check: NAME, then one line on what differed.
lx_fail() {
	lx_checks=$((lx_checks + 1))
	lx_fails=$((lx_fails + 1))
	echo "FAIL: $1: $2"
}

# Record a passed check.
lx_pass() {
	lx_checks=$((lx_checks + 1))
	echo "ok: $1"
}

# Show how two outputs differ (a few lines of diff, or cmp for binary),
# and cowvm's stderr, indented.
lx_show_diff() {
	local want=$1 got=$2 errf=$3
	if grep -Iq . "$want" 2>/dev/null || [ ! -s "$want" ]; then
		diff "$want" "$got" 2>&1 | head -n 12 | sed 's/^/    /'
	else
		cmp "$want" "$got" 2>&1 | head -n 2 | sed 's/^/    /'
	fi
	echo "    cowvm stderr:"
	head -c 2000 "$errf" | head -n 10 | sed 's/^/      /'
}

# lx_same NAME STDIN [OPTIONS] PROGRAM [ARGS...]: run natively and under
# cowvm; the check passes when the status and the stdout bytes are equal
# (and stderr too when LX_SAME_STDERR=1). The outputs stay in
# $(lx_prefix NAME).{native,cowvm}.{out,err,rc}.
lx_same() {
	local name=$1 in=$2 p
	shift 2
	p=$(lx_prefix "$name")
	lx_run native "$p.native" "$in" "$@"
	lx_run cowvm "$p.cowvm" "$in" "$@"
	lx_compare "$name" "$p"
}

# lx_compare NAME PREFIX: the comparison of lx_same on finished runs.
lx_compare() {
	local name=$1 p=$2 nrc crc
	nrc=$(cat "$p.native.rc") crc=$(cat "$p.cowvm.rc")
	if [ "$nrc" != "$crc" ]; then
		lx_fail "$name" "status $crc under cowvm, $nrc natively"
		lx_show_diff "$p.native.out" "$p.cowvm.out" "$p.cowvm.err"
	elif ! cmp -s "$p.native.out" "$p.cowvm.out"; then
		lx_fail "$name" "stdout differs: $(wc -c <"$p.cowvm.out") bytes\
 under cowvm, $(wc -c <"$p.native.out") natively"
		lx_show_diff "$p.native.out" "$p.cowvm.out" "$p.cowvm.err"
	elif [ "${LX_SAME_STDERR:-0}" = 1 ] &&
		! cmp -s "$p.native.err" "$p.cowvm.err"; then
		lx_fail "$name" "stderr differs"
		lx_show_diff "$p.native.err" "$p.cowvm.err" "$p.cowvm.err"
	else
		lx_pass "$name"
	fi
}

# lx_expect NAME STATUS ERR_REGEX STDIN [OPTIONS] PROGRAM [ARGS...]: run
# under cowvm only; passes when the status is STATUS and stderr matches
# the extended regex ERR_REGEX (is empty when ERR_REGEX is empty).
lx_expect() {
	local name=$1 want=$2 pat=$3 in=$4 p rc
	shift 4
	p=$(lx_prefix "$name")
	lx_run cowvm "$p.cowvm" "$in" "$@"
	rc=$(cat "$p.cowvm.rc")
	if [ "$rc" != "$want" ]; then
		lx_fail "$name" "status $rc, expected $want"
	elif [ -n "$pat" ] && ! grep -Eq -- "$pat" "$p.cowvm.err"; then
		lx_fail "$name" "stderr lacks /$pat/"
	elif [ -z "$pat" ] && [ -s "$p.cowvm.err" ]; then
		lx_fail "$name" "stderr is not empty"
	else
		lx_pass "$name"
		return 0
	fi
	echo "    cowvm stderr:"
	head -c 2000 "$p.cowvm.err" | head -n 10 | sed 's/^/      /'
	return 1
}

# lx_text BYTES SEED: BYTES bytes of deterministic text on stdout: lines of
# words and numbers from a linear congruential generator, with repeated
# adjacent lines now and then (for uniq).
lx_text() {
	awk -v want="$1" -v seed="$2" 'BEGIN {
		split("alpha bravo charlie delta echo foxtrot golf hotel " \
		      "india juliet kilo lima mike november oscar papa", w)
		x = seed + 1; out = 0; prev = ""
		while (out < want) {
			x = (x * 1103515245 + 12345) % 2147483648
			if (prev != "" && x % 7 == 0) {
				line = prev
			} else {
				n = 1 + x % 9; line = ""
				for (i = 0; i < n; i++) {
					x = (x * 1103515245 + 12345) % 2147483648
					if (x % 3 == 0)
						t = int(x / 7) % 100000
					else
						t = w[1 + int(x / 5) % 16]
					line = line (i ? " " : "") t
				}
			}
			print line; out += length(line) + 1; prev = line
		}
	}' | head -c "$1"
}

# lx_random BYTES: BYTES random bytes on stdout.
lx_random() {
	head -c "$1" /dev/urandom
}

# Print the summary line and exit 1 if any check failed.
lx_finish() {
	echo "$(basename "$0"): $lx_checks checks, $lx_fails failed"
	[ "$lx_fails" -eq 0 ]
	exit
}
