-- Coroutines of the linux tests' Lua checks: a generator, passing values
-- both ways, status, wrap, an error inside a coroutine, close.
local function gen(n)
	return coroutine.wrap(function()
		for i = 1, n do coroutine.yield(i * i) end
	end)
end
local out = {}
for v in gen(10) do out[#out + 1] = v end
print(table.concat(out, " "))
local co = coroutine.create(function(a, b)
	print("start", a, b)
	local c = coroutine.yield(a + b)
	print("got", c)
	local d, e = coroutine.yield(c * 2)
	return d + e
end)
print(coroutine.resume(co, 1, 2))
print(coroutine.status(co))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, 3, 4))
print(coroutine.status(co), coroutine.resume(co))
local bad = coroutine.create(function() error("inside", 0) end)
print(coroutine.resume(bad))
local c2 = coroutine.create(function() coroutine.yield() end)
coroutine.resume(c2)
print(coroutine.close(c2), coroutine.status(c2))
print(coroutine.isyieldable(), select(2, coroutine.running()))
