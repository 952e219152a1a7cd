/* cowvm_load_linux without running the program: the refusal of bad ELFs
 * (each with its message), the boot block, the initial stack (argc, argv,
 * envp, auxv), the segments, the NULL guard and the file table, read back
 * with cowvm_read. usage: test-linux-load KERNEL.elf PROG PIE_PROG */
#include <elf.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "cowvm.h"
#include "cowvm_linux_abi.h"
#include "test_util.h"
#include "test_vm.h"

#define MIB (1ull << 20)

static const char *kernel, *prog, *pie;
static char tmpdir[] = "/tmp/cowvm-load-XXXXXX";

/* The whole of a host file (size in *len); fails the test if unreadable. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	TEST_ASSERT(f, "open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	TEST_ASSERT(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "read %s",
		    path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Write len bytes to tmpdir/name; the path (static buffer per call). */
static char *spill(const char *name, const void *buf, size_t len)
{
	static char paths[16][PATH_MAX];
	static unsigned next;
	char *p = paths[next++ % 16];
	FILE *f;

	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	f = fopen(p, "wb");
	TEST_ASSERT(f && fwrite(buf, 1, len, f) == len, "write %s", p);
	fclose(f);
	chmod(p, 0755);
	return p;
}

/* Load path into a new VM of mem bytes; expect -err (0: success) and, on
 * failure, msg in cowvm_error; returns the VM (NULL after a failure). */
static struct cowvm *load(uint64_t mem, const struct cowvm_linux *lx_in,
			  const char *path, int err, const char *msg)
{
	struct cowvm_linux lx = {.kernel = kernel, .program = path};
	struct cowvm *vm = tvm_create(mem);
	struct cowvm_exit e;
	int r;

	if (lx_in) {
		lx = *lx_in;
		lx.kernel = kernel;
		lx.program = path;
	}
	r = cowvm_load_linux(vm, &lx);
	TEST_ASSERT_EQ(r, -err, "%s: %s", path, cowvm_error(vm));
	if (!err)
		return vm;
	TEST_ASSERT(strstr(cowvm_error(vm), msg), "'%s' lacks '%s'",
		    cowvm_error(vm), msg);
	if (msg[0] != '/' && err != EINVAL && err != E2BIG)
		TEST_ASSERT(!strncmp(cowvm_error(vm), path, strlen(path)),
			    "'%s' does not name %s", cowvm_error(vm), path);
	TEST_ASSERT_EQ(cowvm_run(vm, &e), -EINVAL, "a failed load runs");
	cowvm_destroy(vm);
	return NULL;
}

/* Read a 64-bit word of guest memory. */
static uint64_t rd64(struct cowvm *vm, uint64_t gpa)
{
	uint64_t v;

	TEST_OK(cowvm_read(vm, gpa, &v, sizeof(v)));
	return v;
}

/* Read a NUL-terminated guest string into buf (PATH_MAX bytes). */
static char *rdstr(struct cowvm *vm, uint64_t gpa, char *buf)
{
	for (size_t i = 0; i < PATH_MAX; i++) {
		TEST_OK(cowvm_read(vm, gpa + i, buf + i, 1));
		if (!buf[i])
			return buf;
	}
	TEST_ASSERT(0, "unterminated string at 0x%llx",
		    (unsigned long long)gpa);
	return NULL;
}

/* The ELF header and program header i of the image at elf. */
static const Elf64_Ehdr *ehdr(const uint8_t *elf)
{
	return (const Elf64_Ehdr *)elf;
}

static Elf64_Phdr *phdr(uint8_t *elf, unsigned i)
{
	return (Elf64_Phdr *)(elf + ehdr(elf)->e_phoff +
			      i * sizeof(Elf64_Phdr));
}

/* The AT_PHDR Linux would give the image at elf loaded at bias. */
static uint64_t expect_phdr(uint8_t *elf, uint64_t bias)
{
	const Elf64_Ehdr *h = ehdr(elf);

	for (unsigned i = 0; i < h->e_phnum; i++)
		if (phdr(elf, i)->p_type == PT_PHDR)
			return bias + phdr(elf, i)->p_vaddr;
	for (unsigned i = 0; i < h->e_phnum; i++) {
		Elf64_Phdr *p = phdr(elf, i);

		if (p->p_type == PT_LOAD && h->e_phoff >= p->p_offset &&
		    h->e_phoff - p->p_offset < p->p_filesz)
			return bias + p->p_vaddr + h->e_phoff - p->p_offset;
	}
	return 0;
}

