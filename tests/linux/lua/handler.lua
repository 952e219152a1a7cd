-- The request handler of the linux clones test: lua_host runs it with
-- stdin snapshotted at its first read; each clone answers one request.
-- Every request is appended to a table that exists before the snapshot,
-- so a clone that saw another's memory would count more than 1. stdout is
-- deterministic (compared with a native run); the random bytes read from
-- /dev/urandom after the request go to stderr.
local seen = {}
local input = io.read("a")
seen[#seen + 1] = input
print("count " .. #seen)
local words, freq, sum = {}, {}, 0
for w in input:gmatch("%S+") do
	if not freq[w] then words[#words + 1] = w end
	freq[w] = (freq[w] or 0) + 1
	sum = sum + (tonumber(w) or 0)
end
table.sort(words, function(a, b)
	if freq[a] ~= freq[b] then return freq[a] > freq[b] end
	return a < b
end)
print("bytes " .. #input .. " words " .. #words .. " sum " .. sum)
for i = 1, math.min(5, #words) do
	print(words[i], freq[words[i]])
end
print((input:match("[^\n]*")):upper():reverse())
local f = assert(io.open("/dev/urandom", "rb"))
local r = f:read(16)
f:close()
io.stderr:write("random ",
	(r:gsub(".", function(c) return string.format("%02x", c:byte()) end)),
	"\n")
