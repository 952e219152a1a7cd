/* The cowvm command: exit statuses, one stderr line per failure, bad ELF
 * files and option values, never a crash. */
#include <elf.h>
#include <stddef.h>
#include <sys/stat.h>

#include "vmm_util.h"

static char *cowvm;
static char dir[] = "/tmp/cowvm-test-cmd-XXXXXX";

/* Run cowvm with up to 8 arguments (NULL-terminated list). */
static struct cmd_result run(const char *a0, const char *a1, const char *a2,
			     const char *a3, const char *a4, const char *a5)
{
	char *argv[] = {cowvm,	    (char *)a0, (char *)a1, (char *)a2,
			(char *)a3, (char *)a4, (char *)a5, NULL};

	return test_cmd(argv);
}

/* Check a failed run: status, one "cowvm: " stderr line containing want. */
static void expect_fail(const struct cmd_result *r, int status,
			const char *want, const char *what)
{
	TEST_ASSERT_EQ(r->signal, 0, "%s: killed by a signal", what);
	TEST_ASSERT_EQ(r->status, status, "%s: exit status; stderr: %s", what,
		       r->err);
	TEST_ASSERT_EQ(r->err_lines, 1,
		       "%s: expected one 'cowvm: ' stderr line, got:\n%s", what,
		       r->err);
	TEST_ASSERT(!strncmp(r->err, "cowvm: ", 7),
		    "%s: expected one 'cowvm: ' stderr line, got:\n%s", what,
		    r->err);
	TEST_ASSERT(strstr(r->err, want), "%s: stderr '%s' lacks '%s'", what,
		    r->err, want);
}

/* Write len bytes of data to a new file dir/name; returns its path. */
static char *put_file(const char *name, const void *data, size_t len)
{
	char *path;
	int fd;

	TEST_ASSERT_GT(asprintf(&path, "%s/%s", dir, name), 0, "asprintf");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	TEST_ASSERT_GE(fd, 0, "%s", path);
	TEST_ASSERT_EQ(write(fd, data, len), (ssize_t)len, "%s", path);
	close(fd);
	return path;
}

/* Read all of path; *len gets its size. */
static uint8_t *get_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;

	TEST_ASSERT_GE(fd, 0, "%s", path);
	TEST_ASSERT_EQ(fstat(fd, &st), 0, "%s", path);
	buf = malloc((size_t)st.st_size);
	TEST_ASSERT(buf, "read %s", path);
	TEST_ASSERT_EQ(read(fd, buf, (size_t)st.st_size), st.st_size, "read %s",
		       path);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Absurd --mem and --timeout values and usage errors: status 120. */
