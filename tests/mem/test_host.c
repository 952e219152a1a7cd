/* Images, realization and reset with host writes, in both modes: contents
 * against byte models, isolation, sharing of read pages, accounting. */
#include "mem_util.h"

#define SIZE (64 * MiB)

/* Writes before and after images stay where they belong. */
static void test_isolation(enum cowvm_mem_mode mode)
{
	uint8_t *m1 = calloc(1, SIZE), *m2, *m3;
	struct vmm_mem_image *i1, *i2;
	struct vmm_mem *a, *b;
	struct cowvm_mem_stats st;
	int fa, fb;

	TEST_ASSERT(m1, "model");
	a = mt_mem_new(SIZE, mode, false, &fa);
	TEST_ASSERT_EQ(vmm_mem_mode(a), mode, "mode");
	CHECK_MEM(a, true);
	mt_host_write(a, m1, 0, PAGE, 1);
	mt_host_write(a, m1, 100 * PAGE + 10, 21 * PAGE, 2);
	mt_host_write(a, m1, SIZE - 8, 8, 3);
	mt_expect_model(a, m1);
	TEST_ASSERT_EQ(vmm_mem_written(a), 0, "direct: the table is exact");
	st = mt_mem_stats(a);
	TEST_ASSERT_EQ(st.pages_mapped, SIZE / PAGE, "fresh: mapped");
	TEST_ASSERT_EQ(st.pages_private, SIZE / PAGE, "fresh: private");
	TEST_OK(vmm_mem_image_take(a, &i1));
	CHECK_MEM(a, true);
	st = mt_mem_stats(a);
	TEST_ASSERT_EQ(st.pages_private, 0, "after image: private");
	TEST_ASSERT_EQ(st.pages_shared, SIZE / PAGE, "after image: shared");

	/* Writes after the image: recorded exactly, not in the image. */
	m2 = malloc(SIZE);
	memcpy(m2, m1, SIZE);
	mt_host_write(a, m2, 100 * PAGE, 11 * PAGE, 4);
	mt_host_write(a, m2, 5000 * PAGE + 7, 1, 5);
	TEST_ASSERT_EQ(vmm_mem_written(a), 12, "%s: written",
		       mt_mode_name(mode));
	st = mt_mem_stats(a);
	TEST_ASSERT_EQ(st.pages_private, 12, "private");
	CHECK_MEM(a, true);
	mt_expect_model(a, m2);
	mt_expect_image(a, i1, m1);

	/* An empty mem realized from i1 reads i1, and reading it shares. */
	b = mt_mem_new(SIZE, mode, true, &fb);
	TEST_OK(vmm_mem_realize(b, i1));
	CHECK_MEM(b, true);
	{
		uint64_t frames = vmm_mem_store_frames(),
			 anon = mt_anon_bytes();

		mt_expect_model(b, m1);
		TEST_ASSERT_EQ(vmm_mem_store_frames(), frames,
			       "reads allocate");
		TEST_ASSERT_LT(mt_anon_bytes(), anon + 4 * MiB,
			       "anonymous bytes after reading 64 MiB");
	}
	TEST_ASSERT_EQ(vmm_mem_written(b), 0, "reads are not writes");
	st = mt_mem_stats(b);
	TEST_ASSERT_EQ(st.pages_private, 0, "clone private");

	/* Fold a's writes into a second image. */
	TEST_OK(vmm_mem_image_take(a, &i2));
	TEST_ASSERT_EQ(vmm_mem_written(a), 0, "folded");
	CHECK_MEM(a, true);
	mt_expect_model(a, m2);
	mt_expect_image(a, i2, m2);
	mt_expect_image(a, i1, m1);
	st = mt_mem_stats(a);
	TEST_ASSERT_EQ(st.pages_private, 0, "a shares all with i2");

	/* b writes: a and the images do not see it. */
	m3 = malloc(SIZE);
	memcpy(m3, m1, SIZE);
	mt_host_write(b, m3, 100 * PAGE, 3 * PAGE, 6);
	mt_expect_model(b, m3);
	mt_expect_model(a, m2);
	mt_expect_image(a, i1, m1);
	CHECK_MEM(b, true);

	/* Reset a to i1, then to i2, then after writes to i2 again. */
	TEST_OK(vmm_mem_realize(a, i1));
	CHECK_MEM(a, true);
	mt_expect_model(a, m1);
	TEST_OK(vmm_mem_realize(a, i2));
	CHECK_MEM(a, true);
	mt_expect_model(a, m2);
	mt_host_write(a, NULL, 200 * PAGE, 2 * PAGE, 7);
	TEST_ASSERT_EQ(vmm_mem_written(a), 2, "written");
	TEST_OK(vmm_mem_realize(a, i2));
	TEST_ASSERT_EQ(vmm_mem_written(a), 0, "reset drops writes");
	mt_expect_model(a, m2);
	CHECK_MEM(a, true);

	/* b resets to i2 (another VM's image, other layout). */
	TEST_OK(vmm_mem_realize(b, i2));
	mt_expect_model(b, m2);
	CHECK_MEM(b, true);

	/* Images outlive the VM they came from. */
	mt_mem_free(a, fa);
	vmm_mem_image_put(i1);
	mt_expect_model(b, m2);
	CHECK_MEM(b, true);
	TEST_ASSERT_EQ(vmm_mem_realize(b, i2), 0, "realize");
	vmm_mem_image_get(i2);
	vmm_mem_image_put(i2);
	mt_mem_free(b, fb);
	TEST_ASSERT_GT(vmm_mem_store_frames(), 0, "i2 holds frames");
	vmm_mem_image_put(i2);
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
	free(m1);
	free(m2);
	free(m3);
}

/* Bad calls fail cleanly. */
static void test_errors(void)
{
	struct vmm_mem_image *img;
	struct vmm_mem *a, *e, *small;
	struct cowvm_mem_stats st;
	int fa, fe, fs;

	a = mt_mem_new(SIZE, COWVM_MEM_DEFAULT, false, &fa);
	TEST_ASSERT_NE(vmm_mem_mode(a), COWVM_MEM_DEFAULT, "resolved");
	e = mt_mem_new(SIZE, COWVM_MEM_KERNEL, true, &fe);
	small = mt_mem_new(SIZE / 2, COWVM_MEM_KERNEL, true, &fs);
	TEST_ASSERT_EQ(vmm_mem_image_take(e, &img), -EINVAL, "empty image");
	TEST_ASSERT_EQ(vmm_mem_stats(e, &st), -EINVAL, "empty stats");
	TEST_ASSERT(!vmm_mem_gpa_write(e, 0, 1), "empty write");
	TEST_ASSERT_EQ(vmm_mem_gpa(a, SIZE - 1, 2), NULL, "beyond RAM");
	TEST_ASSERT_EQ(vmm_mem_gpa_write(a, SIZE, 0), NULL, "at the end");
	TEST_OK(vmm_mem_image_take(a, &img));
	TEST_ASSERT_EQ(vmm_mem_realize(small, img), -EINVAL, "size mismatch");
	vmm_mem_image_put(img);
	mt_mem_free(a, fa);
	mt_mem_free(e, fe);
	mt_mem_free(small, fs);
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
}

int main(void)
{
	test_require_kvm();
	test_isolation(COWVM_MEM_KERNEL);
	test_isolation(COWVM_MEM_UFFD);
	test_errors();
	return 0;
}
