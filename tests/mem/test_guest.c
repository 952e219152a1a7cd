/* Guest writes against images, realization and reset in both modes: the
 * real guest's memtest under KVM, checked against host-computed sums. */
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <sys/mman.h>

#include "mem_util.h"
#include "pool.h"
#include "vmm.h"
#include "cowvm_workload_abi.h"

static const char *guest;

/* The n-th (1-based) output of a splitmix64 generator seeded with seed. */
static uint64_t splitmix64_nth(uint64_t seed, uint64_t n)
{
	uint64_t z = seed + n * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The line memtest prints for seed and mib (cowvm_workload_abi.h). */
static void memtest_line(uint64_t seed, uint64_t mib, char *buf, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull, bytes = mib << 20;

	for (uint64_t i = 0; i < bytes / 8; i++)
		h = (h ^ splitmix64_nth(seed, i + 1)) * 0x100000001b3ull;
	snprintf(buf, n,
		 "memtest: seed=%" PRIu64 " base=0x%" PRIx64 " bytes=%" PRIu64
		 " checksum=0x%016" PRIx64 "\n",
		 seed, (uint64_t)COWVM_MEMTEST_BASE, bytes, h);
}

/* The guest ELF's entry point. */
static uint64_t elf_entry(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *e;
	GElf_Ehdr eh;

	TEST_ASSERT_GE(fd, 0, "elf");
	TEST_ASSERT_NE(elf_version(EV_CURRENT), EV_NONE, "elf");
	e = elf_begin(fd, ELF_C_READ, NULL);
	TEST_ASSERT(e && gelf_getehdr(e, &eh), "ehdr");
	elf_end(e);
	close(fd);
	return eh.e_entry;
}

/* A VM of 64 MiB in mode with a memfd console, guest loaded with cmd. */
static struct cowvm *boot(enum cowvm_mem_mode mode, const char *cmd,
			  int *console)
{
	struct cowvm_config cfg;
	struct cowvm *vm;

	*console = memfd_create("console", MFD_CLOEXEC);
	cowvm_config_init(&cfg);
	cfg.mem_size = 64 * MiB;
	cfg.mem_mode = mode;
	cfg.console_fd = *console;
	vm = cowvm_create(&cfg);
	TEST_ASSERT(vm, "cowvm_create: %s", cowvm_error(NULL));
	TEST_OK(cowvm_load_elf(vm, guest, cmd));
	return vm;
}

/* Run vm to its exit (status 0) and count want in its console. */
static int run_expect(struct cowvm *vm, int console, const char *want)
{
	struct cowvm_exit e;
	char out[8192] = "", *p = out;
	int n = 0;
	ssize_t len;

	TEST_OK(cowvm_run(vm, &e));
	len = pread(console, out, sizeof(out) - 1, 0);
	TEST_ASSERT_EXIT_STATUS(e, 0, "console:\n%s", len > 0 ? out : "");
	while ((p = strstr(p, want))) {
		n++;
		p++;
	}
	TEST_ASSERT_GT(n, 0, "console lacks %s:\n%s", want, out);
	return n;
}

/* Pages [8 MiB, +16 MiB) of mem equal img's. */
static void expect_region(struct vmm_mem *mem, struct vmm_mem_image *img)
{
	uint8_t page[PAGE];

	for (uint64_t g = COWVM_MEMTEST_BASE; g < COWVM_MEMTEST_BASE + 16 * MiB;
	     g += PAGE) {
		TEST_OK(cow_tree_read(img->tree, g, page, PAGE));
		TEST_ASSERT(!memcmp(vmm_mem_gpa(mem, g, PAGE), page, PAGE),
			    "gpa %#llx differs from the image",
			    (unsigned long long)g);
	}
}

/* Fail unless gpa reads as zero in img. */
static void expect_image_zero(struct vmm_mem_image *img, uint64_t gpa)
{
	uint8_t page[PAGE], zero[PAGE] = {0};

	TEST_OK(cow_tree_read(img->tree, gpa, page, PAGE));
	TEST_ASSERT(!memcmp(page, zero, PAGE), "image not zero at %#llx",
		    (unsigned long long)gpa);
}

static void test_mode(enum cowvm_mem_mode mode)
{
	const char *cmd1 = "memtest seed=1 mib=16",
		   *cmd2 = "memtest seed=2 mib=16";
	struct vmm_mem_image *i0, *i1;
	struct cowvm *a, *b;
	struct vmm_mem *c;
	char line1[160], line2[160];
	int con_a, con_b, fc;
	int64_t w;
	double t0, t1, t2, t_fresh, t_cow, t_take, t_reset, t_clone;

	memtest_line(1, 16, line1, sizeof(line1));
	memtest_line(2, 16, line2, sizeof(line2));

	/* Image of a loaded VM. */
	a = boot(mode, cmd1, &con_a);
	TEST_OK(vmm_mem_image_take(a->mem, &i0));

	/* Fresh VM: the guest writes straight into its own frames; reset to
	 * i0 afterwards, nothing it wrote then counts as written. */
	b = boot(mode, cmd2, &con_b);
	t0 = test_now();
	run_expect(b, con_b, line2);
	t_fresh = test_now() - t0;
	TEST_ASSERT_EQ(vmm_mem_written(b->mem), 0, "direct mode records none");
	CHECK_MEM(b->mem, true);
	TEST_OK(vmm_mem_realize(b->mem, i0));
	TEST_ASSERT_EQ(vmm_mem_written(b->mem), 0, "written after reset");
	CHECK_MEM(b->mem, true);
	expect_region(b->mem, i0);
	cowvm_destroy(b);
	close(con_b);

	/* The guest writes copy on write. */
	t0 = test_now();
	TEST_ASSERT_EQ(run_expect(a, con_a, line1), 1, "one run");
	t_cow = test_now() - t0;
	w = vmm_mem_written(a->mem);
	TEST_ASSERT_GE(w, 4096, "%s: pages written", mt_mode_name(mode));
	TEST_ASSERT_LT(w, 4096 + 256, "%s: pages written", mt_mode_name(mode));
	CHECK_MEM(a->mem, true);
	expect_image_zero(i0, COWVM_MEMTEST_BASE);
	expect_image_zero(i0, COWVM_MEMTEST_BASE + 16 * MiB - PAGE);

	/* Fold them into i1. */
	t0 = test_now();
	TEST_OK(vmm_mem_image_take(a->mem, &i1));
	t_take = test_now() - t0;
	TEST_ASSERT_EQ(vmm_mem_written(a->mem), 0, "folded");
	CHECK_MEM(a->mem, true);
	expect_region(a->mem, i1);
	expect_image_zero(i0, COWVM_MEMTEST_BASE);

	/* Reset to i0 and run again: same result. */
	t0 = test_now();
	TEST_OK(vmm_mem_realize(a->mem, i0));
	t_reset = test_now() - t0;
	CHECK_MEM(a->mem, true);
	expect_region(a->mem, i0);
	a->state = VMM_READY;
	TEST_OK(vmm_boot_vcpu(a, elf_entry(guest)));
	TEST_ASSERT_EQ(run_expect(a, con_a, line1), 2, "second run");
	CHECK_MEM(a->mem, true);

	/* Another VM realized from i0, its command line rewritten by the
	 * host: runs seed 2 while i0 and a stay as they were. */
	b = boot(mode, cmd2, &con_b);
	TEST_OK(vmm_mem_realize(b->mem, i0));
	TEST_OK(cowvm_write(b, COWVM_BOOT_CMDLINE, cmd2, strlen(cmd2) + 1));
	run_expect(b, con_b, line2);
	CHECK_MEM(b->mem, true);
	expect_image_zero(i0, COWVM_MEMTEST_BASE);
	{
		char got[32] = "";

		TEST_OK(cow_tree_read(i0->tree, COWVM_BOOT_CMDLINE, got,
				      strlen(cmd1)));
		TEST_ASSERT(!strcmp(got, cmd1), "i0 command line: %s", got);
	}
	expect_region(a->mem, i1); /* a ran seed 1 again: same bytes */

	/* A clone of i1 into an empty mem: O(runs), same contents. */
	fc = mt_kvm_vm();
	TEST_OK(vmm_mem_create(fc, 64 * MiB, mode, true, &c));
	t1 = test_now();
	TEST_OK(vmm_mem_realize(c, i1));
	t2 = test_now();
	t_clone = t2 - t1;
	expect_region(c, i1);
	CHECK_MEM(c, true);
	printf("%s: memtest 16 MiB fresh %.1f ms, after image %.1f ms "
	       "(%.1f us/page extra); take (fold %lld pages) %.0f us; "
	       "reset %.0f us; clone into empty %.0f us\n",
	       mt_mode_name(mode), t_fresh * 1e3, t_cow * 1e3,
	       (t_cow - t_fresh) * 1e6 / 4096, (long long)w, t_take * 1e6,
	       t_reset * 1e6, t_clone * 1e6);
	mt_mem_free(c, fc);
	cowvm_destroy(a);
	cowvm_destroy(b);
	close(con_a);
	close(con_b);
	vmm_mem_image_put(i0);
	vmm_mem_image_put(i1);
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
}

/* A pool VM whose RAM hole got a foreign mapping: cowvm_clone discards it
 * for a VM created on the spot, the clone runs the snapshot's guest, and
 * the foreign page outlives both VMs untouched. */
static void test_clone_conflict(enum cowvm_mem_mode mode)
{
	const char *cmd = "memtest seed=3 mib=4";
	struct vmm_pool_stats s0, s1;
	struct cowvm_snapshot *snap;
	struct cowvm_config cfg;
	struct cowvm *a, *k;
	char line[160], got[32] = "";
	uint8_t *hole, *fp;
	int con;

	memtest_line(3, 4, line, sizeof(line));
	a = boot(mode, cmd, &con);
	snap = cowvm_snapshot(a);
	TEST_ASSERT(snap, "snapshot: %s", cowvm_error(a));
	cfg = a->cfg;
	TEST_OK(cowvm_pool_reserve(&cfg, 1));
	TEST_OK(cowvm_pool_wait(&cfg, 60000));
	hole = vmm_mem_last_hole(); /* the pool VM's: the last one created */
	TEST_ASSERT(hole, "pool VM hole");
	TEST_ASSERT_EQ(mt_mapped_bytes(hole, 64 * MiB), 0, "pool VM hole");
	fp = mt_foreign_page(hole + 100 * PAGE, 0x77);
	s0 = vmm_pool_stats(&cfg);
	k = cowvm_clone(snap);
	TEST_ASSERT(k, "clone: %s", cowvm_error(NULL));
	s1 = vmm_pool_stats(&cfg);
	TEST_ASSERT_EQ(s1.taken, s0.taken + 1, "not taken from the pool");
	TEST_ASSERT_NE(k->mem->base, hole, "the clone kept the pool VM's RAM");
	mt_expect_foreign(fp, 0x77);
	TEST_OK(cowvm_read(k, COWVM_BOOT_CMDLINE, got, strlen(cmd) + 1));
	TEST_ASSERT(!strcmp(got, cmd), "clone command line: %s", got);
	TEST_ASSERT_EQ(run_expect(k, con, line), 1, "clone run");
	CHECK_MEM(k->mem, true);
	mt_expect_foreign(fp, 0x77);
	cowvm_destroy(k);
	cowvm_destroy(a);
	TEST_OK(cowvm_pool_reserve(&cfg, 0));
	TEST_OK(vmm_pool_wait_reaped(60000));
	mt_expect_foreign(fp, 0x77);
	TEST_ASSERT(!munmap(fp, PAGE), "munmap");
	cowvm_snapshot_put(snap);
	close(con);
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
	printf("%s: clone over a foreign page in the pool VM's hole fell back "
	       "to a new VM\n",
	       mt_mode_name(mode));
}

int main(int argc, char **argv)
{
	test_require_kvm();
	TEST_ASSERT_EQ(argc, 2, "usage: test-mem-guest GUEST_ELF");
	guest = argv[1];
	test_mode(COWVM_MEM_KERNEL);
	test_mode(COWVM_MEM_UFFD);
	test_clone_conflict(COWVM_MEM_KERNEL);
	test_clone_conflict(COWVM_MEM_UFFD);
	return 0;
}
