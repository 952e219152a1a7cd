-- A module for the linux tests' require check, found through package.path.
local M = {}
M.loaded_from = ...
function M.greet(name)
	return "hello, " .. name
end
return M
