/* Clones made ahead are warmed (cowvm_mem_stats' pages_prefaulted) for the
 * pages the snapshot holds and, once a destroyed clone that ran had them
 * recorded, for the pages it touched too, and still come out of
 * cowvm_clone in the snapshot's exact state: all of RAM equal to a clone
 * made cold, the region as the model says, registers intact through the
 * next rounds. */
#include <stdlib.h>
#include <string.h>

#include "fork_util.h"

#define MEM	 (64 * MIB)
#define ZERO_GPA (48 * MIB) /* pages the snapshot does not hold */
#define NZERO	 16

static struct ft f;
static struct fnode parent;

/* A clone of s, checked against the model; *warmed its pages_prefaulted. */
static struct fnode clone_of(struct cowvm_snapshot *s, uint64_t *warmed)
{
	struct fnode c = ft_child(&parent, cowvm_clone(s));
	struct cowvm_mem_stats ms;

	TEST_OK(cowvm_mem_stats(c.vm, &ms));
	*warmed = ms.pages_prefaulted;
	ft_check_mem(&f, &c, "clone");
	return c;
}

/* Compare all of a's RAM with b's, page by page. */
static void same_ram(struct cowvm *a, struct cowvm *b)
{
	static uint8_t pa[4096], pb[4096];

	for (uint64_t gpa = 0; gpa < MEM; gpa += sizeof(pa)) {
		TEST_OK(cowvm_read(a, gpa, pa, sizeof(pa)));
		TEST_OK(cowvm_read(b, gpa, pb, sizeof(pb)));
		TEST_ASSERT(!memcmp(pa, pb, sizeof(pa)),
			    "page 0x%" PRIx64 " of the warmed clone differs "
			    "from a cold clone's",
			    gpa);
	}
}

int main(int argc, char **argv)
{
	struct fnode first, warm, other, cold;
	struct cowvm_snapshot *s;
	uint64_t n, n2, held, warmed, region = 8 * MIB / 4096;

	ft_init(&f, argv[1], MEM, ft_args(argc, argv), 23, 8, 3, 16);
	parent = ft_boot(&f);
	s = cowvm_snapshot(parent.vm);
	TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(parent.vm));

	/* Nothing recorded yet: warmed for the pages s holds. */
	TEST_OK(cowvm_snapshot_ahead(s, 1));
	first = clone_of(s, &n);
	TEST_ASSERT_GE(n, region, "pages warmed: the region s holds");
	held = n;
	for (uint64_t i = 0; i < NZERO; i++) { /* touch pages s lacks */
		uint64_t v = 0;

		TEST_OK(cowvm_read(parent.vm, ZERO_GPA + i * 4096, &v, 8));
		TEST_ASSERT_EQ(v, 0, "a page meant to be zero");
		TEST_OK(cowvm_write(first.vm, ZERO_GPA + i * 4096, &i, 8));
	}
	ft_advance(&f, &first, 7);
	TEST_OK(cowvm_snapshot_ahead(s, 0));
	TEST_OK(cowvm_snapshot_keep(s, 0));
	cowvm_destroy(first.vm); /* records what it touched */

	/* Clones made ahead from now on are warmed for those pages too,
	 * then reset. One made by the library's thread before the record
	 * may still come in (warmed for what s holds): of two, one is new. */
	TEST_OK(cowvm_snapshot_ahead(s, 2));
	warm = clone_of(s, &n);
	other = clone_of(s, &n2);
	TEST_ASSERT_GE(n < n2 ? n : n2, held, "pages warmed: what s holds");
	if (n < n2) {
		struct fnode t = warm;

		warm = other;
		other = t;
		n = n2;
	}
	TEST_ASSERT_GE(n, held + NZERO, "pages warmed after the record");
	TEST_ASSERT_LE(n, MEM / 4096, "pages warmed: more than RAM");
	warmed = n;
	cowvm_destroy(other.vm);
	TEST_OK(cowvm_snapshot_ahead(s, 0));
	TEST_OK(cowvm_snapshot_keep(s, 0));
	cold = clone_of(s, &n);
	TEST_ASSERT_EQ(n, 0, "a clone made on the calling thread");
	same_ram(warm.vm, cold.vm);

	/* Both run their rounds to the end as the model says. */
	for (uint64_t r = 0; r < f.rounds; r++) {
		ft_advance(&f, &warm, 100 + r);
		ft_advance(&f, &cold, 100 + r);
		ft_check_mem(&f, &warm, "warmed clone after a round");
	}
	TEST_ASSERT(warm.exited && cold.exited, "forktest did not finish");
	cowvm_destroy(warm.vm);
	cowvm_destroy(cold.vm);
	cowvm_snapshot_put(s);
	cowvm_destroy(parent.vm);
	ft_fini(&f);
	printf("warm: clones made ahead warmed for %" PRIu64
	       " pages, then %" PRIu64 ", equal to a cold one\n",
	       held, warmed);
	return 0;
}
