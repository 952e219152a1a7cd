/* Helpers shared by the cow engine tests: sizes, the invariant check, and
 * seeded patterns written to and expected from trees. */
#ifndef COW_UTIL_H
#define COW_UTIL_H

#include <stdint.h>

#include "cow.h"
#include "test_util.h"

#define KiB  (1ull << 10)
#define MiB  (1ull << 20)
#define GiB  (1ull << 30)
#define TiB  (1ull << 40)
#define PAGE 4096ull

/* Fail unless the invariant checker accepts the store. */
#define CHECK_STORE(s)                                                         \
	do {                                                                   \
		char why_[256];                                                \
		int r_ = cow_store_check((s), why_, sizeof(why_));             \
		TEST_ASSERT_EQ(r_, 0, "checker: %s", why_);                    \
	} while (0)

/* Fail unless [gpa, gpa+len) of tree holds exactly want. */
void ct_expect_bytes(const struct cow_tree *t, uint64_t gpa, const void *want,
		     size_t len);

/* Fail unless [gpa, gpa+len) of tree reads as zero. */
void ct_expect_zero(const struct cow_tree *t, uint64_t gpa, size_t len);

/* Write the pattern of seed (test_fill) at [gpa, gpa+len) of t; fails the
 * test on error. */
void ct_write_pattern(struct cow_tree *t, uint64_t gpa, size_t len,
		      uint64_t seed);

/* Fail unless [gpa, gpa+len) holds the pattern ct_write_pattern wrote. */
void ct_expect_pattern(const struct cow_tree *t, uint64_t gpa, size_t len,
		       uint64_t seed);

#endif
