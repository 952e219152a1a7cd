-- The request handler of cowvm serve's Linux-runtime tests and benchmarks:
-- lua_host runs it. Before its first read of stdin (so inside the
-- template) it builds its runtime state: the first 2000 primes and a
-- word table. A request is all of stdin; the response, on stdout, is
-- deterministic: the request's number (its first line), how many
-- requests this process served (always 1: a clone that saw another's
-- memory would say more), counts, the words by frequency, each number's
-- prime and a checksum.
-- Requests can ask it to fail: a word "crash" raises an error, "exit3"
-- ends it with os.exit(3), "spin" loops forever, and SERVE_CRASH_AT=K in the environment
-- raises an error for the request whose first line is K. With
-- SERVE_RANDOM=1 it also prints bytes of /dev/urandom, so that its
-- answers differ from a native run's.
local primes = {}
do
	local n = 2
	while #primes < 2000 do
		local prime = true
		for i = 1, #primes do
			local p = primes[i]
			if p * p > n then break end
			if n % p == 0 then
				prime = false
				break
			end
		end
		if prime then primes[#primes + 1] = n end
		n = n + 1
	end
end
local rank = {}
for i, w in ipairs({"alpha", "bravo", "charlie", "delta", "echo",
	"foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
	"mike", "november", "oscar", "papa"}) do
	rank[w] = i
end
local served = 0
local crash_at = os.getenv("SERVE_CRASH_AT")

local input = io.read("a")
served = served + 1
local first = input:match("^[^\n]*")
if crash_at and first == crash_at then
	error("crash requested for request " .. first)
end

local freq, words, numbers = {}, {}, {}
local nwords, lines, sum = 0, 0, 0
for _ in input:gmatch("\n") do lines = lines + 1 end
for w in input:gmatch("%S+") do
	nwords = nwords + 1
	if w == "crash" then error("crash word in request " .. first) end
	if w == "spin" then
		while true do end
	end
	if w == "exit3" then
		io.write("exiting with 3\n")
		os.exit(3)
	end
	local x = tonumber(w)
	if x then
		sum = sum + x
		numbers[#numbers + 1] = x
	end
	if not freq[w] then words[#words + 1] = w end
	freq[w] = (freq[w] or 0) + 1
end
table.sort(words, function(a, b)
	if freq[a] ~= freq[b] then return freq[a] > freq[b] end
	return a < b
end)

print(string.format("request %s served %d", first, served))
print(string.format("bytes %d lines %d words %d distinct %d sum %d",
	#input, lines, nwords, #words, sum))
for i = 1, math.min(6, #words) do
	local w = words[i]
	print(string.format("  %-10s %3d rank %s", w, freq[w],
		rank[w] and tostring(rank[w]) or "-"))
end
local check = 0
for i, x in ipairs(numbers) do
	local p = primes[(math.floor(x) % #primes) + 1]
	check = (check * 31 + p * i) % 1000000007
	if i <= 4 then print(string.format("  prime(%d) = %d", x, p)) end
end
print(string.format("checksum %d %s", check,
	(first:upper():reverse())))
if os.getenv("SERVE_RANDOM") == "1" then
	local f = assert(io.open("/dev/urandom", "rb"))
	local r = f:read(8)
	f:close()
	print("random " .. r:gsub(".", function(c)
		return string.format("%02x", c:byte())
	end))
end