/* Patch one copy of prog and expect its load to fail with err and msg. */
static void bad_patch(const char *name, void (*patch)(uint8_t *, size_t *),
		      uint64_t mem, int err, const char *msg)
{
	size_t len;
	uint8_t *elf = slurp(prog, &len);

	patch(elf, &len);
	load(mem, NULL, spill(name, elf, len), err, msg);
	free(elf);
}

static void p_class32(uint8_t *e, size_t *n)
{
	(void)n;
	e[EI_CLASS] = ELFCLASS32;
}

static void p_machine(uint8_t *e, size_t *n)
{
	(void)n;
	((Elf64_Ehdr *)e)->e_machine = EM_AARCH64;
}

static void p_rel(uint8_t *e, size_t *n)
{
	(void)n;
	((Elf64_Ehdr *)e)->e_type = ET_REL;
}

static void p_core(uint8_t *e, size_t *n)
{
	(void)n;
	((Elf64_Ehdr *)e)->e_type = ET_CORE;
}

static void p_magic(uint8_t *e, size_t *n)
{
	(void)n;
	memcpy(e, "#!/bin/sh\n", 10);
}

static void p_truncate(uint8_t *e, size_t *n)
{
	(void)e;
	*n /= 2;
}

/* The first PT_LOAD of e (there is one). */
static Elf64_Phdr *first_load(uint8_t *e)
{
	for (unsigned i = 0; i < ehdr(e)->e_phnum; i++)
		if (phdr(e, i)->p_type == PT_LOAD)
			return phdr(e, i);
	TEST_ASSERT(0, "no PT_LOAD");
	return NULL;
}

static void p_low(uint8_t *e, size_t *n)
{
	Elf64_Phdr *p = first_load(e);

	(void)n;
	p->p_vaddr = 0x100000 + p->p_vaddr % 4096;
}

static void p_huge(uint8_t *e, size_t *n)
{
	(void)n;
	first_load(e)->p_memsz = 1ull << 30;
}

/* A PT_NOTE (or else the last header) turned into PT_INTERP. */
static void p_interp(uint8_t *e, size_t *n)
{
	unsigned k = ehdr(e)->e_phnum - 1;

	(void)n;
	for (unsigned i = 0; i < ehdr(e)->e_phnum; i++)
		if (phdr(e, i)->p_type == PT_NOTE)
			k = i;
	phdr(e, k)->p_type = PT_INTERP;
}

/* Whether path is an x86-64 ELF with a PT_INTERP (a dynamic program). */
static bool has_interp(const char *path)
{
	size_t len;
	uint8_t *e;
	bool found = false;

	if (access(path, R_OK))
		return false;
	e = slurp(path, &len);
	if (len >= sizeof(Elf64_Ehdr) && !memcmp(e, ELFMAG, SELFMAG) &&
	    ehdr(e)->e_machine == EM_X86_64 &&
	    ehdr(e)->e_phoff + ehdr(e)->e_phnum * sizeof(Elf64_Phdr) <= len)
		for (unsigned i = 0; i < ehdr(e)->e_phnum; i++)
			found |= phdr(e, i)->p_type == PT_INTERP;
	free(e);
	return found;
}

/* Every refusal: -ENOEXEC (or another errno) and its one line. */
static void test_bad_elfs(void)
{
	char big[300 << 10];
	const char *argv[] = {"p", big, NULL};
	struct cowvm_linux lx = {.argv = argv};

	bad_patch("magic", p_magic, 64 * MIB, ENOEXEC, "not an ELF executable");
	bad_patch("class32", p_class32, 64 * MIB, ENOEXEC,
		  "32-bit ELF: only x86-64 executables run");
	bad_patch("machine", p_machine, 64 * MIB, ENOEXEC,
		  "ELF for machine 183, not x86-64");
	bad_patch("rel", p_rel, 64 * MIB, ENOEXEC, "ET_REL");
	bad_patch("core", p_core, 64 * MIB, ENOEXEC, "ET_CORE");
	bad_patch("trunc", p_truncate, 64 * MIB, ENOEXEC,
		  "truncated (segment ");
	bad_patch("interp", p_interp, 64 * MIB, ENOEXEC,
		  "dynamically linked: build it with -static");
	bad_patch("low", p_low, 64 * MIB, ENOEXEC,
		  "overlaps the cowvm kernel [0, 2 MiB)");
	bad_patch("huge", p_huge, 64 * MIB, ENOEXEC,
		  "lies outside guest RAM (64 MiB)");
	if (has_interp("/bin/true"))
		load(64 * MIB, NULL, "/bin/true", ENOEXEC,
		     "dynamically linked");
	load(64 * MIB, NULL, "/nonexistent/prog", ENOENT,
	     "No such file or directory");
	load(64 * MIB, NULL, tmpdir, EACCES, "is a directory");
	load(16 * MIB, NULL, prog, E2BIG,
	     "does not fit in 16 MiB of guest RAM");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	load(64 * MIB, &lx, prog, E2BIG, "arguments and environment");
}

