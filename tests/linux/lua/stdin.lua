-- A script lua_host reads from stdin (no script file): sums numbers.
local s = 0
for i = 1, 100 do s = s + i end
print("read from stdin", s, arg and #arg)
