/* Windows: reservations, linear mapping and placement at chosen frames. */
#include "cow_util.h"

static struct cow_store_stats ss(struct cow_store *s)
{
	struct cow_store_stats st;

	cow_store_stats(s, &st);
	return st;
}

/* A store with 4096 classic frames and 64 chunks of windows. */
static struct cow_store *store(uint32_t max_frames)
{
	struct cow_store_config cfg = {.max_frames = max_frames,
				       .window_frames = 64 * 512};
	struct cow_store *s = cow_store_create(&cfg);

	TEST_ASSERT(s, "store");
	return s;
}

/* map_linear lays frames out congruently; errors change nothing. */
static void test_linear(void)
{
	struct cow_store *s = store(4096);
	struct cow_tree *t = cow_tree_create(s);
	int64_t w = cow_window_reserve(s, 1000), w2;
	uint64_t i;

	TEST_ASSERT(t, "create");
	TEST_ASSERT_GE(w, 4096, "reserve");
	TEST_ASSERT_EQ(w % 512, 0, "reserve %lld", (long long)w);
	TEST_ASSERT_EQ(ss(s).window_frames_held, 1024, "held");
	TEST_ASSERT_EQ(cow_tree_map_linear(t, 1, 10, (uint32_t)w), -EINVAL,
		       "unaligned gpa");
	TEST_ASSERT_EQ(cow_tree_map_linear(t, 0, 10, 7), -EINVAL,
		       "classic frame");
	TEST_ASSERT_EQ(cow_tree_map_linear(t, 0, 1025, (uint32_t)w), -EINVAL,
		       "beyond the reservation");
	TEST_OK(cow_tree_map_linear(t, 3 * GiB, 1000, (uint32_t)w));
	for (i = 0; i < 1000; i++)
		TEST_ASSERT_EQ(cow_tree_translate(t, 3 * GiB + i * PAGE),
			       w + (int64_t)i, "page %llu",
			       (unsigned long long)i);
	ct_expect_zero(t, 3 * GiB, 1000 * PAGE);
	CHECK_STORE(s);
	TEST_ASSERT_EQ(cow_tree_map_linear(t, 3 * GiB + 999 * PAGE, 2,
					   (uint32_t)w + 1000),
		       -EEXIST, "overlap");
	TEST_ASSERT_EQ(cow_tree_map_linear(t, 0, 2, (uint32_t)w + 999), -EBUSY,
		       "frame in use");
	CHECK_STORE(s);
	/* A write to a private window page stays in place. */
	ct_write_pattern(t, 3 * GiB + 5 * PAGE, 100, 5);
	TEST_ASSERT_EQ(cow_tree_translate(t, 3 * GiB + 5 * PAGE), w + 5,
		       "in place");
	cow_window_release(s, (uint32_t)w, 1000);
	CHECK_STORE(s);
	/* Frame limit: all or nothing. */
	w2 = cow_window_reserve(s, 4096);
	TEST_ASSERT_GT(w2, w, "second reserve");
	TEST_ASSERT_EQ(cow_tree_map_linear(t, 0, 4096, (uint32_t)w2), -ENOMEM,
		       "over the frame limit");
	TEST_ASSERT_EQ(ss(s).frames_used, 1000, "unchanged");
	CHECK_STORE(s);
	cow_window_release(s, (uint32_t)w2, 4096);
	TEST_ASSERT_EQ(ss(s).window_frames_held, 1024, "held");
	cow_tree_destroy(t);
	CHECK_STORE(s);
	cow_store_trim(s);
	TEST_ASSERT_EQ(ss(s).window_frames_held, 0, "chunks freed");
	CHECK_STORE(s);
	/* Freed chunks are reused (the whole region is free again), and
	 * read as zero again. */
	TEST_ASSERT_EQ(cow_window_reserve(s, 64 * 512), w, "reuse");
	TEST_ASSERT(test_all_zero(cow_frame_ptr(s, (uint32_t)w + 5), PAGE),
		    "punched");
	CHECK_STORE(s);
	cow_store_destroy(s);
}

