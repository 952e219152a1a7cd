/* Empty mems keep their RAM region a hole of the VA arena: realizing into
 * it maps without replacing anything, a foreign mapping there fails the
 * realize cleanly (-EBUSY) and survives, regions come back to the arena
 * when their mem goes, and nothing leaks (frames, mappings). */
#include <sys/mman.h>

#include "mem_util.h"

#define SIZE (64 * MiB)

/* A fresh mem with seeded pages, imaged twice (i2 after more writes, so
 * that its layout has several runs); models m1 and m2. */
static struct vmm_mem *parent(enum cowvm_mem_mode mode, int *fd,
			      struct vmm_mem_image **i1,
			      struct vmm_mem_image **i2, uint8_t *m1,
			      uint8_t *m2)
{
	struct vmm_mem *a = mt_mem_new(SIZE, mode, false, fd);

	mt_host_write(a, m1, 0, PAGE, 1);
	mt_host_write(a, m1, 300 * PAGE, 40 * PAGE, 2);
	mt_host_write(a, m1, SIZE - PAGE, PAGE, 3);
	TEST_OK(vmm_mem_image_take(a, i1));
	memcpy(m2, m1, SIZE);
	mt_host_write(a, m2, 1000 * PAGE, 7 * PAGE, 4);
	mt_host_write(a, m2, 9000 * PAGE, 3 * PAGE, 5);
	TEST_OK(vmm_mem_image_take(a, i2));
	TEST_ASSERT_GE((*i2)->ext->n, 5, "runs of i2");
	return a;
}

/* An empty mem is a hole; realizing it maps all of it, reads the image,
 * and writes on either side stay there. */
static void test_realize(enum cowvm_mem_mode mode)
{
	uint8_t *m1 = calloc(1, SIZE), *m2 = malloc(SIZE), *m3 = malloc(SIZE);
	struct vmm_mem_image *i1, *i2;
	struct vmm_mem *a, *e;
	int fa, fe;
	double t0, t;

	TEST_ASSERT(m1 && m2 && m3, "models");
	a = parent(mode, &fa, &i1, &i2, m1, m2);
	e = mt_mem_new(SIZE, mode, true, &fe);
	TEST_ASSERT_EQ(vmm_mem_last_hole(), e->base, "last hole");
	TEST_ASSERT_EQ(mt_mapped_bytes(e->base, SIZE), 0, "empty: mapped");
	TEST_ASSERT_EQ(mt_mapped_bytes(e->base + SIZE, VMM_ARENA_ALIGN),
		       VMM_ARENA_ALIGN, "no guard after the region");
	TEST_ASSERT_NE(e->base, a->base, "regions");
	t0 = test_now();
	TEST_OK(vmm_mem_realize(e, i2));
	t = test_now() - t0;
	TEST_ASSERT_EQ(mt_mapped_bytes(e->base, SIZE), SIZE, "realized");
	CHECK_MEM(e, true);
	mt_expect_model(e, m2);
	TEST_ASSERT_EQ(vmm_mem_written(e), 0, "written");

	/* Isolation: e's writes stay in e, a's in a. */
	memcpy(m3, m2, SIZE);
	mt_host_write(e, m3, 1000 * PAGE, 2 * PAGE, 6);
	mt_host_write(e, m3, 9000 * PAGE, PAGE, 9);
	mt_host_write(a, m2, 9000 * PAGE, PAGE, 7);
	mt_host_write(a, m2, 20 * PAGE, PAGE, 8);
	mt_expect_model(e, m3);
	mt_expect_model(a, m2);
	mt_expect_image(e, i1, m1);
	CHECK_MEM(e, true);
	CHECK_MEM(a, true);

	/* A reset of the realized mem is not into a hole any more. */
	TEST_OK(vmm_mem_realize(e, i1));
	mt_expect_model(e, m1);
	CHECK_MEM(e, true);
	printf("%s: realize 64 MiB (%llu runs) into a hole %.0f us\n",
	       mt_mode_name(mode), (unsigned long long)i2->ext->n, t * 1e6);
	mt_mem_free(a, fa);
	mt_mem_free(e, fe);
	vmm_mem_image_put(i1);
	vmm_mem_image_put(i2);
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
	free(m1);
	free(m2);
	free(m3);
}

/* A foreign mapping in an empty mem's region: realize fails with -EBUSY,
 * whether the first or a later run hits it, leaves the mapping as it was
 * and the rest of the region a hole; without it, realize works. */