/* Bad file trees: -EINVAL (relative, "..", a path named twice), -ENOENT. */
static void test_bad_files(void)
{
	struct cowvm_linux_path rel[] = {{prog, "bin/p"}};
	struct cowvm_linux_path dots[] = {{prog, "/a/../b"}};
	struct cowvm_linux_path twice[] = {{prog, "/x"}, {tmpdir, "/x"}};
	struct cowvm_linux_path gone[] = {{"/nonexistent", "/x"}};
	struct cowvm_linux lx = {.files = rel, .nr_files = 1};

	load(64 * MIB, &lx, prog, EINVAL, "not absolute");
	lx.files = dots;
	load(64 * MIB, &lx, prog, EINVAL, "'..'");
	lx.files = twice;
	lx.nr_files = 2;
	load(64 * MIB, &lx, prog, EINVAL, "/x named twice");
	lx.files = gone;
	lx.nr_files = 1;
	load(64 * MIB, &lx, prog, ENOENT, "/nonexistent");
}

/* The boot block's fields and the NULL guard. */
static void check_boot(struct cowvm *vm, const struct cowvm_linux_boot *b,
		       uint64_t mem, uint64_t entry, unsigned flags)
{
	struct timespec now;
	uint64_t now_ns;

	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	TEST_ASSERT_EQ(b->magic, COWVM_LINUX_MAGIC);
	TEST_ASSERT_EQ(b->version, COWVM_LINUX_VERSION);
	TEST_ASSERT_EQ(b->flags, flags);
	TEST_ASSERT_EQ(b->entry, entry);
	TEST_ASSERT_EQ(b->stack_top,
		       mem < COWVM_LOW_MEM_MAX ? mem : COWVM_LOW_MEM_MAX);
	TEST_ASSERT_EQ(b->stack_lo, b->stack_top - COWVM_LINUX_STACK_SIZE);
	TEST_ASSERT_EQ(b->rsp % 16, 0);
	TEST_ASSERT(b->rsp > b->stack_lo && b->rsp < b->stack_top, "rsp");
	TEST_ASSERT_EQ(b->files, b->files_lo);
	TEST_ASSERT_EQ(b->files_lo % 4096, 0);
	TEST_ASSERT_EQ(b->brk_start % 4096, 0);
	TEST_ASSERT_LE(b->brk_start + (16 << 20), b->files_lo);
	TEST_ASSERT_EQ(b->uid, getuid());
	TEST_ASSERT_EQ(b->gid, getgid());
	TEST_ASSERT_EQ(b->pid, 1);
	TEST_ASSERT(b->realtime_ns + 60000000000ull > now_ns &&
			    b->realtime_ns <= now_ns,
		    "realtime_ns %llu, now %llu",
		    (unsigned long long)b->realtime_ns,
		    (unsigned long long)now_ns);
	TEST_ASSERT_EQ(rd64(vm, COWVM_LINUX_PT0), 0, "page 0 is mapped");
	/* present, writable, user; accessed and dirty set ahead (0x60) */
	TEST_ASSERT_EQ(rd64(vm, COWVM_LINUX_PT0 + 8), 0x1000 | 0x67);
	TEST_ASSERT_EQ(rd64(vm, COWVM_LINUX_PT0 + 511 * 8), 0x1ff000 | 0x67);
	TEST_ASSERT_EQ(rd64(vm, 0x12000), COWVM_LINUX_PT0 | 0x67, "boot PD[0]");
}

