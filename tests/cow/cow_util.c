/* Helpers of the cow engine tests: seeded patterns and content checks. */
#include "cow_util.h"

/* Fail unless [gpa, gpa+len) of tree holds exactly want. */
void ct_expect_bytes(const struct cow_tree *t, uint64_t gpa, const void *want,
		     size_t len)
{
	uint8_t *got = malloc(len ? len : 1);

	TEST_ASSERT(got, "malloc");
	TEST_OK(cow_tree_read(t, gpa, got, len));
	TEST_ASSERT(!memcmp(got, want, len), "content differs at %#llx+%zu",
		    (unsigned long long)gpa, len);
	free(got);
}

/* Fail unless [gpa, gpa+len) of tree reads as zero. */
void ct_expect_zero(const struct cow_tree *t, uint64_t gpa, size_t len)
{
	uint8_t *got = malloc(len ? len : 1);

	TEST_ASSERT(got, "malloc");
	TEST_OK(cow_tree_read(t, gpa, got, len));
	TEST_ASSERT(test_all_zero(got, len), "nonzero at %#llx+%zu",
		    (unsigned long long)gpa, len);
	free(got);
}

/* Write the pattern of seed at [gpa, gpa+len) of t. */
void ct_write_pattern(struct cow_tree *t, uint64_t gpa, size_t len,
		      uint64_t seed)
{
	uint8_t *buf = malloc(len ? len : 1);

	TEST_ASSERT(buf, "malloc");
	test_fill(buf, len, seed);
	TEST_OK(cow_tree_write(t, gpa, buf, len));
	free(buf);
}

/* Fail unless [gpa, gpa+len) holds the pattern ct_write_pattern wrote. */
void ct_expect_pattern(const struct cow_tree *t, uint64_t gpa, size_t len,
		       uint64_t seed)
{
	uint8_t *buf = malloc(len ? len : 1);

	TEST_ASSERT(buf, "malloc");
	test_fill(buf, len, seed);
	ct_expect_bytes(t, gpa, buf, len);
	free(buf);
}
