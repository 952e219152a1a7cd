#!/bin/bash
# What `cowvm exec` refuses and how programs end: executables it cannot
# run (made here: dynamically linked, 32-bit, truncated, another machine,
# not ELF, overlapping the kernel, outside RAM) give 126 and one stderr
# line naming the file and the cause, a missing one 127; deaths by signal
# give 128+N like the host's, a spinning program 124; unimplemented calls
# give ENOSYS as on the host and are named by --strace; fork is refused;
# malloc in a 64 MiB VM ends in NULL.
# usage: bad.sh COWVM KERNEL PROGDIR SRCDIR (CC: the C compiler)
set -u
. "$(dirname "$0")/lib.sh"
lx_init "$@"
T=$LX_TMP
cc=${CC:-gcc}
hello=$LX_SRC/progs/hello.c
P=$LX_PROGS

# refused NAME CAUSE_REGEX FILE [OPTIONS]: cowvm exec FILE exits 126 with
# exactly one line "cowvm: ..." on stderr naming FILE and matching CAUSE.
refused() {
	local name=$1 cause=$2 file=$3 p
	shift 3
	lx_expect "$name" 126 "$cause" /dev/null "$@" "$file" || return
	p=$(lx_prefix "$name")
	if [ "$(wc -l <"$p.cowvm.err")" != 1 ] ||
		! grep -q '^cowvm: ' "$p.cowvm.err" ||
		! grep -qF -- "$file" "$p.cowvm.err"; then
		lx_fail "$name" "stderr is not one 'cowvm: ' line naming $file:"
		sed 's/^/    /' "$p.cowvm.err"
	else
		lx_pass "$name: one line naming the file"
	fi
}

# The bad executables.
"$cc" -o "$T/dynamic" "$hello" || lx_fail "build" "dynamic hello"
cat >"$T/start32.S" <<'EOF'
	.globl _start
_start:	movl $1, %eax
	xorl %ebx, %ebx
	int $0x80
EOF
m32=
if "$cc" -m32 -static -o "$T/hello32" "$hello" 2>/dev/null ||
	"$cc" -m32 -nostdlib -static -o "$T/hello32" "$T/start32.S" 2>/dev/null
then
	m32=$T/hello32
else
	echo "note: $cc -m32 cannot link here, the 32-bit case is skipped"
fi
size=$(wc -c <"$P/hello")
head -c $((size / 2)) "$P/hello" >"$T/truncated"
head -c 40 "$P/hello" >"$T/truncated-header"
cp "$P/hello" "$T/aarch64"
printf '\267\000' | dd of="$T/aarch64" bs=1 seek=18 conv=notrunc 2>/dev/null
printf '#!/bin/sh\necho not an ELF\n' >"$T/script.sh"
chmod +x "$T/script.sh" "$T/truncated" "$T/truncated-header" "$T/aarch64"
"$cc" -static -Wl,-Ttext-segment=0x100000 -o "$T/low" "$hello" ||
	lx_fail "build" "hello at 0x100000"
"$cc" -static -Wl,-Ttext-segment=0x40000000 -o "$T/high1g" "$hello" ||
	lx_fail "build" "hello at 1 GiB"
cat >"$T/start64.S" <<'EOF'
	.globl _start
_start:	movl $60, %eax
	xorl %edi, %edi
	syscall
EOF
"$cc" -nostdlib -static -Wl,-Ttext-segment=0x200000000 -o "$T/high8g" \
	"$T/start64.S" || lx_fail "build" "a program at 8 GiB"

# The files themselves run on the host (the cause is cowvm's limits).
for f in "$T/dynamic" "$T/low" "$T/high1g" "$T/high8g"; do
	"$f" >/dev/null || lx_fail "native $f" "does not run on the host"
done

refused "dynamically linked" 'dynamically linked' "$T/dynamic"
if [ -n "$m32" ]; then
	refused "32-bit" '32-bit' "$m32"
fi
refused "truncated" 'truncated' "$T/truncated"
refused "truncated header" 'truncated' "$T/truncated-header"
refused "e_machine aarch64" 'x86-64' "$T/aarch64"
refused "not ELF" 'ELF' "$T/script.sh"
refused "text at 1 MiB" 'overlaps' "$T/low"
refused "text at 1 GiB, 64 MiB of RAM" 'outside' "$T/high1g" --mem 64M
refused "text at 8 GiB, 64 MiB of RAM" 'outside' "$T/high8g" --mem 64M
lx_expect "missing program" 127 "/nonexistent/prog" /dev/null \
	/nonexistent/prog
lx_expect "usage: no program" 125 '^cowvm' /dev/null
lx_expect "usage: bad --mem" 125 'mem' /dev/null --mem lots "$P/hello"
lx_expect "a good program" 0 '' /dev/null "$P/hello"

# Ends: the program's status, signals as 128+N like the host's shell.
lx_same "exit 42" /dev/null "$P/ending" exit 42
lx_same "exit 255" /dev/null "$P/ending" exit 255
lx_same "SIGSEGV without a handler" /dev/null "$P/ending" segv
lx_same "abort" /dev/null "$P/ending" abort
lx_same "SIGKILL to itself" /dev/null "$P/ending" kill
lx_expect "spin past --timeout 2" 124 '' /dev/null --timeout 2 \
	"$P/ending" spin || true

# Unimplemented system calls: ENOSYS as natively, named by --strace.
for prog in "$P/enosys" "$P/enosys-musl"; do
	[ -f "$prog" ] || continue
	name=$(basename "$prog")
	lx_same "$name" /dev/null "$prog"
	lx_same "$name --strace" /dev/null --strace "$prog"
	p=$(lx_prefix "$name --strace")
	if grep -Eq '(tuxcall|184).*38' "$p.cowvm.err" &&
		grep -Eq '500.*38' "$p.cowvm.err"; then
		lx_pass "$name --strace: names tuxcall (184) and 500"
	else
		lx_fail "$name --strace" "stderr does not name calls 184 and 500"
		head -n 5 "$p.cowvm.err" | sed 's/^/    /'
	fi
done

# fork is refused: fork() returns -1 and cowvm says so on stderr.
for prog in "$P/forker" "$P/forker-musl"; do
	[ -f "$prog" ] || continue
	name=$(basename "$prog")
	lx_expect "$name" 0 'fork|clone' /dev/null "$prog" || continue
	p=$(lx_prefix "$name")
	if grep -q '^fork: -1 errno [1-9]' "$p.cowvm.out" &&
		grep -q '^still running$' "$p.cowvm.out"; then
		lx_pass "$name: fork() returned -1 and the program went on"
	else
		lx_fail "$name" "stdout: $(head -c 200 "$p.cowvm.out")"
	fi
done

# malloc until NULL in 64 MiB: the program sees NULL and exits 3.
lx_expect "eatmem --mem 64M" 3 'NULL after' /dev/null --mem 64M \
	--timeout 60 "$P/eatmem" || true

lx_finish
