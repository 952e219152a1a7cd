#!/bin/bash
# lua_host (Lua 5.4 over Debian's liblua5.4.a, static glibc) under
# `cowvm exec`: the scripts of lua/ given with --file, a module required
# from a --dir tree, a script on stdin and an uncaught error; stdout,
# exit status (and stderr for the error) equal to the native run's.
# usage: lua.sh COWVM KERNEL PROGDIR SRCDIR
set -u
. "$(dirname "$0")/lib.sh"
lx_init "$@"
lua=$LX_PROGS/lua_host
dir=$LX_SRC/lua

for name in strings tables math format pcall coroutine; do
	s=$dir/$name.lua
	lx_same "$name.lua" /dev/null --mem 256M --file "$s" "$lua" "$s"
done

# os.time() within a minute of the host's date, and a clean environment
# with one variable from --env.
s=$dir/time.lua
lx_same "time.lua" /dev/null --file "$s" --env LUA_TEST=set "$lua" "$s" \
	"$(date +%s)"
p=$(lx_prefix "time.lua")
if grep -q '^time within a minute$' "$p.cowvm.out"; then
	lx_pass "time.lua: os.time() agrees with the host"
else
	lx_fail "time.lua" "os.time(): $(head -n 1 "$p.cowvm.out")"
fi

# require through package.path from a --dir tree.
s=$dir/require.lua
lx_same "require.lua" /dev/null --file "$s" \
	--dir "$dir/modules:$dir/modules" "$lua" "$s" "$dir/modules"
p=$(lx_prefix "require.lua")
if grep -q '^hello, cowvm' "$p.cowvm.out"; then
	lx_pass "require.lua: the module loaded"
else
	lx_fail "require.lua" "the module did not load"
fi

# The script on stdin (lua_host without a script argument).
lx_same "stdin.lua" "$dir/stdin.lua" "$lua"

# An uncaught error: status 1, the same partial stdout and message.
s=$dir/error.lua
LX_SAME_STDERR=1 lx_same "error.lua" /dev/null --file "$s" "$lua" "$s"
p=$(lx_prefix "error.lua")
if [ "$(cat "$p.cowvm.rc")" = 1 ] && grep -q 'boom 42' "$p.cowvm.err"; then
	lx_pass "error.lua: exit 1 with the message"
else
	lx_fail "error.lua" "status $(cat "$p.cowvm.rc"), no 'boom 42' message"
fi

# A script that is not there: lua_host's own error, natively equal.
LX_SAME_STDERR=1 lx_same "missing script" /dev/null "$lua" /nonexistent.lua

lx_finish