static void test_usage(const char *elf)
{
	static const char *const mems[] = {
		"0",
		"1K",
		"3M",
		"65G",
		"abc",
		"-5M",
		"4097",
		"12X",
		"99999999999G",
		"",
		"4M5",
		"0x10M",
		"4194305",
		"18446744073709551616", /* 2^64 */
		"17179869185G",		/* (2^34 + 1) GiB wraps to 1 GiB */
	};
	static const char *const timeouts[] = {"-1", "abc", "nan", "inf", ""};
	struct cmd_result r;

	for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++) {
		r = run("run", "--mem", mems[i], elf, NULL, NULL);
		expect_fail(&r, 120, "--mem", mems[i]);
	}
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		r = run("run", "--timeout", timeouts[i], elf, NULL, NULL);
		expect_fail(&r, 120, "--timeout", timeouts[i]);
	}
	r = run(NULL, NULL, NULL, NULL, NULL, NULL);
	expect_fail(&r, 120, "missing command", "no arguments");
	r = run("run", NULL, NULL, NULL, NULL, NULL);
	expect_fail(&r, 120, "missing GUEST.elf", "run alone");
	r = run("run", "--mem", NULL, NULL, NULL, NULL);
	expect_fail(&r, 120, "needs a value", "--mem without value");
	r = run("run", "--frob", elf, NULL, NULL, NULL);
	expect_fail(&r, 120, "unknown option", "--frob");
	r = run("run", elf, "s", NULL, NULL, NULL);
	expect_fail(&r, 120, "after --", "argument without --");
	r = run("fly", NULL, NULL, NULL, NULL, NULL);
	expect_fail(&r, 120, "unknown command", "fly");

	r = run("--help", NULL, NULL, NULL, NULL, NULL);
	TEST_ASSERT_EQ(r.status, 0, "--help");
	TEST_ASSERT(strstr(r.out, "usage: cowvm run"), "--help");
	for (int code = 120; code <= 125; code++) {
		char s[8];

		snprintf(s, sizeof(s), "%d ", code);
		TEST_ASSERT(strstr(r.out, s), "--help documents %d", code);
	}
	{
		/* Each command's own --help: status 0 and its options. */
		static const char *const subs[][2] = {
			{"fuzz", "--reproduce FILE"},
			{"exec", "--snapshot-at stdin"},
			{"serve", "--mode"},
			{"run", "--timeout SECONDS"},
		};

		for (unsigned i = 0; i < 4; i++) {
			r = run(subs[i][0], "--help", NULL, NULL, NULL, NULL);
			TEST_ASSERT_EQ(r.status, 0, "%s --help", subs[i][0]);
			TEST_ASSERT(strstr(r.out, subs[i][1]),
				    "%s --help lacks '%s'", subs[i][0],
				    subs[i][1]);
		}
	}
	r = run("--version", NULL, NULL, NULL, NULL, NULL);
	TEST_ASSERT_EQ(r.status, 0, "--version");
	TEST_ASSERT(!strncmp(r.out, "cowvm ", 6), "--version");
}

/* A minimal valid ELF32 i386 executable header with one PT_LOAD. */
static void test_elf32(void)
{
	struct {
		Elf32_Ehdr e;
		Elf32_Phdr p;
	} f = {0};
	struct cmd_result r;
	char *path;

	memcpy(f.e.e_ident, ELFMAG, SELFMAG);
	f.e.e_ident[EI_CLASS] = ELFCLASS32;
	f.e.e_ident[EI_DATA] = ELFDATA2LSB;
	f.e.e_ident[EI_VERSION] = EV_CURRENT;
	f.e.e_type = ET_EXEC;
	f.e.e_machine = EM_386;
	f.e.e_version = EV_CURRENT;
	f.e.e_entry = 0x100000;
	f.e.e_phoff = sizeof(f.e);
	f.e.e_ehsize = sizeof(f.e);
	f.e.e_phentsize = sizeof(f.p);
	f.e.e_phnum = 1;
	f.p.p_type = PT_LOAD;
	f.p.p_paddr = f.p.p_vaddr = 0x100000;
	f.p.p_filesz = f.p.p_memsz = sizeof(f);
	f.p.p_flags = PF_R | PF_X;
	path = put_file("elf32", &f, sizeof(f));
	r = run("run", path, NULL, NULL, NULL, NULL);
	expect_fail(&r, 121, "32-bit ELF", "ELF32");
	free(path);
}

/* Copy elf with its first PT_LOAD (or header) changed by patch. */
static char *patched(const char *elf, const char *name,
		     void (*patch)(Elf64_Ehdr *, Elf64_Phdr *))
{
	size_t len;
	uint8_t *buf = get_file(elf, &len);
	Elf64_Ehdr *e = (Elf64_Ehdr *)buf;
	Elf64_Phdr *p = (Elf64_Phdr *)(buf + e->e_phoff);
	char *path;

	while (p->p_type != PT_LOAD)
		p++;
	patch(e, p);
	path = put_file(name, buf, len);
	free(buf);
	return path;
}

/* Patch: move the segment (and entry) to 256 MiB, beyond 64 MiB of RAM. */
static void beyond_ram(Elf64_Ehdr *e, Elf64_Phdr *p)
{
	e->e_entry += 0x10000000 - p->p_paddr;
	p->p_paddr = 0x10000000; /* 256 MiB, RAM is 64 MiB */
}

/* Patch: move the segment (and entry) below COWVM_LOAD_MIN. */
static void below_load_min(Elf64_Ehdr *e, Elf64_Phdr *p)
{
	e->e_entry -= p->p_paddr - 0x80000;
	p->p_paddr = 0x80000;
}

