/* Helpers shared by the VMM tests: VMs with a captured console, running
 * the cowvm command, ELF symbol lookup. */
#ifndef VMM_TEST_H
#define VMM_TEST_H

#include <gelf.h>
#include <libelf.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "cowvm.h"
#include "cowvm_abi.h"
#include "../test.h"

/* A VM under test and the memfd that receives its console. */
struct tvm {
	struct cowvm *vm;
	int console;
};

/* Create a VM of mem bytes with a memfd console and load elf with cmdline. */
static inline struct tvm tvm_boot(uint64_t mem, const char *elf,
				  const char *cmdline)
{
	struct cowvm_config cfg;
	struct tvm t;

	t.console = memfd_create("console", MFD_CLOEXEC);
	TEST_ASSERT(t.console >= 0, "memfd_create");
	cowvm_config_init(&cfg);
	cfg.mem_size = mem;
	cfg.console_fd = t.console;
	t.vm = cowvm_create(&cfg);
	TEST_ASSERT(t.vm, "cowvm_create: %s", cowvm_error(NULL));
	TEST_ASSERT(cowvm_load_elf(t.vm, elf, cmdline) == 0,
		    "cowvm_load_elf %s '%s': %s", elf, cmdline ? cmdline : "",
		    cowvm_error(t.vm));
	return t;
}

/* Run t until it stops; the exit must be filled (run returns 0). */
static inline struct cowvm_exit tvm_run(struct tvm *t)
{
	struct cowvm_exit e;
	int r = cowvm_run(t->vm, &e);

	TEST_ASSERT(r == 0, "cowvm_run returned %d: %s", r, cowvm_error(t->vm));
	return e;
}

/* Everything written to t's console so far, NUL-terminated (free it). */
static inline char *tvm_console(struct tvm *t)
{
	off_t n = lseek(t->console, 0, SEEK_END);
	char *s = calloc(1, (size_t)n + 1);

	TEST_ASSERT(s && n >= 0, "console size");
	TEST_ASSERT(pread(t->console, s, (size_t)n, 0) == n, "console read");
	return s;
}

/* Destroy t's VM and console. */
static inline void tvm_free(struct tvm *t)
{
	cowvm_destroy(t->vm);
	close(t->console);
}

/* Read a 64-bit word of guest memory. */
static inline uint64_t tvm_read64(struct tvm *t, uint64_t gpa)
{
	uint64_t v;

	TEST_OK(cowvm_read(t->vm, gpa, &v, sizeof(v)));
	return v;
}

/* Seconds on the monotonic clock. */
static inline double test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The value of global symbol name in ELF file path (aborts if absent). */
static inline uint64_t test_elf_symbol(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf_Scn *scn = NULL;
	Elf *elf;

	TEST_ASSERT(fd >= 0 && elf_version(EV_CURRENT) != EV_NONE, "%s", path);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	TEST_ASSERT(elf, "elf_begin %s: %s", path, elf_errmsg(-1));
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(d, (int)i, &sym))
				continue;
			n = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (n && !strcmp(n, name) &&
			    GELF_ST_BIND(sym.st_info) == STB_GLOBAL) {
				uint64_t v = sym.st_value;

				elf_end(elf);
				close(fd);
				return v;
			}
		}
	}
	TEST_ASSERT(0, "symbol %s not found in %s", name, path);
	return 0;
}

/* What running the cowvm command produced. */
struct cmd_result {
	int status; /* exit status, or -1 when killed by a signal */
	int signal; /* the signal, when killed */
	char out[8192];
	char err[8192];
	int err_lines;
};

/* Read all of fd (from offset 0) into buf of size n, NUL-terminated. */
static inline void test_slurp(int fd, char *buf, size_t n)
{
	ssize_t r = pread(fd, buf, n - 1, 0);

	TEST_ASSERT(r >= 0, "pread");
	buf[r] = 0;
}

/* Run argv (argv[0] the command's path) with stdout/stderr captured. */
static inline struct cmd_result test_cmd(char *const argv[])
{
	struct cmd_result res = {0};
	posix_spawn_file_actions_t fa;
	int out = memfd_create("out", MFD_CLOEXEC);
	int err = memfd_create("err", MFD_CLOEXEC);
	pid_t pid;
	int ws;

	TEST_ASSERT(out >= 0 && err >= 0, "memfd_create");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	TEST_ASSERT(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) == 0,
		    "spawn %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	TEST_ASSERT(waitpid(pid, &ws, 0) == pid, "waitpid");
	res.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	res.signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
	test_slurp(out, res.out, sizeof(res.out));
	test_slurp(err, res.err, sizeof(res.err));
	for (const char *p = res.err; *p; p++)
		res.err_lines += *p == '\n';
	close(out);
	close(err);
	return res;
}

#endif
