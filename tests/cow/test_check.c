/* The invariant checker catches each kind of corruption it is meant to. */
#include "cow_internal.h"
#include "cow_util.h"

/* Fail unless the checker rejects the store, mentioning word. */
static void expect_broken(struct cow_store *s, const char *word)
{
	char why[256];
	int r = cow_store_check(s, why, sizeof(why));

	TEST_ASSERT_EQ(r, -EUCLEAN, "checker result for '%s'", word);
	TEST_ASSERT(strstr(why, word), "checker said '%s', expected '%s'", why,
		    word);
}

int main(void)
{
	struct cow_store_config cfg = {.punch_batch = 1};
	struct cow_store *s = cow_store_create(&cfg);
	struct cow_tree *p, *c;
	uint64_t *root, *l2, saved;
	uint32_t f, l2i;
	int64_t leak;

	TEST_ASSERT(s, "store");
	p = cow_tree_create(s);
	TEST_ASSERT(p, "create");
	ct_write_pattern(p, 0, 3 * PAGE, 1);
	ct_write_pattern(p, TiB, PAGE, 2);
	c = cow_tree_fork(p);
	TEST_ASSERT(c, "fork");
	ct_write_pattern(c, PAGE, 1, 3);
	CHECK_STORE(s);

	root = cow_table_ptr(s, p->root);
	l2i = cow_pte_idx(root[0]);
	l2 = cow_table_ptr(s, l2i);
	f = (uint32_t)cow_tree_translate(p, 0);

	/* A table refcount one too high, then one too low. */
	s->tables.ref[l2i]++;
	expect_broken(s, "refcount");
	s->tables.ref[l2i] -= 2;
	expect_broken(s, "refcount");
	s->tables.ref[l2i]++;
	CHECK_STORE(s);

	/* A frame reference not taken (as if fork forgot a ref++). */
	s->frames.ref[f]--;
	expect_broken(s, "frame");
	s->frames.ref[f]++;

	/* A table allocated but reachable from no tree. */
	leak = cow_table_alloc(s);
	TEST_ASSERT_GE(leak, 0, "alloc");
	expect_broken(s, "refcount");
	cow_table_put(s, (uint32_t)leak, 0);
	CHECK_STORE(s);

	/* A malformed entry and an entry pointing past the pool. */
	saved = l2[0];
	l2[0] |= 1ull << 60;
	expect_broken(s, "malformed");
	l2[0] = cow_pte_make(s->tables.next + 5);
	expect_broken(s, "never allocated");
	l2[0] = saved;
	CHECK_STORE(s);

	/* A subtree reached at two different levels. */
	saved = root[5];
	root[5] = cow_pte_make(cow_pte_idx(l2[0]));
	s->tables.ref[cow_pte_idx(l2[0])]++;
	expect_broken(s, "levels");
	s->tables.ref[cow_pte_idx(l2[0])]--;
	root[5] = saved;
	CHECK_STORE(s);

	/* Free-list damage: a listed-twice index, a lost count, dirt. */
	cow_tree_destroy(c);
	CHECK_STORE(s);
	TEST_ASSERT_GE(s->tables.nfree, 2, "the child's copies were freed");
	TEST_ASSERT_GE(s->frames.nfree, 1, "the child's copies were freed");
	saved = s->tables.free[1];
	s->tables.free[1] = s->tables.free[0];
	expect_broken(s, "listed twice");
	s->tables.free[1] = (uint32_t)saved;
	s->tables.used++;
	expect_broken(s, "in use");
	s->tables.used--;
	f = s->frames.free[s->frames.nfree - 1];
	((uint8_t *)cow_frame_ptr(s, f))[100] = 1;
	expect_broken(s, "not zero");
	((uint8_t *)cow_frame_ptr(s, f))[100] = 0;
	CHECK_STORE(s);

	cow_store_destroy(s);
	return 0;
}
