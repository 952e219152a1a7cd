-- string.format of floats in the linux tests' Lua checks: %f %e %g %a,
-- widths and precisions, tostring of floats, string to number.
local vals = {0, 1, -1, 0.1, 1 / 3, 2 / 3, 1e-10, 123456789.125, 1e300,
	-2.5e-300, 3.14159265358979, 2 ^ 63, 0.5, 1.5, 2.5}
for _, v in ipairs(vals) do
	print(string.format("%f|%.3f|%10.2f|%-12.4e|%g|%.17g|%a", v, v, v, v,
		v, v, v))
	print(tostring(v), v // 1, math.floor(v) == v)
end
print(string.format("%5.1f%%", 99.44), string.format("%+d % d", 5, 5))
print(tonumber("1e5"), tonumber("  0x1p4  "), tonumber(".5"), tonumber("5."))
print(string.format("%.0f %.0f %.0f %.0f", 0.5, 1.5, 2.5, -0.5))
print(8 / 3, -8 / 3, 1e15, 1e16, 123456.0, 2 ^ -1074)
