/* The library API without running guest code: configuration checks, the
 * bounds of host access to guest memory, ELF loading into RAM, errors. */
#include <elf.h>
#include <sys/stat.h>

#include "vmm_util.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* Invalid configurations fail with EINVAL and a message. */
static void test_bad_config(void)
{
	static const uint64_t mems[] = {
		0,     COWVM_MEM_MIN - 4096, COWVM_MEM_MAX + 4096, 64 * MIB + 1,
		~0ull,
	};
	struct cowvm_config cfg;

	for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++) {
		cowvm_config_init(&cfg);
		cfg.mem_size = mems[i];
		errno = 0;
		TEST_ASSERT(!cowvm_create(&cfg), "mem %llu accepted",
			    (unsigned long long)mems[i]);
		TEST_ASSERT_EQ(errno, EINVAL, "mem %llu accepted",
			       (unsigned long long)mems[i]);
		TEST_ASSERT(strstr(cowvm_error(NULL), "memory size"), "%s",
			    cowvm_error(NULL));
	}
	cowvm_config_init(&cfg);
	cfg.vcpus = 2;
	TEST_ASSERT(!cowvm_create(&cfg), "2 vCPUs");
	TEST_ASSERT_EQ(errno, EINVAL, "2 vCPUs");
	cowvm_destroy(NULL);
}

/* Whether cowvm_read of [gpa, gpa + len) succeeds (and write agrees). */
static int readable(struct cowvm *vm, uint64_t gpa, size_t len)
{
	static uint8_t buf[64];
	int r = cowvm_read(vm, gpa, buf, len);
	int w = cowvm_write(vm, gpa, buf, len);

	TEST_ASSERT_EQ(r, w, "read and write results");
	TEST_ASSERT(r == 0 || r == -EFAULT, "read %d write %d", r, w);
	return r == 0;
}

/* Host access stops exactly at the edges of RAM, overflow included. */
static void test_bounds(void)
{
	struct cowvm *vm = tvm_create(64 * MIB);
	uint64_t v = 0x1122334455667788ull, back = 0;

	TEST_ASSERT(readable(vm, 0, 8), "start of RAM");
	TEST_ASSERT(readable(vm, 64 * MIB - 8, 8), "end of RAM");
	TEST_ASSERT(!readable(vm, 64 * MIB - 7, 8), "straddles the end");
	TEST_ASSERT(!readable(vm, 64 * MIB, 1), "just beyond");
	TEST_ASSERT(!readable(vm, ~0ull - 3, 8), "wraps around");
	TEST_ASSERT_EQ(cowvm_read(vm, 8, &back, (size_t)-8), -EFAULT,
		       "huge len");
	TEST_OK(cowvm_write(vm, 0x123458, &v, 8));
	TEST_OK(cowvm_read(vm, 0x123458, &back, 8));
	TEST_ASSERT_EQ(back, v, "write then read");
	cowvm_destroy(vm);

	vm = tvm_create(5 * GIB);
	TEST_ASSERT(readable(vm, 3 * GIB - 8, 8), "end of low RAM");
	TEST_ASSERT(!readable(vm, 3 * GIB - 4, 8), "into the hole");
	TEST_ASSERT(!readable(vm, 3 * GIB + 4096, 8), "in the hole");
	TEST_ASSERT(!readable(vm, 4 * GIB - 4, 8), "out of the hole");
	TEST_ASSERT(readable(vm, 4 * GIB, 8), "start of high RAM");
	TEST_ASSERT(readable(vm, 6 * GIB - 8, 8), "end of high RAM");
	TEST_ASSERT(!readable(vm, 6 * GIB - 4, 8), "beyond high RAM");
	TEST_OK(cowvm_write(vm, 5 * GIB, &v, 8));
	TEST_OK(cowvm_read(vm, 5 * GIB, &back, 8));
	TEST_ASSERT_EQ(back, v, "high RAM write then read");
	cowvm_destroy(vm);
}

/* Loading: segments copied, the memsz tail zeroed, boot data in place. */
static void test_load(const char *probe)
{
	struct cowvm *vm = tvm_create(64 * MIB);
	int fd = open(probe, O_RDONLY | O_CLOEXEC);
	struct cowvm_exit e;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint8_t junk[8192], file[4096], mem[4096];
	char big[COWVM_CMDLINE_MAX + 1];

	TEST_ASSERT_GE(fd, 0, "%s", probe);
	TEST_ASSERT_EQ(pread(fd, &eh, sizeof(eh), 0), sizeof(eh), "%s", probe);
	TEST_ASSERT_EQ(pread(fd, &ph, sizeof(ph), (off_t)eh.e_phoff),
		       sizeof(ph), "%s", probe);
	TEST_ASSERT_EQ(ph.p_type, PT_LOAD,
		       "probe's first phdr: a segment with a tail to zero");
	TEST_ASSERT_LE(ph.p_filesz, sizeof(file),
		       "probe's first phdr: a segment with a tail to zero");
	TEST_ASSERT_GT(ph.p_memsz, ph.p_filesz + 4096,
		       "probe's first phdr: a segment with a tail to zero");
	TEST_ASSERT_EQ(pread(fd, file, ph.p_filesz, (off_t)ph.p_offset),
		       (ssize_t)ph.p_filesz, "segment");
	close(fd);

	TEST_ASSERT_EQ(cowvm_run(vm, &e), -EINVAL, "run before load");
	TEST_ASSERT_EQ(cowvm_load_elf(vm, "/nonexistent", NULL), -ENOENT,
		       "missing file");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	TEST_ASSERT_EQ(cowvm_load_elf(vm, probe, big), -E2BIG, "long cmdline");
	TEST_ASSERT(strstr(cowvm_error(vm), "command line"), "%s",
		    cowvm_error(vm));

	memset(junk, 0xa5, sizeof(junk));
	TEST_OK(cowvm_write(vm, ph.p_paddr, junk, sizeof(junk)));
	TEST_OK(cowvm_load_elf(vm, probe, NULL));
	TEST_OK(cowvm_read(vm, ph.p_paddr, mem, ph.p_filesz));
	TEST_ASSERT(!memcmp(mem, file, ph.p_filesz), "segment contents");
	TEST_OK(cowvm_read(vm, ph.p_paddr + ph.p_filesz, mem,
			   sizeof(mem) - ph.p_filesz));
	for (uint64_t i = ph.p_filesz; i < sizeof(mem); i++)
		TEST_ASSERT_EQ(mem[i - ph.p_filesz], 0, "memsz tail at +%llu",
			       (unsigned long long)i);
	TEST_ASSERT_EQ(cowvm_load_elf(vm, probe, NULL), -EBUSY, "load twice");
	cowvm_destroy(vm);
}

/* Run every API check against the probe ELF given as argv[1]. */
int main(int argc, char **argv)
{
	TEST_ASSERT_EQ(argc, 2, "usage: test-vmm-api PROBE.elf");
	test_require_kvm();
	test_bad_config();
	test_bounds();
	test_load(argv[1]);
	printf("test-vmm-api: PASS\n");
	return 0;
}
