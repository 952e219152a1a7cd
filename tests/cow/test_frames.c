/* The frame store: reuse of freed frames, zero contents, the memfd view. */
#include <sys/mman.h>
#include <sys/stat.h>

#include "cow_util.h"

static struct cow_store_stats ss(struct cow_store *s)
{
	struct cow_store_stats st;

	cow_store_stats(s, &st);
	return st;
}

/* Bytes of memory the memfd holds. */
static long long memfd_bytes(struct cow_store *s)
{
	struct stat st;

	TEST_ASSERT_EQ(fstat(cow_frame_fd(s), &st), 0, "fstat");
	return (long long)st.st_blocks * 512;
}

/* Write n pages of nonzero data, free them, and check reuse as zero. */
static void test_reuse(uint32_t batch)
{
	struct cow_store_config cfg = {.max_frames = 64, .punch_batch = batch};
	struct cow_store *s = cow_store_create(&cfg);
	struct cow_tree *t;
	int64_t f, seen[16];
	unsigned i;

	TEST_ASSERT(s, "store");
	t = cow_tree_create(s);
	TEST_ASSERT(t, "create");
	for (i = 0; i < 16; i++) {
		ct_write_pattern(t, i * PAGE, PAGE, i + 1);
		seen[i] = cow_tree_translate(t, i * PAGE);
		TEST_ASSERT_EQ(cow_frame_refcount(s, (uint32_t)seen[i]), 1,
			       "refcount 1");
	}
	TEST_ASSERT_GE(memfd_bytes(s), 16 * (long long)PAGE, "frames resident");
	cow_tree_destroy(t);
	CHECK_STORE(s);
	for (i = 0; i < 16; i++)
		TEST_ASSERT_EQ(cow_frame_refcount(s, (uint32_t)seen[i]), 0,
			       "freed");
	t = cow_tree_create(s);
	TEST_ASSERT(t, "create");
	/* Each new page comes from the freed ones and reads as zero. */
	for (i = 0; i < 16; i++) {
		unsigned j;

		ct_write_pattern(t, (100 + i) * PAGE + 5, 1, 0);
		f = cow_tree_translate(t, (100 + i) * PAGE);
		for (j = 0; j < 16 && seen[j] != f; j++)
			;
		TEST_ASSERT_LT(j, 16, "frame %lld is not a reused one",
			       (long long)f);
		ct_expect_zero(t, (100 + i) * PAGE, 5);
		ct_expect_zero(t, (100 + i) * PAGE + 6, PAGE - 6);
	}
	CHECK_STORE(s);
	cow_tree_destroy(t);
	/* After a trim the memfd holds no memory at all. */
	cow_store_trim(s);
	TEST_ASSERT_EQ(memfd_bytes(s), 0, "memfd bytes after a trim");
	CHECK_STORE(s);
	cow_store_destroy(s);
}

/* Adjacent freed frames are discarded by one punch. */
static void test_batching(void)
{
	struct cow_store_config cfg = {.punch_batch = 1024};
	struct cow_store *s = cow_store_create(&cfg);
	struct cow_tree *t = s ? cow_tree_create(s) : NULL;
	struct cow_store_stats a, b;

	TEST_ASSERT(t, "store and tree");
	ct_write_pattern(t, 0, 100 * PAGE, 1);
	ct_write_pattern(t, GiB, 5 * PAGE, 1);
	cow_tree_destroy(t);
	a = ss(s);
	TEST_ASSERT_EQ(a.punches, 0, "batched: nothing punched yet");
	cow_store_trim(s);
	b = ss(s);
	TEST_ASSERT_EQ(b.punches, 1, "punches for 105 adjacent frames");
	TEST_ASSERT_EQ(memfd_bytes(s), 0, "memfd emptied");
	cow_store_destroy(s);
}

/* A second, independent mapping of the memfd sees the same frames. */
static void test_fd_view(void)
{
	struct cow_store *s = cow_store_create(NULL);
	struct cow_tree *t = s ? cow_tree_create(s) : NULL;
	uint8_t *view, want[PAGE];
	int64_t f;

	TEST_ASSERT(t, "store and tree");
	ct_write_pattern(t, 3 * GiB, PAGE, 9);
	f = cow_tree_translate(t, 3 * GiB);
	TEST_ASSERT_GE(f, 0, "translate");
	view = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    cow_frame_fd(s), (off_t)cow_frame_offset((uint32_t)f));
	TEST_ASSERT_NE(view, MAP_FAILED, "mmap frame");
	test_fill(want, PAGE, 9);
	TEST_ASSERT(!memcmp(view, want, PAGE), "view shows the tree's data");
	memset(view, 0xab, 16);
	memset(want, 0xab, 16);
	ct_expect_bytes(t, 3 * GiB, want, PAGE);
	TEST_ASSERT_NE(cow_frame_ptr(s, (uint32_t)f), view, "distinct views");
	munmap(view, PAGE);
	cow_store_destroy(s);
}

int main(void)
{
	struct cow_store_config bad = {.max_frames = 0xffffffffu};

	test_reuse(1);
	test_reuse(4);
	test_reuse(0);
	test_batching();
	test_fd_view();
	TEST_ASSERT(!cow_store_create(&bad), "limit check");
	TEST_ASSERT_EQ(errno, EINVAL, "limit check");
	return 0;
}
