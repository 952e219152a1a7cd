/* The Lua 5.4 host of the serve tests: runs the script argv[1] with the
 * rest of argv in its arg table (arg[0] is the script). */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* Run argv[1]; 0 when it returns, 1 with its error on stderr, 2 without
 * a script. */
int main(int argc, char **argv)
{
	lua_State *L;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SCRIPT [ARGS...]\n", argv[0]);
		return 2;
	}
	L = luaL_newstate();
	if (!L) {
		fprintf(stderr, "lua_host: out of memory\n");
		return 1;
	}
	luaL_openlibs(L);
	lua_createtable(L, argc, 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - 1);
	}
	lua_setglobal(L, "arg");
	r = luaL_dofile(L, argv[1]);
	if (r != LUA_OK)
		fprintf(stderr, "lua_host: %s\n", lua_tostring(L, -1));
	lua_close(L);
	return r == LUA_OK ? 0 : 1;
}
