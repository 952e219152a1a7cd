/* Backings: a file's pages standing for a tree's absent pages, copied on
 * write, carried by fork and reset, given back with the last tree. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cow_util.h"

#define NPAGES 1536 /* two ranges: 1024 low pages, 512 high ones */

/* A temporary file of one page of junk, then NPAGES pattern pages. */
static int pattern_file(void)
{
	char path[] = "/tmp/cow-backing-XXXXXX";
	int fd = mkstemp(path);
	uint8_t *buf = malloc((NPAGES + 1) * PAGE);

	TEST_ASSERT(fd >= 0 && buf, "temporary file");
	unlink(path);
	test_fill(buf, (NPAGES + 1) * PAGE, 77);
	TEST_ASSERT_EQ(write(fd, buf, (NPAGES + 1) * PAGE),
		       (ssize_t)((NPAGES + 1) * PAGE), "write");
	free(buf);
	return fd;
}

/* Fail unless page i of the backing (range by range) reads as the file. */
static void expect_file_page(const struct cow_tree *t, uint64_t gpa, uint64_t i)
{
	uint8_t *want = malloc((NPAGES + 1) * PAGE);

	test_fill(want, (NPAGES + 1) * PAGE, 77);
	ct_expect_bytes(t, gpa, want + (i + 1) * PAGE, PAGE);
	free(want);
}

int main(void)
{
	struct cow_store_config cfg = {.max_frames = 4096,
				       .window_frames = 64 * 512};
	struct cow_store *s = cow_store_create(&cfg);
	struct cow_backing_range r[2] = {{0, 1024}, {(4 * GiB) / PAGE, 512}};
	struct cow_store_stats st;
	struct cow_backing *b;
	struct cow_tree *t, *c;
	int fd = pattern_file(), bfd;
	uint64_t off, n;

	TEST_ASSERT(s, "store");
	TEST_ASSERT(!cow_backing_create(s, fd, 1, r, 2), "unaligned offset");
	r[1].gfn = 10;
	TEST_ASSERT(!cow_backing_create(s, fd, PAGE, r, 2), "overlap");
	r[1].gfn = (4 * GiB) / PAGE;
	b = cow_backing_create(s, fd, PAGE, r, 2);
	TEST_ASSERT(b, "backing");
	t = cow_tree_create_backed(s, b);
	cow_backing_put(b); /* the tree holds it now */
	TEST_ASSERT(t, "tree");
	expect_file_page(t, 5 * PAGE, 5);
	expect_file_page(t, 4 * GiB + 3 * PAGE, 1027);
	ct_expect_zero(t, 2 * GiB, PAGE); /* outside the ranges */
	n = cow_frame_source(s, (uint32_t)cow_tree_translate(t, 7 * PAGE), &bfd,
			     &off);
	TEST_ASSERT_EQ(off, 8 * PAGE, "source offset");
	TEST_ASSERT_EQ(n, NPAGES - 7, "source run");
	TEST_ASSERT(bfd != cow_frame_fd(s), "source file");
	/* A fork shares the backing; a write copies only the page written,
	 * from the file, and never writes the file. */
	c = cow_tree_fork(t);
	TEST_ASSERT(c, "fork");
	TEST_OK(cow_tree_write(c, 9 * PAGE + 100, "xyz", 3));
	expect_file_page(t, 9 * PAGE, 9);
	expect_file_page(c, 10 * PAGE, 10);
	TEST_ASSERT(
		!cow_frame_backed(s, (uint32_t)cow_tree_translate(c, 9 * PAGE)),
		"written page in the store");
	ct_expect_bytes(c, 9 * PAGE + 100, "xyz", 3);
	{
		uint8_t head[100], want[100];
		uint8_t *all = malloc((NPAGES + 1) * PAGE);

		test_fill(all, (NPAGES + 1) * PAGE, 77);
		memcpy(want, all + 10 * PAGE, sizeof(want));
		TEST_OK(cow_tree_read(c, 9 * PAGE, head, sizeof(head)));
		TEST_ASSERT(!memcmp(head, want, sizeof(want)),
			    "copied from the file");
		free(all);
	}
	CHECK_STORE(s);
	/* A reset to the backed tree drops the copy; a plain tree reset to
	 * it adopts the backing. */
	TEST_OK(cow_tree_reset(c, t));
	expect_file_page(c, 9 * PAGE, 9);
	{
		struct cow_tree *p = cow_tree_create(s);

		TEST_ASSERT(p, "plain tree");
		TEST_OK(cow_tree_reset(p, t));
		TEST_ASSERT(cow_tree_backing(p) == cow_tree_backing(t),
			    "adopted");
		expect_file_page(p, 4 * GiB, 1024);
		cow_tree_destroy(p);
	}
	CHECK_STORE(s);
	cow_tree_destroy(c);
	cow_tree_destroy(t);
	cow_store_stats(s, &st);
	TEST_ASSERT_EQ(st.window_frames_held, 0, "window given back");
	TEST_ASSERT_EQ(st.frames_used, 0, "frames freed");
	CHECK_STORE(s);
	cow_store_destroy(s);
	close(fd);
	return 0;
}
