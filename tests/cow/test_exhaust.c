/* Allocator exhaustion: a write that cannot complete changes nothing. */
#include "cow_util.h"

#define NPROBE 6
static const uint64_t probe[NPROBE] = {0,   2 * MiB - PAGE,	 2 * MiB, GiB,
				       TiB, COW_GPA_LIMIT - PAGE};

/* Everything observable about a store and up to 4 of its trees. */
struct state {
	struct cow_store_stats ss;
	struct cow_stats ts[4];
	uint8_t data[4][NPROBE][PAGE];
};

static void capture(struct cow_store *s, struct cow_tree **t, int n,
		    struct state *st)
{
	int i, j;

	memset(st, 0, sizeof(*st));
	cow_store_stats(s, &st->ss);
	for (i = 0; i < n; i++) {
		cow_tree_stats(t[i], &st->ts[i]);
		for (j = 0; j < NPROBE; j++)
			TEST_OK(cow_tree_read(t[i], probe[j], st->data[i][j],
					      PAGE));
	}
}

/* Fail unless the store and trees look exactly as in *before. */
static void expect_unchanged(struct cow_store *s, struct cow_tree **t, int n,
			     const struct state *before)
{
	static struct state now;

	capture(s, t, n, &now);
	TEST_ASSERT(!memcmp(&now.ss, &before->ss, sizeof(now.ss)),
		    "store stats changed (frames %llu->%llu tables %llu->%llu)",
		    (unsigned long long)before->ss.frames_used,
		    (unsigned long long)now.ss.frames_used,
		    (unsigned long long)before->ss.tables_used,
		    (unsigned long long)now.ss.tables_used);
	TEST_ASSERT(!memcmp(now.ts, before->ts, sizeof(now.ts)),
		    "tree stats changed");
	TEST_ASSERT(!memcmp(now.data, before->data, sizeof(now.data)),
		    "tree content changed");
	CHECK_STORE(s);
}

/* Expect -ENOMEM from writing [gpa, gpa+len) of t[which], nothing else. */
static void expect_enomem(struct cow_store *s, struct cow_tree **t, int n,
			  int which, uint64_t gpa, size_t len)
{
	static struct state before;
	uint8_t *buf = malloc(len);
	int r;

	TEST_ASSERT(buf, "malloc");
	test_fill(buf, len, gpa);
	capture(s, t, n, &before);
	r = cow_tree_write(t[which], gpa, buf, len);
	TEST_ASSERT_EQ(r, -ENOMEM, "write of %#llx+%zu",
		       (unsigned long long)gpa, len);
	expect_unchanged(s, t, n, &before);
	if (len == 1) {
		TEST_ASSERT_EQ(cow_tree_frame_for_write(t[which], gpa), -ENOMEM,
			       "frame_for_write");
		expect_unchanged(s, t, n, &before);
	}
	free(buf);
}

static void test_frames(void)
{
	struct cow_store_config cfg = {.max_frames = 4, .max_tables = 64};
	struct cow_store *s = cow_store_create(&cfg);
	struct cow_tree *t[2];

	TEST_ASSERT(s, "store");
	t[0] = cow_tree_create(s);
	TEST_ASSERT(t[0], "create");
	/* Five pages when four remain: not even the first is written. */
	expect_enomem(s, t, 1, 0, 2 * MiB - 3 * PAGE, 5 * PAGE);
	/* Exactly four across a leaf-table boundary fit. */
	ct_write_pattern(t[0], 2 * MiB - 2 * PAGE, 4 * PAGE, 1);
	expect_enomem(s, t, 1, 0, 0, 1);
	expect_enomem(s, t, 1, 0, COW_GPA_LIMIT - 1, 1);
	/* Rewriting private pages needs no frame. */
	ct_write_pattern(t[0], 2 * MiB - 2 * PAGE, 4 * PAGE, 2);
	t[1] = cow_tree_fork(t[0]);
	TEST_ASSERT(t[1], "fork");
	/* A shared page needs a frame: none left, on either side. */
	expect_enomem(s, t, 2, 1, 2 * MiB - 1, 1);
	expect_enomem(s, t, 2, 0, 2 * MiB, PAGE);
	/* Once the parent is gone the child owns the frames again. */
	cow_tree_destroy(t[0]);
	t[0] = t[1];
	ct_write_pattern(t[0], 2 * MiB - 2 * PAGE, 4 * PAGE, 3);
	ct_expect_pattern(t[0], 2 * MiB - 2 * PAGE, 4 * PAGE, 3);
	CHECK_STORE(s);
	cow_store_destroy(s);
}

static void test_tables(void)
{
	struct cow_store_config cfg = {.max_frames = 64, .max_tables = 9};
	struct cow_store *s = cow_store_create(&cfg);
	struct cow_tree *t[3];

	TEST_ASSERT(s, "store");
	t[0] = cow_tree_create(s);
	TEST_ASSERT(t[0], "create");
	/* L2, L1 and two leaves: 4 more tables (5 used). */
	ct_write_pattern(t[0], 2 * MiB - PAGE, 2 * PAGE, 1);
	t[1] = cow_tree_fork(t[0]); /* 6 used */
	TEST_ASSERT(t[1], "fork");
	/* Crossing the leaf boundary in the child needs 4 copies: 10 > 9. */
	expect_enomem(s, t, 2, 1, 2 * MiB - 1, 2);
	/* A new region needs 3 tables in the parent too: fits exactly... */
	ct_write_pattern(t[0], TiB, 1, 2);
	/* ...after which nothing needing a table fits. */
	expect_enomem(s, t, 2, 1, 2 * MiB - PAGE, 1);
	expect_enomem(s, t, 2, 0, 4 * MiB, 1);
	expect_enomem(s, t, 2, 0, 3 * TiB, 1);
	/* The parent still writes its private page in place. */
	ct_write_pattern(t[0], TiB, PAGE, 3);
	t[2] = cow_tree_fork(t[0]);
	TEST_ASSERT(!t[2], "fork at the table limit");
	TEST_ASSERT_EQ(errno, ENOMEM, "fork at the table limit");
	TEST_ASSERT(!cow_tree_create(s), "create");
	TEST_ASSERT_EQ(errno, ENOMEM, "create");
	CHECK_STORE(s);
	ct_expect_pattern(t[1], 2 * MiB - PAGE, 2 * PAGE, 1);
	cow_tree_destroy(t[0]);
	/* Freed tables: the child can break its whole path now. */
	ct_write_pattern(t[1], 2 * MiB - 1, 2, 4);
	ct_expect_zero(t[1], TiB, 1);
	CHECK_STORE(s);
	cow_store_destroy(s);
}

int main(void)
{
	test_frames();
	test_tables();
	return 0;
}