/* The auxv entries at gpa checked against the image elf (at bias). */
static void check_auxv(struct cowvm *vm, uint64_t at, uint8_t *elf,
		       uint64_t bias, const char *exe, uint64_t top)
{
	char s[PATH_MAX];
	unsigned seen = 0;
	uint64_t t;

	for (; (t = rd64(vm, at)) != AT_NULL; at += 16) {
		uint64_t v = rd64(vm, at + 8);

		seen |= t < 32 ? 1u << t : 0;
		if (t == AT_PHDR)
			TEST_ASSERT_EQ(v, expect_phdr(elf, bias));
		if (t == AT_PHNUM)
			TEST_ASSERT_EQ(v, (uint64_t)ehdr(elf)->e_phnum);
		if (t == AT_PHENT)
			TEST_ASSERT_EQ(v, sizeof(Elf64_Phdr));
		if (t == AT_ENTRY)
			TEST_ASSERT_EQ(v, bias + ehdr(elf)->e_entry);
		if (t == AT_PAGESZ)
			TEST_ASSERT_EQ(v, 4096);
		if (t == AT_HWCAP2)
			TEST_ASSERT_EQ(v, 2);
		if (t == AT_UID)
			TEST_ASSERT_EQ(v, getuid());
		if (t == AT_RANDOM)
			TEST_ASSERT(v > at && v + 16 <= top, "AT_RANDOM 0x%llx",
				    (unsigned long long)v);
		if (t == AT_EXECFN)
			TEST_ASSERT(!strcmp(rdstr(vm, v, s), exe), "%s", s);
		if (t == AT_PLATFORM)
			TEST_ASSERT(!strcmp(rdstr(vm, v, s), "x86_64"), "%s",
				    s);
	}
	TEST_ASSERT_EQ(
		seen,
		1u << AT_PHDR | 1u << AT_PHENT | 1u << AT_PHNUM |
			1u << AT_PAGESZ | 1u << AT_BASE | 1u << AT_FLAGS |
			1u << AT_ENTRY | 1u << AT_UID | 1u << AT_EUID |
			1u << AT_GID | 1u << AT_EGID | 1u << AT_SECURE |
			1u << AT_RANDOM | 1u << AT_HWCAP | 1u << AT_HWCAP2 |
			1u << AT_CLKTCK | 1u << AT_PLATFORM | 1u << AT_EXECFN,
		"auxv types");
}

/* argc, argv and envp at rsp, then the auxv. */
static void check_stack(struct cowvm *vm, const struct cowvm_linux_boot *b,
			const char *const *argv, const char *const *envp,
			uint8_t *elf, uint64_t bias, const char *exe)
{
	uint64_t at = b->rsp;
	char s[PATH_MAX];
	size_t argc = 0;

	while (argv[argc])
		argc++;
	TEST_ASSERT_EQ(rd64(vm, at), argc);
	for (size_t i = 0; i < argc; i++) {
		at += 8;
		TEST_ASSERT(!strcmp(rdstr(vm, rd64(vm, at), s), argv[i]),
			    "argv[%zu] '%s'", i, s);
	}
	TEST_ASSERT_EQ(rd64(vm, at += 8), 0, "argv NULL");
	for (size_t i = 0; envp[i]; i++)
		TEST_ASSERT(!strcmp(rdstr(vm, rd64(vm, at += 8), s), envp[i]),
			    "envp[%zu] '%s'", i, s);
	TEST_ASSERT_EQ(rd64(vm, at += 8), 0, "envp NULL");
	check_auxv(vm, at + 8, elf, bias, exe, b->stack_top);
}

/* The file table: sorted, every parent listed, the program's bytes. */
static void check_files(struct cowvm *vm, const struct cowvm_linux_boot *b,
			const char *exe, const uint8_t *elf, size_t len,
			const char *const *want, unsigned nwant)
{
	char prev[PATH_MAX] = "", s[PATH_MAX];
	unsigned found = 0;
	bool exe_seen = false;

	TEST_ASSERT(!strcmp(rdstr(vm, b->exe, s), exe), "exe '%s'", s);
	for (uint32_t i = 0; i < b->nr_files; i++) {
		struct cowvm_linux_file f;

		TEST_OK(cowvm_read(vm, b->files + i * sizeof(f), &f,
				   sizeof(f)));
		rdstr(vm, f.path, s);
		TEST_ASSERT(i == 0 ? !strcmp(s, "/") : strcmp(prev, s) < 0,
			    "'%s' after '%s'", s, prev);
		TEST_ASSERT(S_ISDIR(f.mode) || S_ISREG(f.mode), "%s mode 0%o",
			    s, f.mode);
		TEST_ASSERT(f.mtime != 0, "%s has no mtime", s);
		TEST_ASSERT(f.data % 4096 == 0 &&
				    (!f.size || f.data >= b->files_lo),
			    "%s data 0x%llx", s, (unsigned long long)f.data);
		TEST_ASSERT_LE(f.data + f.size, b->stack_lo);
		for (unsigned k = 0; k < nwant; k++)
			found += !strcmp(s, want[k]);
		if (!strcmp(s, exe)) {
			uint8_t *copy = malloc(f.size);
			struct stat hst;

			TEST_OK(stat(exe, &hst));
			TEST_ASSERT_EQ(f.mode, (uint32_t)hst.st_mode);
			TEST_ASSERT_EQ(f.mtime, (uint32_t)hst.st_mtime);

			exe_seen = true;
			TEST_ASSERT_EQ(f.size, len);
			TEST_OK(cowvm_read(vm, f.data, copy, f.size));
			TEST_ASSERT(!memcmp(copy, elf, len), "program bytes");
			free(copy);
		}
		snprintf(prev, sizeof(prev), "%s", s);
	}
	TEST_ASSERT(exe_seen, "%s not in the tree", exe);
	TEST_ASSERT_EQ(found, nwant, "expected paths in the tree");
}

