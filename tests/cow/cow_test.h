/* Helpers shared by the cow engine tests. */
#ifndef COW_TEST_H
#define COW_TEST_H

#include <stdint.h>

#include "cow.h"
#include "test.h"

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
		TEST_ASSERT(r_ == 0, "checker: %d %s", r_, why_);              \
	} while (0)

/* Deterministic bytes derived from seed (xorshift). */
static inline void fill(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

/* True when len bytes at buf are all zero. */
static inline int all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Fail unless [gpa, gpa+len) of tree holds exactly want. */
static inline void expect_bytes(const struct cow_tree *t, uint64_t gpa,
				const void *want, size_t len)
{
	uint8_t *got = malloc(len ? len : 1);

	TEST_ASSERT(got, "malloc");
	TEST_OK(cow_tree_read(t, gpa, got, len));
	TEST_ASSERT(!memcmp(got, want, len), "content differs at %#llx+%zu",
		    (unsigned long long)gpa, len);
	free(got);
}

/* Fail unless [gpa, gpa+len) of tree reads as zero. */
static inline void expect_zero(const struct cow_tree *t, uint64_t gpa,
			       size_t len)
{
	uint8_t *got = malloc(len ? len : 1);

	TEST_ASSERT(got, "malloc");
	TEST_OK(cow_tree_read(t, gpa, got, len));
	TEST_ASSERT(all_zero(got, len), "nonzero at %#llx+%zu",
		    (unsigned long long)gpa, len);
	free(got);
}

/* Write a seeded pattern and return nothing; fails the test on error. */
static inline void write_pattern(struct cow_tree *t, uint64_t gpa, size_t len,
				 uint64_t seed)
{
	uint8_t *buf = malloc(len ? len : 1);

	TEST_ASSERT(buf, "malloc");
	fill(buf, len, seed);
	TEST_OK(cow_tree_write(t, gpa, buf, len));
	free(buf);
}

/* Fail unless [gpa, gpa+len) holds the pattern write_pattern wrote. */
static inline void expect_pattern(const struct cow_tree *t, uint64_t gpa,
				  size_t len, uint64_t seed)
{
	uint8_t *buf = malloc(len ? len : 1);

	TEST_ASSERT(buf, "malloc");
	fill(buf, len, seed);
	expect_bytes(t, gpa, buf, len);
	free(buf);
}

static inline int stats_equal(const struct cow_stats *a,
			      const struct cow_stats *b)
{
	return !memcmp(a, b, sizeof(*a));
}

#endif
