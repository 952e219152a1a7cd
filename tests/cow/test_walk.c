/* Private-page iteration and per-tree accounting after fork and writes. */
#include "cow_util.h"

#define MAX_SEEN 64

struct seen {
	const struct cow_tree *tree;
	uint64_t gpa[MAX_SEEN];
	size_t n;
	size_t stop_after; /* 0 = never stop */
};

static int record(uint64_t gpa, uint32_t frame, void *arg)
{
	struct seen *s = arg;

	TEST_ASSERT_LT(s->n, MAX_SEEN, "too many private pages");
	TEST_ASSERT_EQ(cow_tree_translate(s->tree, gpa), frame,
		       "callback frame differs from translate at %#llx",
		       (unsigned long long)gpa);
	s->gpa[s->n++] = gpa;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

/* Fail unless tree's private pages are exactly want[] (in gpa order). */
static void expect_private(const struct cow_tree *t, const uint64_t *want,
			   size_t n)
{
	struct seen s = {.tree = t};
	size_t i;

	TEST_OK(cow_tree_for_each_private(t, record, &s));
	TEST_ASSERT_EQ(s.n, n, "private pages");
	for (i = 0; i < n; i++)
		TEST_ASSERT_EQ(s.gpa[i], want[i], "private page %zu", i);
}

static void expect_stats(const struct cow_tree *t, uint64_t mapped,
			 uint64_t priv, uint64_t tables, uint64_t priv_tables)
{
	struct cow_stats st;

	cow_tree_stats(t, &st);
	TEST_ASSERT_EQ(st.pages_mapped, mapped);
	TEST_ASSERT_EQ(st.pages_private, priv);
	TEST_ASSERT_EQ(st.pages_shared, mapped - priv);
	TEST_ASSERT_EQ(st.table_bytes, tables * PAGE);
	TEST_ASSERT_EQ(st.table_private_bytes, priv_tables * PAGE);
}

int main(void)
{
	struct cow_store *s = cow_store_create(NULL);
	struct cow_tree *p, *c;
	const uint64_t pages[] = {0, PAGE, 2 * MiB, GiB};
	const uint64_t c_priv[] = {PAGE, TiB}, p_priv[] = {PAGE};
	struct seen early;
	size_t i;

	TEST_ASSERT(s, "cow_store_create");
	p = cow_tree_create(s);
	TEST_ASSERT(p, "create");
	expect_private(p, NULL, 0);
	expect_stats(p, 0, 0, 1, 1);
	for (i = 0; i < 4; i++)
		ct_write_pattern(p, pages[i], PAGE, i);
	/* root, L2[0..512G), L1[0..1G) + L1[1G..2G), leaves 0, 2M, 1G */
	expect_stats(p, 4, 4, 7, 7);
	expect_private(p, pages, 4);

	c = cow_tree_fork(p);
	TEST_ASSERT(c, "fork");
	expect_private(c, NULL, 0);
	expect_private(p, NULL, 0);
	expect_stats(c, 4, 0, 7, 1);
	expect_stats(p, 4, 0, 7, 1);

	ct_write_pattern(c, PAGE, 1, 10); /* copies L2, L1[0..1G), leaf 0 */
	ct_write_pattern(c, TiB, 1, 11);  /* new L2, L1 and leaf */
	CHECK_STORE(s);
	/* c: root + 3 copies + 3 new private; L1[1G..2G) and leaves 2M, 1G
	 * still shared. */
	expect_stats(c, 5, 2, 10, 7);
	expect_private(c, c_priv, 2);
	/* p: its path to PAGE now has refcount 1 all the way and PAGE's old
	 * frame is p's alone; page 0's frame is in both leaf tables. */
	expect_stats(p, 4, 1, 7, 4);
	expect_private(p, p_priv, 1);

	/* A nonzero callback result stops the walk and is returned. */
	early = (struct seen){.tree = c, .stop_after = 1};
	TEST_ASSERT_EQ(cow_tree_for_each_private(c, record, &early), 42,
		       "early stop");
	TEST_ASSERT_EQ(early.n, 1, "early stop");

	cow_tree_destroy(p);
	/* c alone: everything it reaches is private. */
	expect_stats(c, 5, 5, 10, 10);
	CHECK_STORE(s);
	cow_tree_destroy(c);
	cow_store_destroy(s);
	return 0;
}
