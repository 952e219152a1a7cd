/* 64 clones of one Linux program: lua_host running lua/handler.lua is
 * loaded with cowvm_load_linux, stops at its first read of stdin, is
 * snapshotted, and each clone answers its own stdin exactly as a native
 * run of the program on that input does; clones never see each other's
 * writes, read different random bytes, and a reset clone answers again.
 * usage: test-linux-clones LINUX.elf LUA_HOST HANDLER.lua */
#include <sys/mman.h>
#include <sys/wait.h>

#include "cowvm.h"
#include "cowvm_linux_abi.h"
#include "test_util.h"

#define NCLONES 64
#define MIB	(1ull << 20)

/* One run's output: stdout and the random bytes stderr reported. */
struct lx_answer {
	char *out;
	char random[64];
};

static const char *lx_lua, *lx_script;

/* A new memfd holding len bytes of data, its offset at 0. */
static int lx_memfd(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	TEST_ASSERT_GE(fd, 0, "memfd_create");
	TEST_ASSERT_EQ(write(fd, data, len), (ssize_t)len, "memfd write");
	TEST_ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0, "memfd lseek");
	return fd;
}

/* Everything in fd from offset 0, NUL-terminated (free it). */
static char *lx_slurp(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf;

	TEST_ASSERT_GE(len, 0, "lseek");
	buf = calloc(1, (size_t)len + 1);
	TEST_ASSERT(buf, "calloc");
	TEST_ASSERT_EQ(pread(fd, buf, (size_t)len, 0), (ssize_t)len, "pread");
	return buf;
}

/* The input of request i: a few lines of words and numbers. */
static char *lx_input(int i)
{
	char *s;

	TEST_ASSERT_GT(asprintf(&s,
				"request %d from clone %d\n"
				"alpha %d beta %d alpha\n"
				"gamma %d %d %d gamma gamma\n%s",
				i, i, i * 3, i * i, i % 7, 100 - i, i,
				i % 2 ? "odd odd\n" : "even\n"),
		       0, "asprintf");
	return s;
}

/* The random hex bytes of stderr's "random HEX" line into a->random. */
static void lx_random_of(struct lx_answer *a, const char *err, const char *who)
{
	const char *r = strstr(err, "random ");

	TEST_ASSERT(r, "%s: no random line on stderr:\n%s", who, err);
	TEST_ASSERT_EQ(sscanf(r, "random %63s", a->random), 1, "%s", who);
	TEST_ASSERT_EQ(strlen(a->random), 32u, "%s: %s", who, a->random);
}

/* Run lua_host natively on input, with an empty environment as cowvm
 * gives it; returns its stdout (it must exit 0). */
static char *lx_native(const char *input)
{
	char *argv[] = {(char *)lx_lua, (char *)lx_script, NULL};
	char *envp[] = {NULL};
	int in = lx_memfd("in", input, strlen(input));
	int out = lx_memfd("out", "", 0), st;
	pid_t pid = fork();
	char *s;

	TEST_ASSERT_GE(pid, 0, "fork");
	if (pid == 0) {
		dup2(in, 0);
		dup2(out, 1);
		execve(lx_lua, argv, envp);
		_exit(127);
	}
	TEST_ASSERT_EQ(waitpid(pid, &st, 0), pid, "waitpid");
	TEST_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "native lua_host: wait status %#x", st);
	s = lx_slurp(out);
	close(in);
	close(out);
	return s;
}

/* Run vm (at the stdin snapshot) on input to its exit; returns its
 * answer. */
static struct lx_answer lx_answer(struct cowvm *vm, const char *input,
				  const char *who)
{
	int in = lx_memfd("in", input, strlen(input));
	int out = lx_memfd("out", "", 0), err = lx_memfd("err", "", 0);
	struct lx_answer a;
	struct cowvm_exit e;
	char *errs;

	TEST_OK(cowvm_set_stdio(vm, in, out, err));
	TEST_OK(cowvm_run(vm, &e));
	errs = lx_slurp(err);
	TEST_ASSERT_EXIT_STATUS(e, 0, "%s; stderr:\n%s", who, errs);
	a.out = lx_slurp(out);
	lx_random_of(&a, errs, who);
	free(errs);
	close(in);
	close(out);
	close(err);
	return a;
}

/* Boot lua_host with the handler to its first read of stdin. */
static struct cowvm *lx_boot(const char *kernel)
{
	const char *argv[] = {lx_lua, lx_script, NULL};
	struct cowvm_linux_path file = {lx_script, lx_script};
	struct cowvm_linux lx = {
		.kernel = kernel,
		.program = lx_lua,
		.argv = argv,
		.envp = NULL,
		.files = &file,
		.nr_files = 1,
		.flags = COWVM_LINUX_SNAPSHOT_STDIN,
	};
	struct cowvm_config cfg;
	struct cowvm_exit e;
	struct cowvm *vm;
	int err;