/* Patch: a memory size that wraps around the address space. */
static void wrapping(Elf64_Ehdr *e, Elf64_Phdr *p)
{
	(void)e;
	p->p_memsz = ~0ull - 0x1000;
}

/* Patch: file size larger than memory size. */
static void filesz_over_memsz(Elf64_Ehdr *e, Elf64_Phdr *p)
{
	(void)e;
	p->p_filesz = p->p_memsz + 1;
}

/* Patch: segment data far beyond the end of the file. */
static void offset_beyond_file(Elf64_Ehdr *e, Elf64_Phdr *p)
{
	(void)e;
	p->p_offset = 1ull << 40;
}

/* Patch: entry point outside every loaded segment. */
static void entry_outside(Elf64_Ehdr *e, Elf64_Phdr *p)
{
	(void)p;
	e->e_entry = 0x2000000;
}

/* Patch: an AArch64 machine type. */
static void wrong_machine(Elf64_Ehdr *e, Elf64_Phdr *p)
{
	(void)p;
	e->e_machine = EM_AARCH64;
}

/* Patch: a shared object (ET_DYN) instead of ET_EXEC. */
static void not_exec(Elf64_Ehdr *e, Elf64_Phdr *p)
{
	(void)p;
	e->e_type = ET_DYN;
}

