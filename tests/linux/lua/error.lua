-- An uncaught error for the linux tests' Lua checks: prints a line, then
-- error() makes lua_host exit 1 with the message on stderr.
print("before the error")
io.stdout:flush()
local function fail(n) error("boom " .. n) end
fail(42)
print("not reached")
