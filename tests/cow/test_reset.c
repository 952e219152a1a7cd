/* Reset to a snapshot: correctness after nested forks, and cost. */
#include "cow_util.h"

static struct cow_store_stats ss(struct cow_store *s)
{
	struct cow_store_stats st;

	cow_store_stats(s, &st);
	return st;
}

/* Fail unless a and b read the same over [gpa, gpa+len). */
static void expect_same(const struct cow_tree *a, const struct cow_tree *b,
			uint64_t gpa, size_t len)
{
	uint8_t *x = malloc(len), *y = malloc(len);

	TEST_ASSERT(x && y, "malloc");
	TEST_OK(cow_tree_read(a, gpa, x, len));
	TEST_OK(cow_tree_read(b, gpa, y, len));
	TEST_ASSERT(!memcmp(x, y, len), "trees differ at %#llx",
		    (unsigned long long)gpa);
	free(x);
	free(y);
}

static int fail_page(uint64_t gpa, uint32_t frame, void *arg)
{
	(void)arg;
	TEST_ASSERT(0, "page %#llx (frame %u) still private after reset",
		    (unsigned long long)gpa, frame);
	return 1;
}

static const uint64_t probe[] = {
	0, 2 * MiB - PAGE, GiB, 512 * GiB, TiB - PAGE, COW_GPA_LIMIT - PAGE};
#define NPROBE (sizeof(probe) / sizeof(probe[0]))

/* Fail unless a and b read the same at every probe page (and around). */
static void expect_same_probes(const struct cow_tree *a,
			       const struct cow_tree *b)
{
	size_t i;

	for (i = 0; i < NPROBE; i++)
		expect_same(a, b, probe[i], PAGE);
}

static void test_nested(struct cow_store *s)
{
	struct cow_tree *snap = cow_tree_create(s), *a, *b, *other;
	struct cow_stats st;
	size_t i;

	TEST_ASSERT(snap, "create");
	for (i = 0; i < NPROBE; i++)
		ct_write_pattern(snap, probe[i], PAGE, i);
	a = cow_tree_fork(snap);
	TEST_ASSERT(a, "fork");
	ct_write_pattern(a, probe[1], 3 * PAGE, 50); /* crosses a leaf table */
	b = cow_tree_fork(a);
	TEST_ASSERT(b, "fork");
	ct_write_pattern(b, probe[5], PAGE, 51);
	ct_write_pattern(b, 3 * GiB, PAGE, 52);	    /* new page in b only */
	ct_write_pattern(snap, probe[0], PAGE, 53); /* snapshot moves on too */
	CHECK_STORE(s);

	TEST_OK(cow_tree_reset(b, snap));
	CHECK_STORE(s);
	expect_same_probes(b, snap);
	expect_same(b, snap, probe[1], 3 * PAGE);
	ct_expect_zero(b, 3 * GiB, PAGE);
	cow_tree_stats(b, &st);
	{
		struct cow_stats sn;

		cow_tree_stats(snap, &sn);
		TEST_ASSERT_EQ(
			st.pages_private, 0,
			"reset tree shares every page with the snapshot");
		TEST_ASSERT_EQ(
			st.pages_mapped, sn.pages_mapped,
			"reset tree shares every page with the snapshot");
	}
	TEST_OK(cow_tree_for_each_private(b, fail_page, NULL));
	/* a is untouched by b's reset. */
	ct_expect_pattern(a, probe[1], 3 * PAGE, 50);
	ct_expect_pattern(a, probe[0], PAGE, 0);

	/* Reset towards a descendant, and to an unrelated tree. */
	TEST_OK(cow_tree_reset(snap, a));
	CHECK_STORE(s);
	expect_same_probes(snap, a);
	other = cow_tree_create(s);
	TEST_ASSERT(other, "create");
	ct_write_pattern(other, 5 * TiB, PAGE, 60);
	TEST_OK(cow_tree_reset(a, other));
	CHECK_STORE(s);
	expect_same_probes(a, other);
	ct_expect_pattern(a, 5 * TiB, PAGE, 60);
	/* Resetting to itself changes nothing. */
	TEST_OK(cow_tree_reset(a, a));
	ct_expect_pattern(a, 5 * TiB, PAGE, 60);
	/* Resetting to an empty tree empties it. */
	cow_tree_destroy(other);
	other = cow_tree_create(s);
	TEST_OK(cow_tree_reset(a, other));
	cow_tree_stats(a, &st);
	TEST_ASSERT_EQ(st.pages_mapped, 0, "empty");
	TEST_ASSERT_EQ(st.table_bytes, PAGE, "empty");
	CHECK_STORE(s);
	cow_tree_destroy(other);
	cow_tree_destroy(a);
	cow_tree_destroy(b);
	cow_tree_destroy(snap);
	CHECK_STORE(s);
	TEST_ASSERT_EQ(ss(s).tables_used, 0, "empty");
	TEST_ASSERT_EQ(ss(s).frames_used, 0, "empty");
}