static void test_conflict(enum cowvm_mem_mode mode)
{
	uint8_t *m1 = calloc(1, SIZE), *m2 = malloc(SIZE);
	struct vmm_mem_image *i1, *i2;
	struct vmm_mem *a, *e, *f, *g;
	struct cowvm_mem_stats st;
	uint8_t *last, *first;
	uint64_t frames;
	int fa, fe, ff, fg;

	TEST_ASSERT(m1 && m2, "models");
	a = parent(mode, &fa, &i1, &i2, m1, m2);
	e = mt_mem_new(SIZE, mode, true, &fe);
	frames = vmm_mem_store_frames();

	/* In the last run: the earlier runs were mapped, then undone. */
	last = mt_foreign_page(e->base + SIZE - PAGE, 0xa5);
	TEST_ASSERT_EQ(vmm_mem_realize(e, i2), -EBUSY, "realize over a page");
	mt_expect_foreign(last, 0xa5);
	TEST_ASSERT_EQ(mt_mapped_bytes(e->base, SIZE), PAGE,
		       "%s: bytes mapped after the failed realize",
		       mt_mode_name(mode));
	TEST_ASSERT_EQ(vmm_mem_stats(e, &st), -EINVAL, "still empty");
	TEST_ASSERT(!vmm_mem_gpa_write(e, 0, 1), "still empty");
	TEST_ASSERT_EQ(vmm_mem_store_frames(), frames, "frames");

	/* In the first run too. */
	first = mt_foreign_page(e->base, 0x5a);
	TEST_ASSERT_EQ(vmm_mem_realize(e, i1), -EBUSY, "realize over 2 pages");
	mt_expect_foreign(first, 0x5a);
	mt_expect_foreign(last, 0xa5);
	TEST_ASSERT_EQ(mt_mapped_bytes(e->base, SIZE), 2 * PAGE, "mapped");

	/* Gone again: the hole takes the image. */
	TEST_ASSERT(!munmap(first, PAGE) && !munmap(last, PAGE), "munmap");
	TEST_OK(vmm_mem_realize(e, i2));
	CHECK_MEM(e, true);
	mt_expect_model(e, m2);

	/* A region holding a foreign page when its mem goes keeps the page
	 * and is not handed out again. */
	f = mt_mem_new(SIZE, mode, true, &ff);
	last = mt_foreign_page(f->base + 4096 * PAGE, 0x3c);
	first = f->base;
	mt_mem_free(f, ff);
	mt_expect_foreign(last, 0x3c);
	g = mt_mem_new(SIZE, mode, true, &fg);
	TEST_ASSERT_NE(g->base, first, "region with a foreign page reused");
	TEST_OK(vmm_mem_realize(g, i1));
	mt_expect_model(g, m1);
	mt_expect_foreign(last, 0x3c);
	TEST_ASSERT(!munmap(last, PAGE), "munmap");

	mt_mem_free(a, fa);
	mt_mem_free(e, fe);
	mt_mem_free(g, fg);
	vmm_mem_image_put(i1);
	vmm_mem_image_put(i2);
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
	free(m1);
	free(m2);
}

/* Regions of destroyed mems are handed out again (first fit), and cycles
 * of create, realize and destroy leave no mapping behind. */
static void test_reuse(void)
{
	uint8_t *m1 = calloc(1, SIZE), *m2 = malloc(SIZE);
	struct vmm_mem_image *i1, *i2;
	struct vmm_mem *a, *m[3], *x;
	int fa, fm[3], fx;
	uint8_t *b1;
	unsigned vmas;

	TEST_ASSERT(m1 && m2, "models");
	a = parent(COWVM_MEM_KERNEL, &fa, &i1, &i2, m1, m2);
	for (int i = 0; i < 3; i++)
		m[i] = mt_mem_new(SIZE, COWVM_MEM_KERNEL, i != 1, &fm[i]);
	TEST_OK(vmm_mem_realize(m[2], i2));
	b1 = m[1]->base;

	/* The middle one, fresh, goes: an empty one of the same size, then a
	 * realized smaller one, take its place. */
	mt_mem_free(m[1], fm[1]);
	m[1] = mt_mem_new(SIZE, COWVM_MEM_UFFD, true, &fm[1]);
	TEST_ASSERT_EQ(m[1]->base, b1, "region not reused");
	TEST_ASSERT_EQ(mt_mapped_bytes(b1, SIZE), 0, "reused region is a hole");
	TEST_OK(vmm_mem_realize(m[1], i1));
	mt_expect_model(m[1], m1);
	mt_mem_free(m[1], fm[1]);
	x = mt_mem_new(SIZE / 4, COWVM_MEM_KERNEL, false, &fx);
	TEST_ASSERT_EQ(x->base, b1, "smaller mem not placed first fit");
	CHECK_MEM(x, true);
	mt_mem_free(x, fx);

	/* Cycles leave the mappings as they were, and reuse one region. */
	vmas = 0;
	for (int i = 0; i < 50; i++) {
		enum cowvm_mem_mode mode =
			i % 2 ? COWVM_MEM_UFFD : COWVM_MEM_KERNEL;

		x = mt_mem_new(SIZE, mode, i % 3 != 0, &fx);
		TEST_ASSERT_EQ(x->base, b1, "cycle %d: region", i);
		if (i % 3)
			TEST_OK(vmm_mem_realize(x, i % 4 ? i1 : i2));
		mt_host_write(x, NULL, 5 * PAGE, PAGE, (uint64_t)i);
		mt_mem_free(x, fx);
		if (i == 9) /* after a warm-up of the allocators */
			vmas = mt_vma_count();
	}
	/* Slack for the sanitizer's allocator; a leak adds one per cycle. */
	TEST_ASSERT_LE(mt_vma_count(), vmas + 8, "mappings, %u before", vmas);
	mt_mem_free(m[0], fm[0]);
	mt_mem_free(m[2], fm[2]);
	mt_mem_free(a, fa);
	vmm_mem_image_put(i1);
	vmm_mem_image_put(i2);
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
	free(m1);
	free(m2);
}

