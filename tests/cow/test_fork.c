/* Fork: sharing, isolation, break-on-write, nesting and destruction order. */
#include "cow_util.h"

static struct cow_store_stats ss(struct cow_store *s)
{
	struct cow_store_stats st;

	cow_store_stats(s, &st);
	return st;
}

static struct cow_stats ts(const struct cow_tree *t)
{
	struct cow_stats st;

	cow_tree_stats(t, &st);
	return st;
}

/* Fork shares everything; writes on either side stay on that side. */
static void test_isolation(struct cow_store *s)
{
	struct cow_tree *p = cow_tree_create(s), *c;
	struct cow_store_stats a, b;
	struct cow_stats st;

	TEST_ASSERT(p, "create");
	ct_write_pattern(p, 0, 4 * PAGE, 1);
	ct_write_pattern(p, 2 * MiB - PAGE, 2 * PAGE, 2);
	ct_write_pattern(p, TiB, PAGE, 3);
	a = ss(s);
	c = cow_tree_fork(p);
	TEST_ASSERT(c, "fork");
	b = ss(s);
	TEST_ASSERT_EQ(b.tables_used, a.tables_used + 1,
		       "fork takes one table and one scan");
	TEST_ASSERT_EQ(b.frames_used, a.frames_used,
		       "fork takes one table and one scan");
	TEST_ASSERT_EQ(b.table_scans, a.table_scans + 1,
		       "fork takes one table and one scan");
	CHECK_STORE(s);
	st = ts(c);
	TEST_ASSERT_EQ(st.pages_mapped, 7, "child shares all");
	TEST_ASSERT_EQ(st.pages_private, 0, "child shares all");
	TEST_ASSERT_EQ(st.pages_shared, 7, "child shares all");
	TEST_ASSERT_EQ(st.table_private_bytes, PAGE,
		       "child owns its root only");
	ct_expect_pattern(c, 0, 4 * PAGE, 1);
	ct_expect_pattern(c, TiB, PAGE, 3);

	/* Child writes: path of 3 tables and one frame copied. */
	a = ss(s);
	ct_write_pattern(c, PAGE + 10, 20, 4);
	b = ss(s);
	TEST_ASSERT_EQ(b.table_copies - a.table_copies, 3,
		       "tables copied on break on write");
	TEST_ASSERT_EQ(b.frame_copies - a.frame_copies, 1,
		       "frames copied on break on write");
	CHECK_STORE(s);
	ct_expect_pattern(p, 0, 4 * PAGE, 1);
	ct_expect_pattern(c, PAGE + 10, 20, 4);
	ct_expect_pattern(c, 0, PAGE + 10, 1);

	/* A second write in the same leaf table reuses the copied tables. */
	a = ss(s);
	ct_write_pattern(c, 3 * PAGE, PAGE, 5);
	b = ss(s);
	TEST_ASSERT_EQ(b.table_copies, a.table_copies,
		       "private path reused in place");
	TEST_ASSERT_EQ(b.frame_copies, a.frame_copies + 1,
		       "private path reused in place");
	/* Rewriting the same private page copies nothing. */
	ct_write_pattern(c, 3 * PAGE, PAGE, 6);
	a = ss(s);
	TEST_ASSERT_EQ(a.frame_copies, b.frame_copies, "private frame reused");
	TEST_ASSERT_EQ(a.frames_used, b.frames_used, "private frame reused");
	st = ts(c);
	TEST_ASSERT_EQ(st.pages_private, 2, "child private 2");
	TEST_ASSERT_EQ(st.pages_shared, 5, "child private 2");
	TEST_ASSERT_EQ(st.table_private_bytes, 4 * PAGE, "root + 3 copies");
	/* Parent writes after fork: child keeps the old data. */
	ct_write_pattern(p, TiB, PAGE, 7);
	ct_expect_pattern(c, TiB, PAGE, 3);
	ct_expect_pattern(p, TiB, PAGE, 7);
	CHECK_STORE(s);

	/* Parent gone: the child becomes sole owner and writes in place. */
	cow_tree_destroy(p);
	CHECK_STORE(s);
	st = ts(c);
	TEST_ASSERT_EQ(st.pages_private, 7, "orphan owns everything");
	TEST_ASSERT_EQ(st.pages_shared, 0, "orphan owns everything");
	a = ss(s);
	ct_write_pattern(c, 2 * MiB, PAGE, 8);
	b = ss(s);
	TEST_ASSERT_EQ(b.table_copies, a.table_copies,
		       "sole owner writes in place");
	TEST_ASSERT_EQ(b.frame_copies, a.frame_copies,
		       "sole owner writes in place");
	TEST_ASSERT_EQ(b.frames_used, a.frames_used,
		       "sole owner writes in place");
	TEST_ASSERT_EQ(b.tables_used, a.tables_used,
		       "sole owner writes in place");
	cow_tree_destroy(c);
	CHECK_STORE(s);
	TEST_ASSERT_EQ(ss(s).frames_used, 0, "empty");
	TEST_ASSERT_EQ(ss(s).tables_used, 0, "empty");
}

