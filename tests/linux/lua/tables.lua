-- Tables of the linux tests' Lua checks: sort with and without a
-- comparator, insert/remove/concat/unpack/move, pairs in a fixed order.
local t = {}
local x = 12345
for i = 1, 2000 do
	x = (x * 1103515245 + 12345) % 2147483648
	t[i] = x % 100000
end
table.sort(t)
print(t[1], t[500], t[1000], t[2000])
table.sort(t, function(a, b) return a > b end)
print(t[1], t[500], t[1000], t[2000])
local names = {"pear", "apple", "fig", "banana", "cherry", "date"}
table.sort(names, function(a, b)
	if #a ~= #b then return #a < #b end
	return a < b
end)
print(table.concat(names, " "))
table.insert(names, 1, "kiwi")
table.insert(names, "lime")
print(table.remove(names), table.remove(names, 1), #names)
print(table.unpack({1, 2, 3, nil, 5}, 1, 5))
print(table.concat(table.move({1, 2, 3}, 1, 3, 2, {9}), ","))
local keys = {}
for k in pairs({b = 1, a = 2, c = 3, [10] = 4}) do
	keys[#keys + 1] = tostring(k)
end
table.sort(keys)
print(table.concat(keys, " "))
local big = {}
for i = 1, 100000 do big[i] = i * 2 end
local sum = 0
for _, v in ipairs(big) do sum = sum + v end
print(#big, sum, select("#", table.unpack(big, 1, 200)))
print(collectgarbage("count") > 0)
