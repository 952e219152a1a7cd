/* Read, write and translate at the edges of pages, tables and the space. */
#include "cow_util.h"

#define MAX_GFNS 4096

/* Pages written so far, to compute the expected accounting. */
static uint64_t gfns[MAX_GFNS];
static size_t ngfns;

static void note_range(uint64_t gpa, size_t len)
{
	uint64_t g;

	for (g = gpa / PAGE; g <= (gpa + len - 1) / PAGE; g++) {
		size_t i;

		for (i = 0; i < ngfns && gfns[i] != g; i++)
			;
		if (i == ngfns) {
			TEST_ASSERT_LT(ngfns, MAX_GFNS, "too many pages");
			gfns[ngfns++] = g;
		}
	}
}

/* Distinct values of gfn >> shift among the written pages. */
static uint64_t distinct(int shift)
{
	uint64_t n = 0;
	size_t i, j;

	for (i = 0; i < ngfns; i++) {
		for (j = 0; j < i && gfns[j] >> shift != gfns[i] >> shift; j++)
			;
		n += j == i;
	}
	return n;
}

/* Write a pattern, check it, its surroundings, the checker and stats. */
static void write_check(struct cow_store *s, struct cow_tree *t, uint64_t gpa,
			size_t len)
{
	struct cow_stats st;

	ct_write_pattern(t, gpa, len, gpa ^ len);
	note_range(gpa, len);
	ct_expect_pattern(t, gpa, len, gpa ^ len);
	CHECK_STORE(s);
	cow_tree_stats(t, &st);
	TEST_ASSERT_EQ(st.pages_mapped, ngfns, "pages mapped");
	TEST_ASSERT_EQ(st.pages_private, ngfns,
		       "an unforked tree owns everything");
	TEST_ASSERT_EQ(st.pages_shared, 0, "an unforked tree owns everything");
	TEST_ASSERT_EQ(st.table_bytes,
		       PAGE * (1 + distinct(9) + distinct(18) + distinct(27)),
		       "table_bytes");
	TEST_ASSERT_EQ(st.table_private_bytes, st.table_bytes,
		       "private tables");
}

int main(void)
{
	struct cow_store *s = cow_store_create(NULL);
	struct cow_tree *t;
	const uint64_t top = COW_GPA_LIMIT;
	uint8_t b[8];
	int64_t f;

	TEST_ASSERT(s, "cow_store_create");
	t = cow_tree_create(s);
	TEST_ASSERT(t, "cow_tree_create");
	CHECK_STORE(s);

	/* Empty tree: everything reads as zero, nothing translates. */
	ct_expect_zero(t, 0, 3 * PAGE);
	ct_expect_zero(t, top - 2 * PAGE, 2 * PAGE);
	TEST_ASSERT_EQ(cow_tree_translate(t, 0), -ENOENT, "empty translate");
	TEST_ASSERT_EQ(cow_tree_translate(t, top), -ENOENT, "beyond the space");

	/* First and last page of the 48-bit space and of 1 TiB. */
	write_check(s, t, 0, PAGE);
	write_check(s, t, top - PAGE, PAGE);
	write_check(s, t, TiB - PAGE, PAGE);
	write_check(s, t, TiB, PAGE);
	/* Last byte of the space; sub-page writes. */
	write_check(s, t, top - 1, 1);
	write_check(s, t, 5 * PAGE + 7, 100);
	/* Crossing a page, a 2 MiB leaf table, 1 GiB, 512 GiB boundaries. */
	write_check(s, t, 9 * PAGE - 3, 10);
	write_check(s, t, 2 * MiB - 100, 200);
	write_check(s, t, GiB - 3 * PAGE - 5, 6 * PAGE + 17);
	write_check(s, t, 512 * GiB - PAGE / 2, PAGE);
	write_check(s, t, 7 * 512 * GiB - 2 * MiB - 1, 4 * MiB + 2);
	/* Everything earlier is still intact. */
	ct_expect_pattern(t, 0, PAGE, 0 ^ PAGE);
	ct_expect_pattern(t, top - PAGE, PAGE - 1, (top - PAGE) ^ PAGE);
	ct_expect_pattern(t, 9 * PAGE - 3, 10, (9 * PAGE - 3) ^ 10);
	/* Neighbours of sub-page writes read as zero where not written. */
	TEST_OK(cow_tree_read(t, 5 * PAGE, b, 7));
	TEST_ASSERT(test_all_zero(b, 7), "bytes before a sub-page write");
	ct_expect_zero(t, 3 * PAGE, PAGE);
	ct_expect_zero(t, 2 * TiB, PAGE);

	/* Translate agrees with reads through the frame store and the fd. */
	f = cow_tree_translate(t, top - 1);
	TEST_ASSERT_GE(f, 0, "last page translates");
	TEST_ASSERT_EQ(cow_tree_translate(t, 3 * PAGE), -ENOENT, "unmapped");
	{
		uint8_t want[PAGE], got[PAGE];

		TEST_OK(cow_tree_read(t, top - PAGE, want, PAGE));
		TEST_ASSERT(!memcmp(cow_frame_ptr(s, (uint32_t)f), want, PAGE),
			    "frame pointer");
		TEST_ASSERT_EQ(pread(cow_frame_fd(s), got, PAGE,
				     (off_t)cow_frame_offset((uint32_t)f)),
			       (ssize_t)PAGE, "pread");
		TEST_ASSERT(!memcmp(got, want, PAGE), "frame fd");
	}

	/* Ranges leaving the space are refused; empty ones are fine. */
	TEST_ASSERT_EQ(cow_tree_write(t, top - 1, b, 2), -EINVAL, "write out");
	TEST_ASSERT_EQ(cow_tree_read(t, top, b, 1), -EINVAL, "read out");
	TEST_ASSERT_EQ(cow_tree_write(t, UINT64_MAX, b, 2), -EINVAL, "wrap");
	TEST_OK(cow_tree_write(t, top, b, 0));
	TEST_OK(cow_tree_read(t, top, b, 0));
	TEST_ASSERT_EQ(cow_tree_frame_for_write(t, top), -EINVAL, "ffw out");

	/* frame_for_write on a private page returns the same frame. */
	TEST_ASSERT_EQ(cow_tree_frame_for_write(t, top - 1), f, "private ffw");
	/* ... and on an unmapped page maps a zero frame. */
	f = cow_tree_frame_for_write(t, 3 * PAGE);
	TEST_ASSERT_GE(f, 0, "ffw map");
	TEST_ASSERT_EQ(cow_tree_translate(t, 3 * PAGE), f, "ffw map");
	ct_expect_zero(t, 3 * PAGE, PAGE);
	CHECK_STORE(s);

	cow_tree_destroy(t);
	CHECK_STORE(s);
	{
		struct cow_store_stats ss;

		cow_store_stats(s, &ss);
		TEST_ASSERT_EQ(ss.frames_used, 0, "destroy frees everything");
		TEST_ASSERT_EQ(ss.tables_used, 0, "destroy frees everything");
	}
	cow_store_destroy(s);
	return 0;
}