/* Fork of a fork of a fork; destroy ancestors first. */
static void test_chain(struct cow_store *s)
{
	struct cow_tree *g[4];
	uint8_t orig[2 * PAGE];
	int i, j;

	test_fill(orig, sizeof(orig), 100);

	g[0] = cow_tree_create(s);
	TEST_ASSERT(g[0], "create");
	ct_write_pattern(g[0], GiB - PAGE, 2 * PAGE, 100);
	for (i = 1; i < 4; i++) {
		g[i] = cow_tree_fork(g[i - 1]);
		TEST_ASSERT(g[i], "fork %d", i);
		/* Each generation overwrites the shared page and one more. */
		ct_write_pattern(g[i], GiB - PAGE, 8, 100 + i);
		ct_write_pattern(g[i], (uint64_t)i * 512 * GiB, PAGE, 200 + i);
		CHECK_STORE(s);
	}
	for (i = 0; i < 4; i++) {
		ct_expect_pattern(g[i], GiB - PAGE, 8, 100 + i);
		ct_expect_bytes(g[i], GiB - PAGE + 8, orig + 8, 2 * PAGE - 8);
		for (j = 1; j < 4; j++) {
			if (j <= i)
				ct_expect_pattern(g[i], j * 512 * GiB, PAGE,
						  200 + j);
			else
				ct_expect_zero(g[i], j * 512 * GiB, PAGE);
		}
	}
	cow_tree_destroy(g[0]);
	CHECK_STORE(s);
	cow_tree_destroy(g[2]);
	CHECK_STORE(s);
	ct_expect_pattern(g[1], GiB - PAGE, 8, 100 + 1);
	ct_expect_pattern(g[3], GiB - PAGE, 8, 100 + 3);
	ct_expect_pattern(g[3], 2 * 512 * GiB, PAGE, 202);
	cow_tree_destroy(g[3]);
	cow_tree_destroy(g[1]);
	CHECK_STORE(s);
	TEST_ASSERT_EQ(ss(s).frames_used, 0, "empty");
	TEST_ASSERT_EQ(ss(s).tables_used, 0, "empty");
}

/* Fork work does not depend on how much the tree maps. */
static void test_fork_cost(struct cow_store *s)
{
	struct cow_tree *p = cow_tree_create(s), *c;
	struct cow_store_stats a, b;
	uint64_t gpa;

	TEST_ASSERT(p, "create");
	for (gpa = 0; gpa < 4 * GiB; gpa += 2 * MiB)
		TEST_ASSERT_GE(cow_tree_frame_for_write(p, gpa), 0, "populate");
	a = ss(s);
	c = cow_tree_fork(p);
	TEST_ASSERT(c, "fork");
	b = ss(s);
	TEST_ASSERT_EQ(b.tables_used - a.tables_used, 1,
		       "fork of 2048 leaf tables touched more than its root");
	TEST_ASSERT_EQ(b.table_scans - a.table_scans, 1,
		       "fork of 2048 leaf tables touched more than its root");
	TEST_ASSERT_EQ(b.frames_used, a.frames_used,
		       "fork of 2048 leaf tables touched more than its root");
	TEST_ASSERT_EQ(ts(c).pages_mapped, 2048, "child maps all");
	cow_tree_destroy(c);
	TEST_ASSERT_EQ(ss(s).tables_used, a.tables_used, "destroy of the fork");
	cow_tree_destroy(p);
	CHECK_STORE(s);
}

int main(void)
{
	struct cow_store *s = cow_store_create(NULL);

	TEST_ASSERT(s, "cow_store_create");
	test_isolation(s);
	test_chain(s);
	test_fork_cost(s);
	cow_store_destroy(s);
	return 0;
}
