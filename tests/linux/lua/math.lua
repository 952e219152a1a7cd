-- Math of the linux tests' Lua checks: integer and float arithmetic,
-- floor division and modulo signs, bit operations, libm functions.
print(7 // 2, -7 // 2, 7 % -3, -7 % 3, 7.5 // 2, 2 ^ 10, 10 / 4)
print(math.maxinteger, math.mininteger, math.maxinteger + 1 == math.mininteger)
print(0xff & 0x0f, 0xf0 | 0x0f, 5 ~ 3, ~0, 1 << 62, -1 >> 60)
print(math.floor(-3.5), math.ceil(-3.5), math.abs(-2), math.fmod(-7, 3))
print(math.sqrt(2), math.sin(1), math.cos(1), math.tan(1))
print(math.exp(1), math.log(10), math.log(8, 2), math.log(100, 10))
print(math.atan(1, 2), math.pi, math.huge, -math.huge)
print(math.tointeger(3.0), math.type(1), math.type(1.0), math.type("1"))
print(math.ult(1, -1), math.max(3, 9, -1), math.min(3, 9, -1))
print(1e308 * 10, -(0 / 0) ~= -(0 / 0), 3 == 3.0, 2 ^ 53 + 1)
local s = 0
for i = 1, 1000000 do s = s + i * i % 7 end
print(s)
math.randomseed(42)
local r = {}
for i = 1, 5 do r[i] = math.random(1, 1000) end
print(table.concat(r, " "), math.random() < 1)
