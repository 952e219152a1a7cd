/* Helpers of the VMM tests: the cowvm command run with stdout and stderr
 * captured in memfds, and global symbols looked up in ELF files. */
#include <gelf.h>
#include <libelf.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "vmm_util.h"

/* Read all of fd (from offset 0) into buf of size n, NUL-terminated. */
static void test_slurp(int fd, char *buf, size_t n)
{
	ssize_t r = pread(fd, buf, n - 1, 0);

	TEST_ASSERT_GE(r, 0, "pread");
	buf[r] = 0;
}

/* Run argv (argv[0] the command's path) with stdout/stderr captured. */
struct cmd_result test_cmd(char *const argv[])
{
	struct cmd_result res = {0};
	posix_spawn_file_actions_t fa;
	int out = memfd_create("out", MFD_CLOEXEC);
	int err = memfd_create("err", MFD_CLOEXEC);
	pid_t pid;
	int ws;

	TEST_ASSERT_GE(out, 0, "memfd_create");
	TEST_ASSERT_GE(err, 0, "memfd_create");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	TEST_ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0,
		       "spawn %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	TEST_ASSERT_EQ(waitpid(pid, &ws, 0), pid, "waitpid");
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

/* The value of global symbol name in ELF file path (fails if absent). */
uint64_t test_elf_symbol(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf_Scn *scn = NULL;
	Elf *elf;

	TEST_ASSERT_GE(fd, 0, "%s", path);
	TEST_ASSERT_NE(elf_version(EV_CURRENT), EV_NONE, "%s", path);
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
