/* A Lua 5.4 host for the linux tests: runs the script file argv[1] (stdin
 * when none) with the rest of argv as its arguments and in its arg table. */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* Run the script; 0 when it returns normally, 1 with the error on stderr. */
int main(int argc, char **argv)
{
	const char *script = argc > 1 ? argv[1] : NULL;
	lua_State *L = luaL_newstate();
	int i;

	luaL_openlibs(L);
	lua_createtable(L, argc, 1);
	for (i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - 1);
	}
	lua_setglobal(L, "arg");
	if (luaL_loadfile(L, script) != LUA_OK)
		goto fail;
	for (i = 2; i < argc; i++)
		lua_pushstring(L, argv[i]);
	if (lua_pcall(L, argc > 2 ? argc - 2 : 0, 0, 0) != LUA_OK)
		goto fail;
	lua_close(L);
	return 0;
fail:
	fprintf(stderr, "lua_host: %s\n", lua_tostring(L, -1));
	lua_close(L);
	return 1;
}
