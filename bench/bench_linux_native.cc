// bench-linux's native side: the spawn helper (a clean process that
// fork()s, execve()s and waits for the native baselines, and times that)
// and the client of the Lua fork server; both are started by posix_spawn,
// so neither holds a VM or the harness's memory.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bench_linux.h"

extern char **environ;

namespace
{

constexpr size_t kMsgMax = 16384; // one helper command: argv strings
constexpr int kMaxFds = 3;

// Send one datagram of len bytes with nfd descriptors; 0 or -errno.
int send_fds(int sock, const void *buf, size_t len, const int *fds, int nfd)
{
	char ctl[CMSG_SPACE(kMaxFds * sizeof(int))] = {};
	iovec iov = {const_cast<void *>(buf), len};
	msghdr m = {};

	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (nfd) {
		m.msg_control = ctl;
		m.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
		cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(nfd * sizeof(int));
		std::memcpy(CMSG_DATA(h), fds, nfd * sizeof(int));
	}
	while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

// Receive one datagram into buf (cap bytes) and up to kMaxFds
// descriptors (close-on-exec); its length, 0 at end of file, -errno.
ssize_t recv_fds(int sock, void *buf, size_t cap, int *fds, int *nfd)
{
	char ctl[CMSG_SPACE(kMaxFds * sizeof(int))];
	iovec iov = {buf, cap};
	msghdr m = {};
	ssize_t k;

	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof(ctl);
	do
		k = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	*nfd = 0;
	for (cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			*nfd = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			std::memcpy(fds, CMSG_DATA(h), *nfd * sizeof(int));
		}
	return k;
}

// Read one fixed-size reply from sock, else die naming who.
void recv_exact(int sock, void *buf, size_t len, const char *who)
{
	ssize_t k;

	do
		k = recv(sock, buf, len, 0);
	while (k < 0 && errno == EINTR);
	if (k != (ssize_t)len)
		die("%s: no reply (%zd: %s)", who, k, std::strerror(errno));
}

// Start argv by posix_spawn with `child_end` of a new SOCK_SEQPACKET
// pair at fd 3 and stdout on /dev/null; returns the pid, our end in *sock.
pid_t spawn_with_socket(const std::vector<std::string> &argv, int *sock)
{
	std::vector<char *> av;
	posix_spawn_file_actions_t fa;
	int sv[2], err;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		die("socketpair: %s", std::strerror(errno));
	for (const auto &a : argv)
		av.push_back(const_cast<char *>(a.c_str()));
	av.push_back(nullptr);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	err = posix_spawn(&pid, av[0], &fa, nullptr, av.data(), environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (err)
		die("posix_spawn %s: %s", av[0], std::strerror(err));
	*sock = sv[0];
	return pid;
}

// The spawn helper's client state.
struct Helper {
	pid_t pid = -1;
	int sock = -1;
} helper;

// The fork server's client state.
struct Server {
	pid_t pid = -1;
	int sock = -1;
} server;

// Stop a child we spawned: close its socket (it ends at end of file),
// then reap it.
void stop_child(pid_t &pid, int &sock)
{
	close_fd(sock);
	if (pid > 0)
		waitpid(pid, nullptr, 0);
	pid = -1;
}

// In the helper: fork, exec argv with fds as stdin, stdout, stderr and an
// empty environment, close fds (so that the child's exit ends its
// output), wait; the reply.
NativeRun helper_exec(char **argv, const int *fds)
{
	char *envp[] = {nullptr};
	NativeRun r = {0, 0};
	auto t0 = Clock::now();
	pid_t pid = fork();

	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			if (dup2(fds[i], i) < 0)
				_exit(126);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	for (int i = 0; i < kMaxFds; i++)
		close(fds[i]);
	if (pid < 0 || waitpid(pid, &r.status, 0) != pid)
		r.status = -1;
	r.seconds = seconds_since(t0);
	return r;
}

} // namespace

// The spawn helper's main: one run per command until end of file.
int native_helper_main(int sock)
{
	static char msg[kMsgMax + 1];

	for (;;) {
		std::vector<char *> argv;
		int fds[kMaxFds], nfd = 0;
		ssize_t k = recv_fds(sock, msg, kMsgMax, fds, &nfd);
		NativeRun r = {0, -1};

		if (k <= 0)
			return k < 0;
		msg[k] = 0;
		for (ssize_t i = 0; i < k;
		     i += (ssize_t)std::strlen(msg + i) + 1)
			argv.push_back(msg + i);
		argv.push_back(nullptr);
		if (nfd == kMaxFds && argv.size() > 1)
			r = helper_exec(argv.data(), fds);
		else
			for (int i = 0; i < nfd; i++)
				close(fds[i]);
		if (send(sock, &r, sizeof(r), MSG_NOSIGNAL) != sizeof(r))
			return 1;
	}
}

// Spawn the helper (self is this program).
void native_start(const char *self)
{
	helper.pid =
		spawn_with_socket({self, "--spawn-helper", "3"}, &helper.sock);
}

// Stop the helper and the fork server.
void native_stop()
{
	stop_child(helper.pid, helper.sock);
	fork_server_stop();
}

// Send a run command to the helper.
void native_send(const std::vector<std::string> &argv, int in, int out, int err)
{
	std::string msg;
	int fds[3] = {in, out, err};

	for (const auto &a : argv)
		msg.append(a.c_str(), a.size() + 1);
	if (msg.size() > kMsgMax)
		die("helper command too long");
	if (int e = send_fds(helper.sock, msg.data(), msg.size(), fds, 3))
		die("spawn helper: %s", std::strerror(-e));
}

// The helper's answer to the last command.
NativeRun native_reply()
{
	NativeRun r;

	recv_exact(helper.sock, &r, sizeof(r), "spawn helper");
	return r;
}

// One native run through the helper.
NativeRun native_run(const std::vector<std::string> &argv, int in, int out,
		     int err)
{
	native_send(argv, in, out, err);
	return native_reply();
}

// Start the fork server on first use, then send cmd with fds.
void fork_server_send(char cmd, const int *fds, int nfd)
{
	if (server.pid < 0) {
		const Files &f = files();

		server.pid = spawn_with_socket(
			{f.lua, "--fork-server", "3", f.handler}, &server.sock);
	}
	if (int e = send_fds(server.sock, &cmd, 1, fds, nfd))
		die("fork server: %s", std::strerror(-e));
}

// The fork server's reply to the last command.
ForkReply fork_server_reply()
{
	ForkReply r;

	recv_exact(server.sock, &r, sizeof(r), "fork server");
	return r;
}

// The fork server's pid (-1 before its first command).
pid_t fork_server_pid()
{
	return server.pid;
}

// Stop the fork server.
void fork_server_stop()
{
	stop_child(server.pid, server.sock);
}
