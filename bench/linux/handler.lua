-- The request handler bench-linux serves: lua_serve runs this file once
-- (the state below is built before the first read of stdin, where cowvm
-- snapshots and the fork server forks) and calls the function it returns
-- with each request. A request is lines of words and numbers; the answer
-- counts the primes up to each number, looks every word up in a
-- dictionary, and sums and sorts what it found.
local LIMIT = 100000
local composite, primes = {}, {}
for i = 2, LIMIT do
	if not composite[i] then
		primes[#primes + 1] = i
		for j = i * i, LIMIT, i do composite[j] = true end
	end
end
composite = nil
local dict = {}
for i = 1, 20000 do
	dict[string.format("w%d", i)] = (i * 7919) % 10007
end
collectgarbage("collect")

-- The number of primes <= x (binary search).
local function pi(x)
	local lo, hi = 0, #primes
	while lo < hi do
		local mid = (lo + hi + 1) // 2
		if primes[mid] <= x then lo = mid else hi = mid - 1 end
	end
	return lo
end

return function(req)
	local out, found, sum = {}, {}, 0
	for tok in req:gmatch("%S+") do
		local n = tonumber(tok)
		if n then
			out[#out + 1] = string.format("pi(%d)=%d", n, pi(n))
			sum = sum + n
		elseif dict[tok] then
			found[#found + 1] = tok .. ":" .. dict[tok]
		else
			found[#found + 1] = tok .. ":?"
		end
	end
	table.sort(found)
	out[#out + 1] = "sum " .. sum
	out[#out + 1] = table.concat(found, " ")
	return table.concat(out, "\n") .. "\n"
end
