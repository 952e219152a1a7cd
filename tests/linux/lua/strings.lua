-- String functions of the linux tests' Lua checks: find, gsub, patterns,
-- byte/char, rep, reverse, upper/lower, split by gmatch.
local s = "The quick brown fox jumps over the lazy dog 1234567890"
print(#s, s:upper(), s:lower())
print(s:find("fox"), s:find("o", 20, true), s:match("(%a+) dog"))
print((s:gsub("o", "0")), select(2, s:gsub("%s", "_")))
print(s:sub(5, 9), s:sub(-10), s:reverse())
print(s:byte(1, 5))
print(string.char(72, 105, 33), ("ab"):rep(5, "-"))
local words = {}
for w in s:gmatch("%a+") do
	words[#words + 1] = w
end
print(#words, table.concat(words, ","))
print(("%5s|%-5s|%05d|%x|%X|%o|%q"):format("ab", "cd", 42, 255, 255, 8, "a\nb\0"))
print(("x = %d"):rep(3, "; "):format(1, 2, 3))
print(utf8.char(72, 228, 8364, 128512), utf8.len("häl€"))
for p, c in utf8.codes("a€b") do
	io.write(p, ":", c, " ")
end
print()
print(string.pack("<i4", 100):byte(1, -1))
print(tostring(nil), tostring(true), tonumber("0x10"), tonumber("10", 2))