/* The first PT_LOAD's bytes in guest RAM equal the file's. */
static void check_segment(struct cowvm *vm, uint8_t *elf, uint64_t bias)
{
	Elf64_Phdr *p = first_load(elf);
	uint8_t *copy = malloc(p->p_filesz);

	TEST_OK(cowvm_read(vm, bias + p->p_vaddr, copy, p->p_filesz));
	TEST_ASSERT(!memcmp(copy, elf + p->p_offset, p->p_filesz),
		    "segment bytes");
	free(copy);
}

/* Load path with arguments, environment and files and check it all. */
static void test_good(const char *path, uint64_t bias, uint64_t mem)
{
	const char *argv[] = {"prog", "a", "", "b c", NULL};
	const char *envp[] = {"K=V", "PATH=/bin", NULL};
	char sub[PATH_MAX], exe[PATH_MAX];
	const char *file = spill("data.txt", "hello\n", 6);
	struct cowvm_linux_path files[] = {{file, "/etc/data.txt"},
					   {sub, "/srv/tree"}};
	const char *want[] = {
		"/etc",	     "/etc/data.txt",	"/srv",
		"/srv/tree", "/srv/tree/inner", "/srv/tree/inner/x"};
	struct cowvm_linux lx = {.argv = argv,
				 .envp = envp,
				 .files = files,
				 .nr_files = 2,
				 .flags = COWVM_LINUX_STRACE};
	struct cowvm_linux_boot b;
	struct cowvm *vm;
	size_t len;
	uint8_t *elf = slurp(path, &len);

	snprintf(sub, sizeof(sub), "%s/tree/inner", tmpdir);
	TEST_ASSERT(!mkdir(sub, 0755) || errno == EEXIST, "mkdir");
	spill("tree/inner/x", "x", 1);
	snprintf(sub, sizeof(sub), "%s/tree", tmpdir);
	TEST_ASSERT(realpath(path, exe), "realpath %s", path);
	vm = load(mem, &lx, path, 0, NULL);
	TEST_OK(cowvm_read(vm, COWVM_LINUX_BOOT, &b, sizeof(b)));
	check_boot(vm, &b, mem, bias + ehdr(elf)->e_entry, lx.flags);
	check_stack(vm, &b, argv, envp, elf, bias, exe);
	check_files(vm, &b, exe, elf, len, want, 6);
	check_segment(vm, elf, bias);
	TEST_ASSERT_EQ(cowvm_load_linux(vm, &lx), -EBUSY, "loaded twice");
	TEST_OK(cowvm_set_stdio(vm, -1, 1, 2));
	TEST_ASSERT_EQ(cowvm_set_stdio(vm, -2, 1, 2), -EBADF);
	cowvm_destroy(vm);
	free(elf);
}

int main(int argc, char **argv)
{
	char sub[PATH_MAX];

	if (argc != 4) {
		fprintf(stderr, "usage: %s KERNEL.elf PROG PIE_PROG\n",
			argv[0]);
		return 2;
	}
	test_require_kvm();
	kernel = argv[1];
	prog = argv[2];
	pie = argv[3];
	TEST_ASSERT(mkdtemp(tmpdir), "mkdtemp");
	snprintf(sub, sizeof(sub), "%s/tree", tmpdir);
	TEST_ASSERT(!mkdir(sub, 0755), "mkdir %s", sub);
	test_bad_elfs();
	test_bad_files();
	test_good(prog, 0, 64 * MIB);
	test_good(pie, COWVM_LINUX_PIE_BASE, 256 * MIB);
	test_good(prog, 0, 4096 * MIB);
	snprintf(sub, sizeof(sub), "rm -rf '%s'", tmpdir);
	TEST_ASSERT_EQ(system(sub), 0, "%s", sub);
	printf("linux load: ok\n");
	return 0;
}
