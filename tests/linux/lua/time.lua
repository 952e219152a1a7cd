-- Time and environment of the linux tests' Lua checks: os.time() within
-- a minute of the host's date (arg[1], seconds), os.date on fixed times,
-- os.clock, os.getenv of a clean environment plus --env.
local host = tonumber(arg[1])
local now = os.time()
local off = math.abs(now - host)
print(off < 60 and "time within a minute" or ("time off by " .. off .. " s"))
print(os.date("!%Y-%m-%d %H:%M:%S", 86400 * 365), os.date("!%j %a %b", 0))
print(os.time({year = 2020, month = 2, day = 29, hour = 12}) ~= nil)
print(os.clock() >= 0, os.difftime(10, 4))
print(os.getenv("HOME"), os.getenv("PATH"), os.getenv("LUA_TEST"))