/* Bad ELF files derived from elf: status 121 and a precise message. */
static void test_bad_elf(const char *elf)
{
	static const struct {
		const char *name;
		void (*patch)(Elf64_Ehdr *, Elf64_Phdr *);
		const char *want;
	} cases[] = {
		{"beyond-ram", beyond_ram,
		 "outside guest memory at 0x10000000"},
		{"below-load-min", below_load_min,
		 "outside guest memory at 0x80000"},
		{"wrapping", wrapping, "outside guest memory"},
		{"filesz", filesz_over_memsz, "exceeds memory size"},
		{"offset", offset_beyond_file, "truncated"},
		{"entry", entry_outside, "entry point 0x2000000"},
		{"machine", wrong_machine, "wrong machine"},
		{"dyn", not_exec, "not an executable"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = patched(elf, cases[i].name, cases[i].patch);
		struct cmd_result r = run("run", path, NULL, NULL, NULL, NULL);

		expect_fail(&r, 121, cases[i].want, cases[i].name);
		free(path);
	}
}

/* Prefixes of elf: each cut gives 121 "not an ELF" or "truncated". */
static void test_truncated(const char *elf)
{
	size_t len, cuts[4];
	uint8_t *buf = get_file(elf, &len);
	Elf64_Ehdr *e = (Elf64_Ehdr *)buf;
	Elf64_Phdr *p = (Elf64_Phdr *)(buf + e->e_phoff);
	const char *wants[] = {"not an ELF", "truncated", "truncated",
			       "truncated"};

	while (p->p_type != PT_LOAD)
		p++;
	cuts[0] = 3;
	cuts[1] = 40;
	cuts[2] = e->e_phoff + 10;
	cuts[3] = p->p_offset + p->p_filesz / 2;
	for (int i = 0; i < 4; i++) {
		char *path = put_file("prefix", buf, cuts[i]);
		struct cmd_result r = run("run", path, NULL, NULL, NULL, NULL);
		char what[64];

		snprintf(what, sizeof(what), "%s cut at %zu", elf, cuts[i]);
		expect_fail(&r, 121, wants[i], what);
		free(path);
	}
	free(buf);
}

/* Files that are not ELF kernels at all. */
static void test_not_elf(void)
{
	char *text = put_file("text", "hello world\n", 12);
	struct cmd_result r;

	r = run("run", text, NULL, NULL, NULL, NULL);
	expect_fail(&r, 121, "not an ELF", "text file");
	r = run("run", "/nonexistent/guest.elf", NULL, NULL, NULL, NULL);
	expect_fail(&r, 121, "No such file", "missing file");
	r = run("run", dir, NULL, NULL, NULL, NULL);
	expect_fail(&r, 121, "not a regular file", "directory");
	free(text);
}

/* Remove the files this test wrote and its directory. */
static void cleanup(void)
{
	static const char *const names[] = {
		"elf32",	  "text",     "prefix", "beyond-ram",
		"below-load-min", "wrapping", "filesz", "offset",
		"entry",	  "machine",  "dyn",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[128];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	TEST_ASSERT_EQ(rmdir(dir), 0, "rmdir %s", dir);
}

/* Outcomes of the probe guest through the command. */
static void test_probe_outcomes(const char *probe)
{
	struct cmd_result r;
	double t0;

	r = run("run", probe, "--", "s", NULL, NULL);
	TEST_ASSERT_EQ(r.status, 7, "guest status 7: stderr %s", r.err);
	TEST_ASSERT(!r.err[0], "guest status 7: %d %s", r.status, r.err);
	r = run("run", probe, "--", "X", NULL, NULL);
	expect_fail(&r, 125, "outside 0..119", "status 200");
	r = run("run", probe, "--", "f", NULL, NULL);
	expect_fail(&r, 122, "guest fault: vector 14 (#PF)", "fault");
	r = run("run", probe, "--", "b", NULL, NULL);
	expect_fail(&r, 124, "bad hypercall 1 argument", "bad PUTS");
	r = run("run", probe, "--", "t", NULL, NULL);
	expect_fail(&r, 124, "triple fault", "triple fault");
	r = run("run", "--mem", "5G", probe, "--", "m");
	expect_fail(&r, 124, "0xd0000000", "mmio");
	r = run("run", probe, "--", "h", "a", "b");
	TEST_ASSERT_EQ(r.status, 42, "cmdline words joined: '%s'", r.out);
	TEST_ASSERT(!strcmp(r.out, "h a b"), "cmdline words joined: %d '%s'",
		    r.status, r.out);
	t0 = test_now();
	r = run("run", "--timeout", "1", probe, "--", "l");
	t0 = test_now() - t0;
	expect_fail(&r, 123, "timeout after 1 s", "timeout");
	TEST_ASSERT(t0 >= 1.0 && t0 < 4.0, "timeout took %.3f s", t0);
}

/* Outcomes of the real guest through the command. */
static void test_guest_outcomes(const char *guest)
{
	struct cmd_result r;

	r = run("run", guest, "--", "selftest", NULL, NULL);
	TEST_ASSERT_EQ(r.status, 0, "selftest: %s", r.err);
	TEST_ASSERT(strstr(r.out, "selftest: PASS\n"), "selftest: %d %s",
		    r.status, r.err);
	r = run("run", guest, "--", "exit", "7", NULL);
	TEST_ASSERT_EQ(r.status, 7, "exit 7");
	TEST_ASSERT(!r.err[0], "exit 7: %d", r.status);
	r = run("run", guest, "--", "exit", "200", NULL);
	expect_fail(&r, 125, "status 200", "exit 200");
	r = run("run", guest, "--", "fault", "ud", NULL);
	expect_fail(&r, 122, "vector 6 (#UD)", "fault ud");
	r = run("run", guest, "--", "badcall", NULL, NULL);
	expect_fail(&r, 124, "bad hypercall 1 argument", "badcall");
	r = run("run", "--timeout", "1", guest, "--", "spin");
	expect_fail(&r, 123, "timeout after 1 s", "spin");
}

/* Run the command checks: argv = COWVM PROBE.elf [GUEST.elf]. */
int main(int argc, char **argv)
{
	TEST_ASSERT(argc == 3 || argc == 4,
		    "usage: test-vmm-cmd COWVM PROBE.elf [GUEST.elf]");
	cowvm = argv[1];
	test_require_kvm();
	TEST_ASSERT(mkdtemp(dir), "mkdtemp");
	test_usage(argv[2]);
	test_not_elf();
	test_elf32();
	for (int i = 2; i < argc; i++) {
		test_bad_elf(argv[i]);
		test_truncated(argv[i]);
	}
	test_probe_outcomes(argv[2]);
	if (argc == 4)
		test_guest_outcomes(argv[3]);
	cleanup();
	printf("test-vmm-cmd: PASS\n");
	return 0;
}