/* Reset work is set by the dirty pages, not by the snapshot's size. */
static void test_cost(struct cow_store *s)
{
	static const unsigned dirty[] = {1, 16, 256};
	struct cow_tree *snap = cow_tree_create(s), *c;
	struct cow_store_stats a, b;
	uint64_t gpa;
	unsigned i, k;

	TEST_ASSERT(snap, "create");
	for (gpa = 0; gpa < GiB; gpa += PAGE)
		TEST_ASSERT_GE(cow_tree_frame_for_write(snap, gpa), 0, "fill");
	ct_write_pattern(snap, 7 * PAGE, PAGE, 7);
	c = cow_tree_fork(snap);
	TEST_ASSERT(c, "fork");
	for (i = 0; i < sizeof(dirty) / sizeof(dirty[0]); i++) {
		/* One dirty page per leaf table: k leaves + L1 + L2 private;
		 * reset rewrites them in place: it scans the root and those
		 * k + 2 tables, frees the k frames and no table. */
		for (k = 0; k < dirty[i]; k++)
			ct_write_pattern(c, k * 2 * MiB + 7 * PAGE, 1, k);
		a = ss(s);
		TEST_OK(cow_tree_reset(c, snap));
		b = ss(s);
		TEST_ASSERT_EQ(b.frames_freed - a.frames_freed, dirty[i],
			       "frames a reset freed");
		TEST_ASSERT_EQ(b.tables_freed, a.tables_freed,
			       "a reset freed tables");
		TEST_ASSERT_EQ(b.table_scans - a.table_scans, dirty[i] + 3,
			       "tables a reset of %u dirty pages scanned",
			       dirty[i]);
		ct_expect_pattern(c, 7 * PAGE, PAGE, 7);
		ct_expect_zero(c, 2 * MiB + 7 * PAGE, 1);
		CHECK_STORE(s);
		/* The kept private path serves the next write: no copies. */
		a = ss(s);
		ct_write_pattern(c, 7 * PAGE, 1, 99);
		b = ss(s);
		TEST_ASSERT_EQ(b.table_copies, a.table_copies,
			       "a rewrite after reset copied tables");
		TEST_ASSERT_EQ(b.frame_copies, a.frame_copies + 1,
			       "frames a rewrite after reset copied");
		TEST_OK(cow_tree_reset(c, snap));
	}
	cow_tree_destroy(c);
	cow_tree_destroy(snap);
}

int main(void)
{
	struct cow_store *s = cow_store_create(NULL), *s2;
	struct cow_tree *t, *u;

	TEST_ASSERT(s, "cow_store_create");
	test_nested(s);
	test_cost(s);
	/* Trees of different stores cannot be reset to each other. */
	s2 = cow_store_create(NULL);
	TEST_ASSERT(s2, "second store");
	t = cow_tree_create(s);
	u = cow_tree_create(s2);
	TEST_ASSERT(t && u, "create");
	TEST_ASSERT_EQ(cow_tree_reset(t, u), -EINVAL, "cross-store reset");
	cow_store_destroy(s2); /* also destroys u */
	cow_tree_destroy(t);
	CHECK_STORE(s);
	cow_store_destroy(s);
	return 0;
}
