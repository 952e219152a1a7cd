#!/bin/bash
# Debian's static /bin/busybox under `cowvm exec`: applets filtering
# generated text and binary inputs of 1 byte to 3 MB on stdin, applets
# reading files given with --file and --dir, a shell, and a failing applet;
# stdout and exit status always equal to the native run's.
# usage: busybox.sh COWVM KERNEL PROGDIR SRCDIR
set -u
. "$(dirname "$0")/lib.sh"
lx_init "$@"
bb=/bin/busybox
if [ ! -x "$bb" ]; then
	echo "FAIL: $bb is missing (Debian: busybox-static)"
	exit 1
fi
T=$LX_TMP

lx_text 1 1 >"$T/t1"
lx_text 4100 2 >"$T/t4k"
lx_text 102400 3 >"$T/t100k"
lx_text 3000000 4 >"$T/t3m"
lx_random 4096 >"$T/b4k"
lx_random 102400 >"$T/b100k"
lx_random 3000000 >"$T/b3m"

# Applets over text: each line is one command (word-split, no quoting
# beyond what `read -a` gives, so no spaces inside arguments).
text_cmds=(
	'sha256sum'
	'md5sum'
	'wc'
	'wc -l'
	'sort'
	'sort -r -k 2'
	'sort -n -u'
	'tr a-z A-Z'
	'tr -d 0-9'
	'tr -s a-z'
	'sed -e s/a/A/g -e s/[0-9][0-9]*/N/'
	'sed -n 3,9p'
	'awk {n+=NF;c+=length($0)}END{print(NR,n,c)}'
	'awk -F a {print($2,NF)}'
	'gzip -c'
	'cat'
	'head -n 7'
	'head -c 100'
	'tail -n 7'
	'tail -c 50'
	'uniq'
	'uniq -c'
	'cut -c 2-6'
	'cut -d\x20 -f 1,3'
	'od -A x -t x1z'
)
bin_cmds=(
	'sha256sum'
	'md5sum'
	'wc -c'
	'cat'
	'od -A d -t x2'
	'gzip -c'
	'head -c 1000'
	'tail -c 1000'
)
big_cmds=("sha256sum" "wc" "sort" "gzip -c")

# run_cmds INPUT CMD...: one native-vs-cowvm check per command.
run_cmds() {
	local in=$1 line args
	shift
	for line in "$@"; do
		read -r -a args <<<"$line"
		# "\x20" stands for a space argument (cut -d ' ').
		args=("${args[@]//\\x20/ }")
		lx_same "$(basename "$in"): $line" "$in" "$bb" "${args[@]}"
	done
}

for in in "$T/t1" "$T/t4k" "$T/t100k"; do
	run_cmds "$in" "${text_cmds[@]}"
done
for in in "$T/b4k" "$T/b100k"; do
	run_cmds "$in" "${bin_cmds[@]}"
done
run_cmds "$T/t3m" "${big_cmds[@]}"
run_cmds "$T/b3m" "sha256sum" "gzip -c"

# Snapshotted at the first read of stdin and continued in a clone.
lx_same "t100k: sort --snapshot-at stdin" "$T/t100k" --snapshot-at stdin \
	"$bb" sort
lx_same "t4k: sh --snapshot-at stdin" "$T/t4k" --snapshot-at stdin \
	"$bb" sh -c 'n=0; while read l; do n=$((n + 1)); done; echo $n'

# gzip -d on what the native gzip made, at each size.
for in in "$T/t4k" "$T/b100k" "$T/t3m"; do
	"$bb" gzip -c <"$in" >"$in.gz"
	lx_same "gzip -d $(basename "$in").gz" "$in.gz" "$bb" gzip -d
done

# Files given with --file at their host path, and at another path.
f=$T/t100k g=$T/b4k
lx_same "--file sha256sum" /dev/null --file "$f" "$bb" sha256sum "$f"
lx_same "--file md5sum two files" /dev/null --file "$f" --file "$g" \
	"$bb" md5sum "$f" "$g"
lx_same "--file wc -l" /dev/null --file "$f" "$bb" wc -l "$f"
lx_same "--file cat" /dev/null --file "$g" "$bb" cat "$g"
lx_same "--file tail -n 3" /dev/null --file "$f" "$bb" tail -n 3 "$f"
lx_same "--file sort" /dev/null --file "$f" "$bb" sort "$f"
lx_same "--file head -c 10" /dev/null --file "$g" "$bb" head -c 10 "$g"
p=$(lx_prefix "--file HOST:GUEST")
lx_run native "$p.native" /dev/null "$bb" cat "$f"
lx_run cowvm "$p.cowvm" /dev/null --file "$f:/data/in.txt" "$bb" cat \
	/data/in.txt
lx_compare "--file HOST:GUEST" "$p"

# A directory tree given with --dir: ls -R sorts what getdents returns.
mkdir -p "$T/tree/sub/deeper"
cp "$T/t4k" "$T/tree/a.txt"
cp "$T/b4k" "$T/tree/sub/b.bin"
: >"$T/tree/sub/deeper/empty"
lx_same "--dir ls -R" /dev/null --dir "$T/tree:$T/tree" "$bb" ls -R "$T/tree"
lx_same "--dir cat" /dev/null --dir "$T/tree:$T/tree" "$bb" cat \
	"$T/tree/sub/b.bin" "$T/tree/a.txt"

# The shell: builtins and arithmetic, its exit status.
lx_same "sh -c exit 7" /dev/null "$bb" sh -c 'echo $((6 * 7)) "$0"; exit 7'
lx_same "sh script on stdin" "$T/t1" "$bb" sh -c 'read x; echo "got $x"'
lx_same "false" /dev/null "$bb" false

# A failing applet: same status and stderr, which names the file.
LX_SAME_STDERR=1 lx_same "cat /nonexistent" /dev/null "$bb" cat /nonexistent
p=$(lx_prefix "cat /nonexistent")
if grep -q /nonexistent "$p.cowvm.err"; then
	lx_pass "cat /nonexistent: stderr names the file"
else
	lx_fail "cat /nonexistent" "stderr does not name the file"
fi
lx_same "sha256sum -c mismatch" "$T/t1" --file "$T/t4k" "$bb" sha256sum -c \
	"$T/t4k"

lx_finish
