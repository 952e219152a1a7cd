-- Error handling of the linux tests' Lua checks: pcall, xpcall with a
-- traceback-free handler, error objects, error levels, assert.
print(pcall(error, "plain"))
local okt, et = pcall(error, {code = 7})
print(okt, type(et), et.code)
local ok, e = pcall(error, setmetatable({}, {__tostring = function()
	return "custom error"
end}))
print(ok, tostring(e))
print(pcall(function() local t = nil; return t.x end))
print(select("#", pcall(function() return 1, 2, 3 end)))
print(xpcall(function() error("deep", 0) end, function(m)
	return "handled: " .. m
end))
local function level2() error("at level 2", 2) end
print(pcall(function() level2() end))
print(pcall(assert, false, "assert message"))
print(pcall(assert, 1 == 1, "unused"))
print(pcall(string.rep))
print(pcall(function() return 1 + {} end))
local depth = 0
local function recurse() depth = depth + 1; return recurse() + 1 end
local ok2, msg = pcall(recurse)
print(ok2, msg:match("stack overflow") ~= nil, depth > 1000)