	cowvm_config_init(&cfg);
	cfg.mem_size = 64 * MIB;
	cfg.timeout_ms = 30000;
	cfg.console_fd = 2;
	vm = cowvm_create(&cfg);
	TEST_ASSERT(vm, "cowvm_create: %s", cowvm_error(NULL));
	err = cowvm_load_linux(vm, &lx);
	TEST_ASSERT_EQ(err, 0, "cowvm_load_linux: %s", cowvm_error(vm));
	/* Nothing may be read or written before the snapshot. */
	TEST_OK(cowvm_set_stdio(vm, -1, -1, 2));
	TEST_OK(cowvm_run(vm, &e));
	TEST_ASSERT_EXIT_TAG(e, COWVM_LINUX_STDIN_TAG,
			     "lua_host before its first stdin read");
	/* The read is pending: its result, not a chosen ret, resumes it. */
	TEST_ASSERT_EQ(cowvm_set_snapshot_ret(vm, 5), -EINVAL,
		       "set_snapshot_ret at the stdin snapshot");
	return vm;
}

/* Check clone i's answer against the native run and the count line. */
static void lx_check(const struct lx_answer *a, const char *want, int i)
{
	TEST_ASSERT(!strncmp(a->out, "count 1\n", 8),
		    "clone %d saw other requests:\n%s", i, a->out);
	TEST_ASSERT(!strcmp(a->out, want),
		    "clone %d: stdout differs from the native run\n"
		    "cowvm:\n%s\nnative:\n%s",
		    i, a->out, want);
}

/* Boot, snapshot, answer 64 requests in 64 clones, reset one and ask it
 * again, and let the parent answer too. */
int main(int argc, char **argv)
{
	static struct cowvm *clones[NCLONES];
	static struct lx_answer ans[NCLONES];
	static char *want[NCLONES];
	struct cowvm_snapshot *snap;
	struct lx_answer again;
	struct cowvm *vm;
	char who[32];

	TEST_ASSERT_EQ(argc, 4, "usage: %s LINUX.elf LUA_HOST HANDLER.lua",
		       argv[0]);
	test_require_kvm();
	/* The script's guest path is its absolute host path. */
	lx_lua = realpath(argv[2], NULL);
	lx_script = realpath(argv[3], NULL);
	TEST_ASSERT(lx_lua && lx_script, "realpath %s %s", argv[2], argv[3]);
	vm = lx_boot(argv[1]);
	snap = cowvm_snapshot(vm);
	TEST_ASSERT(snap, "cowvm_snapshot: %s", cowvm_error(vm));

	/* Every clone lives until all have answered, so that a write one
	 * of them leaked into shared memory would show in the others. */
	for (int i = 0; i < NCLONES; i++) {
		char *input = lx_input(i);

		snprintf(who, sizeof(who), "clone %d", i);
		want[i] = lx_native(input);
		clones[i] = cowvm_clone(snap);
		TEST_ASSERT(clones[i], "cowvm_clone %d: %s", i,
			    cowvm_error(vm));
		ans[i] = lx_answer(clones[i], input, who);
		lx_check(&ans[i], want[i], i);
		free(input);
	}
	for (int i = 0; i < NCLONES; i++)
		for (int j = 0; j < i; j++)
			TEST_ASSERT(strcmp(ans[i].random, ans[j].random),
				    "clones %d and %d read the same random "
				    "bytes %s",
				    j, i, ans[i].random);

	/* A reset clone answers its request again, identically, with new
	 * random bytes; so does another clone of the snapshot. */
	for (int k = 0; k < 3; k++) {
		int i = (k * 29 + 5) % NCLONES;
		char *input = lx_input(i);

		TEST_OK(cowvm_reset(clones[i], snap));
		snprintf(who, sizeof(who), "reset clone %d", i);
		again = lx_answer(clones[i], input, who);
		lx_check(&again, want[i], i);
		TEST_ASSERT(strcmp(again.random, ans[i].random),
			    "reset clone %d read its old random bytes", i);
		free(again.out);
		free(input);
	}

	/* The parent was stopped at the snapshot: it answers too. */
	{
		char *input = lx_input(NCLONES);
		char *native = lx_native(input);

		again = lx_answer(vm, input, "the parent");
		lx_check(&again, native, NCLONES);
		free(again.out);
		free(native);
		free(input);
	}
	for (int i = 0; i < NCLONES; i++) {
		cowvm_destroy(clones[i]);
		free(ans[i].out);
		free(want[i]);
	}
	cowvm_snapshot_put(snap);
	cowvm_destroy(vm);
	printf("linux clones: %d clones, resets and the parent answered as "
	       "natively\n",
	       NCLONES);
	return 0;
}
