/* RAM above 3 GiB: two ranges (low and high) through create, image,
 * realize into an empty mem and reset, in both modes. */
#include "mem_util.h"

#define SIZE (4 * GiB + 512 * MiB)

/* Pages around the edges of both ranges. */
static const uint64_t spots[] = {
	0, 0xc0000000ull - PAGE,	    /* last page of the low range */
	0x100000000ull,			    /* first page of the high range */
	0x100000000ull + 1536 * MiB - PAGE, /* last page of RAM */
};
#define NSPOTS (sizeof(spots) / sizeof(spots[0]))

/* Fail unless mem holds seed's page at spot i (seed 0: zero). */
static void expect_spot(struct vmm_mem *mem, unsigned i, uint64_t seed)
{
	uint8_t want[PAGE] = {0};
	const void *p = vmm_mem_gpa(mem, spots[i], PAGE);

	if (seed)
		test_fill(want, PAGE, seed);
	TEST_ASSERT(p && !memcmp(p, want, PAGE), "gpa %#llx: seed %llu",
		    (unsigned long long)spots[i], (unsigned long long)seed);
}

static void test_mode(enum cowvm_mem_mode mode)
{
	struct vmm_mem *a, *b;
	struct vmm_mem_image *img;
	struct cowvm_mem_stats st;
	double t0, t_create, t_take, t_clone, t_reset;
	int fa, fb;

	t0 = test_now();
	a = mt_mem_new(SIZE, mode, false, &fa);
	t_create = test_now() - t0;
	TEST_ASSERT(!vmm_mem_gpa(a, 0xc0000000ull, 1), "hole below 4 GiB");
	TEST_ASSERT(!vmm_mem_gpa(a, 0xc0000000ull - 1, 2), "across the hole");
	for (unsigned i = 0; i < NSPOTS; i++)
		mt_host_write(a, NULL, spots[i], PAGE, 10 + i);
	CHECK_MEM(a, false);
	t0 = test_now();
	TEST_OK(vmm_mem_image_take(a, &img));
	t_take = test_now() - t0;
	b = mt_mem_new(SIZE, mode, true, &fb);
	t0 = test_now();
	TEST_OK(vmm_mem_realize(b, img));
	t_clone = test_now() - t0;
	CHECK_MEM(b, false);
	for (unsigned i = 0; i < NSPOTS; i++)
		expect_spot(b, i, 10 + i);
	for (unsigned i = 0; i < NSPOTS; i++)
		mt_host_write(b, NULL, spots[i], PAGE, 20 + i);
	TEST_ASSERT_EQ(vmm_mem_written(b), NSPOTS, "written");
	st = mt_mem_stats(b);
	TEST_ASSERT_EQ(st.pages_mapped, SIZE / PAGE, "mapped");
	TEST_ASSERT_EQ(st.pages_private, NSPOTS, "private");
	for (unsigned i = 0; i < NSPOTS; i++)
		expect_spot(a, i, 10 + i);
	t0 = test_now();
	TEST_OK(vmm_mem_realize(b, img));
	t_reset = test_now() - t0;
	for (unsigned i = 0; i < NSPOTS; i++)
		expect_spot(b, i, 10 + i);
	CHECK_MEM(b, false);
	printf("%s 4.5 GiB: create %.1f ms, first image %.0f us, clone into "
	       "empty %.0f us, reset of %zu pages %.0f us\n",
	       mt_mode_name(mode), t_create * 1e3, t_take * 1e6, t_clone * 1e6,
	       NSPOTS, t_reset * 1e6);
	mt_mem_free(a, fa);
	mt_mem_free(b, fb);
	vmm_mem_image_put(img);
	TEST_ASSERT_EQ(vmm_mem_store_frames(), 0, "everything freed");
}

int main(void)
{
	test_require_kvm();
	test_mode(COWVM_MEM_KERNEL);
	test_mode(COWVM_MEM_UFFD);
	return 0;
}
