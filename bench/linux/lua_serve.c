/* A static Lua 5.4 host for bench-linux: runs a script and, when the script
 * returns a function (a request handler), reads one request from stdin to
 * its end, calls the handler with it and writes the string it returns to
 * stdout. With --fork-server it is the native fork-server baseline: the
 * same state is built once, then every command on the control socket
 * forks a child that serves one request from the descriptors sent along.
 * usage: lua_serve SCRIPT
 *        lua_serve --fork-server FD SCRIPT
 * Control protocol (FD is a SOCK_SEQPACKET socket): a one-byte command,
 * with descriptors passed as SCM_RIGHTS; each gets a struct ls_reply.
 *   'r' [in, out]        serve one request, reply {pid, wait status}
 *   'h' [in, out, hold]  serve one request, then stay alive until hold
 *                        reads end of file; reply {pid, 0} after the fork
 *   'w'                  reap every held child; reply {count, 0}
 * End of file on FD ends the server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define LS_MAX_FDS 3

struct ls_reply {
	int pid;
	int status;
};

/* Write all n bytes of p to fd; 0 or -1. */
static int ls_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read fd to its end into a new buffer (*len bytes); NULL on failure. */
static char *ls_read_all(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t k;

		if (n == cap) {
			char *b = realloc(buf, cap *= 2);

			if (!b)
				break;
			buf = b;
		}
		k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		if (k == 0) {
			*len = n;
			return buf;
		}
		n += (size_t)k;
	}
	free(buf);
	return NULL;
}

/* Serve one request: stdin to the handler on top of L's stack, its
 * string result to stdout; the exit status (0, or 1 after a message). */
static int ls_serve(lua_State *L)
{
	size_t len, olen;
	char *req = ls_read_all(0, &len);
	const char *out;

	if (!req) {
		fprintf(stderr, "lua_serve: cannot read stdin\n");
		return 1;
	}
	lua_pushvalue(L, -1);
	lua_pushlstring(L, req, len);
	free(req);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		fprintf(stderr, "lua_serve: %s\n", lua_tostring(L, -1));
		return 1;
	}
	out = lua_tolstring(L, -1, &olen);
	if (!out || ls_write_all(1, out, olen)) {
		fprintf(stderr, "lua_serve: the handler's answer is not "
				"a string or cannot be written\n");
		return 1;
	}
	lua_pop(L, 1);
	return 0;
}

/* Receive one command and up to LS_MAX_FDS descriptors; the command byte,
 * 0 at end of file, -1 on error. *nfd says how many came. */
static int ls_recv(int sock, int *fds, int *nfd)
{
	char c, ctl[CMSG_SPACE(LS_MAX_FDS * sizeof(int))];
	struct iovec iov = {&c, 1};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl,
			   .msg_controllen = sizeof(ctl)};
	struct cmsghdr *h;
	ssize_t k;

	do
		k = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (k < 0 && errno == EINTR);
	if (k <= 0)
		return (int)k;
	*nfd = 0;
	for (h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			*nfd = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(h), (size_t)*nfd * sizeof(int));
		}
	return (unsigned char)c;
}

/* The forked child of 'r' or 'h': serve on fds[0], fds[1]; with a hold
 * descriptor, wait for its end of file before exiting. */
static void ls_child(lua_State *L, int sock, const int *fds, int nfd)
{
	char c;
	int st;

	close(sock);
	if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0)
		_exit(1);
	close(fds[0]);
	close(fds[1]);
	st = ls_serve(L);
	close(0);
	close(1);
	if (nfd > 2)
		while (read(fds[2], &c, 1) < 0 && errno == EINTR)
			;
	_exit(st);
}

/* Handle one command; 0, or -1 when the server must stop. */
static int ls_command(lua_State *L, int sock, int cmd, int *fds, int nfd,
		      int *held)
{
	struct ls_reply r = {0, 0};
	pid_t pid;

	if (cmd == 'w') {
		while (*held > 0 && wait(NULL) > 0)
			(*held)--, r.pid++;
	} else if ((cmd == 'r' && nfd == 2) || (cmd == 'h' && nfd == 3)) {
		fflush(NULL);
		pid = fork();
		if (pid == 0)
			ls_child(L, sock, fds, nfd);
		for (int i = 0; i < nfd; i++)
			close(fds[i]);
		r.pid = (int)pid;
		if (pid > 0 && cmd == 'r')
			waitpid(pid, &r.status, 0);
		else if (pid > 0)
			(*held)++;
	} else {
		for (int i = 0; i < nfd; i++)
			close(fds[i]);
		r.pid = -1;
	}
	return send(sock, &r, sizeof(r), MSG_NOSIGNAL) == sizeof(r) ? 0 : -1;
}

/* The fork server's loop over commands on sock until end of file. */
static int ls_fork_server(lua_State *L, int sock)
{
	int fds[LS_MAX_FDS], nfd = 0, held = 0, cmd;

	while ((cmd = ls_recv(sock, fds, &nfd)) > 0)
		if (ls_command(L, sock, cmd, fds, nfd, &held))
			return 1;
	return cmd < 0;
}

/* Build the state (run the script); serve one request, or fork per
 * command, when it returns a handler. */
int main(int argc, char **argv)
{
	int server = argc == 4 && !strcmp(argv[1], "--fork-server");
	const char *script = server ? argv[3] : argc == 2 ? argv[1] : NULL;
	lua_State *L;

	if (!script) {
		fprintf(stderr, "usage: lua_serve [--fork-server FD] SCRIPT\n");
		return 2;
	}
	L = luaL_newstate();
	luaL_openlibs(L);
	if (luaL_dofile(L, script) != LUA_OK) {
		fprintf(stderr, "lua_serve: %s\n", lua_tostring(L, -1));
		return 1;
	}
	if (!lua_isfunction(L, -1)) {
		lua_close(L);
		return 0;
	}
	/* A served request ends the process without lua_close: its exit
	 * frees the state, as a request handler's process would. */
	if (server)
		return ls_fork_server(L, atoi(argv[2]));
	return ls_serve(L);
}
