-- The script of bench-linux's start-to-exit benchmark: a little
-- arithmetic, a table and a string built, one line printed.
local t, s = {}, 0
for i = 1, 2000 do
	t[i] = i * i % 97
	s = s + t[i]
end
table.sort(t)
print(string.format("sum %d median %d len %d", s, t[1000],
	#table.concat(t, ",")))
