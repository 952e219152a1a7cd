-- require of the linux tests' Lua checks: a module from the directory
-- arg[1] (a --dir tree) through package.path, loaded once, and a missing
-- module's error.
package.path = arg[1] .. "/?.lua"
local g = require("greet")
print(g.greet("cowvm"), g.loaded_from)
print(require("greet") == g, package.loaded.greet == g)
local ok, e = pcall(require, "nosuchmodule")
print(ok, (e:gsub("\n.*", "")))
local f = assert(io.open(arg[1] .. "/greet.lua", "rb"))
local text = f:read("a")
f:close()
print(#text, select(2, text:gsub("\n", "")))
print(io.open(arg[1] .. "/missing.lua"))
