/* `cowvm serve --exec --check`'s native runs: the same program with the
 * same argv, environment and stdin run on the host, waited for with a
 * time limit. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve_linux.h"

/* Start c's program on in, out and err as pid; 0 or -errno. */
static int sn_spawn(const struct serve_linux_cfg *c, int in, int out, int err,
		    pid_t *pid)
{
	static char *const no_env[] = {NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int r;

	if (lseek(in, 0, SEEK_SET) < 0)
		return -errno;
	sigemptyset(&none);
	sigfillset(&all);
	if ((r = posix_spawn_file_actions_init(&fa)))
		return -r;
	if ((r = posix_spawnattr_init(&at))) {
		posix_spawn_file_actions_destroy(&fa);
		return -r;
	}
	r = posix_spawn_file_actions_adddup2(&fa, in, 0);
	r = r ? r : posix_spawn_file_actions_adddup2(&fa, out, 1);
	r = r ? r : posix_spawn_file_actions_adddup2(&fa, err, 2);
	r = r ? r : posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	r = r ? r : posix_spawnattr_setsigmask(&at, &none);
	r = r ? r : posix_spawnattr_setsigdefault(&at, &all);
	r = r ? r
	      : posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
						      POSIX_SPAWN_SETSIGDEF);
	if (!r)
		r = posix_spawn(pid, c->program, &fa, &at,
				(char *const *)c->argv,
				c->envp ? (char *const *)c->envp : no_env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

/* Wait for pid, killing it after timeout_ms (0: never); its wait status
 * into *ws; 1 when it was killed for the time, 0 if not, -errno. */
static int sn_wait(pid_t pid, uint64_t timeout_ms, int *ws)
{
	int pfd = timeout_ms ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	int killed = 0;

	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int ms = timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms;
		int n;

		while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
			;
		if (n == 0) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		close(pfd);
	}
	while (waitpid(pid, ws, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return killed;
}

/* Run c's program natively on in, out and err. */
int serve_native_run(const struct serve_linux_cfg *c, int in, int out, int err,
		     uint64_t timeout_ms, struct serve_native *n, char *why)
{
	pid_t pid;
	int ws = 0, r = sn_spawn(c, in, out, err, &pid);

	memset(n, 0, sizeof(*n));
	if (r) {
		snprintf(why, SERVE_ERR_MAX, "cannot start %.80s: %s",
			 c->program, strerror(-r));
		return r;
	}
	r = sn_wait(pid, timeout_ms, &ws);
	if (r < 0) {
		snprintf(why, SERVE_ERR_MAX, "waitpid: %s", strerror(-r));
		return r;
	}
	n->timed_out = r;
	n->signaled = WIFSIGNALED(ws);
	n->status = n->signaled ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
	return 0;
}