/* Best-of times of the operations on mems of one size in mode. */
struct size_times {
	double realize, reset, take, destroy;
};

/* Keep the smaller of *best and the time since t0. */
static void best_of(double *best, double t0)
{
	double t = test_now() - t0;

	if (t < *best)
		*best = t;
}

/* Five empty mems of size bytes realized from one image, then each with
 * four written pages reset, imaged, destroyed; best of five of each. */
static struct size_times size_run(enum cowvm_mem_mode mode, uint64_t size)
{
	struct size_times b = {1e9, 1e9, 1e9, 1e9};
	struct vmm_mem_image *img, *mine;
	struct vmm_mem *a, *e[5];
	int fa, fe[5];
	double t0;

	a = mt_mem_new(size, mode, false, &fa);
	mt_host_write(a, NULL, vmm_mem_off_gpa(a, size / PAGE - 1), PAGE, 1);
	TEST_OK(vmm_mem_image_take(a, &img));
	for (int i = 0; i < 5; i++) {
		e[i] = mt_mem_new(size, mode, true, &fe[i]);
		TEST_ASSERT_EQ(mt_mapped_bytes(e[i]->base, size), 0, "hole");
		t0 = test_now();
		TEST_OK(vmm_mem_realize(e[i], img));
		best_of(&b.realize, t0);
	}
	for (int i = 0; i < 5; i++) {
		for (int k = 0; k < 4; k++)
			mt_host_write(e[i], NULL, (uint64_t)k * 64 * PAGE, 8,
				      2);
		t0 = test_now();
		TEST_OK(vmm_mem_realize(e[i], img));
		best_of(&b.reset, t0);
		for (int k = 0; k < 4; k++)
			mt_host_write(e[i], NULL, (uint64_t)k * 64 * PAGE, 8,
				      3);
		t0 = test_now();
		TEST_OK(vmm_mem_image_take(e[i], &mine));
		best_of(&b.take, t0);
		if (!i) /* its sampled reads map pages all over RAM */
			CHECK_MEM(e[i], false);
		vmm_mem_image_put(mine);
	}
	for (int i = 0; i < 5; i++) {
		close(fe[i]);
		t0 = test_now();
		vmm_mem_destroy(e[i]);
		best_of(&b.destroy, t0);
	}
	mt_mem_free(a, fa);
	vmm_mem_image_put(img);
	return b;
}

/* Empty mems of every size are holes that realize, reset, image and
 * destroy correctly; prints what each operation costs by size (speed goals
 * are checked by bench-vmm, not here). */
static void test_sizes(enum cowvm_mem_mode mode)
{
	static const uint64_t mib[] = {64, 256, 1024, 4096};
	struct size_times t[4];

	for (int k = 0; k < 4; k++) {
		t[k] = size_run(mode, mib[k] * MiB);
		printf("%s %4llu MiB (best of 5): realize into a hole %6.0f us,"
		       " reset of 4 pages %5.0f us, image of 4 pages %5.0f us,"
		       " destroy after close %5.0f us\n",
		       mt_mode_name(mode), (unsigned long long)mib[k],
		       t[k].realize * 1e6, t[k].reset * 1e6, t[k].take * 1e6,
		       t[k].destroy * 1e6);
	}
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
}

int main(void)
{
	test_require_kvm();
	test_realize(COWVM_MEM_KERNEL);
	test_realize(COWVM_MEM_UFFD);
	test_conflict(COWVM_MEM_KERNEL);
	test_conflict(COWVM_MEM_UFFD);
	test_reuse();
	test_sizes(COWVM_MEM_KERNEL);
	test_sizes(COWVM_MEM_UFFD);
	return 0;
}