/* place breaks sharing onto the chosen frame without copying. */
static void test_place(void)
{
	struct cow_store *s = store(1 << 16);
	struct cow_tree *a = cow_tree_create(s), *b;
	int64_t w = cow_window_reserve(s, 512), w2, f;
	uint64_t copies;

	TEST_OK(cow_tree_map_linear(a, 0, 512, (uint32_t)w));
	ct_write_pattern(a, 0, 512 * PAGE, 1);
	cow_window_release(s, (uint32_t)w, 512);
	b = cow_tree_fork(a);
	TEST_ASSERT(b, "fork");
	w2 = cow_window_reserve(s, 512);
	TEST_ASSERT_EQ(w2, w + 512, "next window");
	copies = ss(s).frame_copies;
	TEST_ASSERT_EQ(cow_tree_place(a, 7 * PAGE, (uint32_t)w + 3), -EINVAL,
		       "outside a reservation");
	f = cow_tree_place(a, 7 * PAGE, (uint32_t)w2 + 7);
	TEST_ASSERT_EQ(f, w2 + 7, "placed at");
	TEST_ASSERT_EQ(ss(s).frame_copies, copies + 1, "counted");
	ct_expect_zero(a, 7 * PAGE, PAGE);
	ct_expect_pattern(b, 0, 512 * PAGE, 1);
	TEST_ASSERT_EQ(cow_tree_place(b, 8 * PAGE, (uint32_t)w2 + 7), -EBUSY,
		       "busy");
	CHECK_STORE(s);
	/* Already private: stays where it is. */
	TEST_ASSERT_EQ(cow_tree_place(a, 7 * PAGE, (uint32_t)w2 + 8), w2 + 7,
		       "private");
	/* b's frame at page 7 is private to b now (a left it): in place. */
	TEST_ASSERT_EQ(cow_tree_place(b, 7 * PAGE, (uint32_t)w2 + 9), w + 7,
		       "b keeps its frame");
	/* Unmapped pages get the chosen frame too. */
	TEST_ASSERT_EQ(cow_tree_place(a, 1 * GiB, (uint32_t)w2 + 100), w2 + 100,
		       "absent page");
	CHECK_STORE(s);
	/* A frame freed while reserved is punched before it is taken again. */
	TEST_OK(cow_tree_write(a, 1 * GiB, "x", 1));
	cow_tree_destroy(a);
	a = cow_tree_create(s);
	TEST_ASSERT_EQ(cow_tree_place(a, 0, (uint32_t)w2 + 100), w2 + 100,
		       "retaken");
	ct_expect_zero(a, 0, PAGE);
	cow_window_release(s, (uint32_t)w2, 512);
	CHECK_STORE(s);
	cow_tree_destroy(a);
	cow_tree_destroy(b);
	cow_store_trim(s);
	CHECK_STORE(s);
	TEST_ASSERT_EQ(ss(s).frames_used, 0, "all freed");
	TEST_ASSERT_EQ(ss(s).window_frames_held, 0, "all freed");
	cow_store_destroy(s);
}

/* Reservations fail cleanly when the region is full or absent. */
static void test_limits(void)
{
	struct cow_store *s = store(64);
	struct cow_store *n = cow_store_create(NULL);
	int64_t a, b;

	TEST_ASSERT_EQ(cow_window_reserve(s, 64 * 512 + 1), -ENOSPC, "too big");
	a = cow_window_reserve(s, 40 * 512);
	TEST_ASSERT_GE(a, 0, "reserve");
	TEST_ASSERT_EQ(cow_window_reserve(s, 30 * 512), -ENOSPC, "full");
	b = cow_window_reserve(s, 24 * 512);
	TEST_ASSERT_EQ(b, a + 40 * 512, "rest");
	cow_window_release(s, (uint32_t)a, 40 * 512);
	TEST_ASSERT_EQ(cow_window_reserve(s, 30 * 512), a,
		       "wraps to the start");
	TEST_ASSERT(n, "no windows");
	TEST_ASSERT_EQ(cow_window_reserve(n, 1), -EINVAL, "no windows");
	CHECK_STORE(s);
	cow_store_destroy(s);
	cow_store_destroy(n);
}

int main(void)
{
	test_linear();
	test_place();
	test_limits();
	return 0;
}
