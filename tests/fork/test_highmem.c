/* A 4 GiB guest, whose RAM has a second range above 4 GiB: host writes at
 * both ends of both ranges are inherited by a clone and a fork, stay
 * private to whoever writes them afterwards and are undone by a reset, while
 * forktest runs in the low range and matches forkref. */
#include "fork_util.h"

static const uint64_t gpas[] = {
	0x40000000ull, COWVM_LOW_MEM_MAX - 4096, COWVM_HIGH_MEM_BASE,
	COWVM_HIGH_MEM_BASE + (1ull << 30) - 4096, /* the last page of RAM */
};
#define NGPAS (sizeof(gpas) / sizeof(gpas[0]))

/* Fill page with the content named by tag. */
static void tag_page(uint64_t *page, uint64_t tag)
{
	for (uint64_t i = 0; i < FORKREF_WORDS; i++)
		page[i] = tag * 0x100000001b3ull + i;
}

/* Write the page tagged base + i at gpas[i] of vm, for every i. */
static void put_tags(struct cowvm *vm, uint64_t base)
{
	uint64_t page[FORKREF_WORDS];

	for (uint64_t i = 0; i < NGPAS; i++) {
		tag_page(page, base + i);
		TEST_OK(cowvm_write(vm, gpas[i], page, sizeof(page)));
	}
}

/* Assert that gpas[i] of vm holds the page tagged base + i, for every i. */
static void expect_tags(struct cowvm *vm, uint64_t base, const char *who)
{
	uint64_t got[FORKREF_WORDS], want[FORKREF_WORDS];

	for (uint64_t i = 0; i < NGPAS; i++) {
		tag_page(want, base + i);
		TEST_OK(cowvm_read(vm, gpas[i], got, sizeof(got)));
		TEST_ASSERT(!memcmp(got, want, sizeof(got)),
			    "%s: page at 0x%" PRIx64 " is not tag %" PRIu64,
			    who, gpas[i], base + i);
	}
}

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	enum cowvm_mem_mode mode = ft_args(argc, argv);
	struct cowvm_snapshot *s;
	struct fnode p, c, g;
	struct ft f;

	ft_init(&f, argv[1], 4ull << 30, mode, 5, 4, 3, 16);
	p = ft_boot(&f);
	put_tags(p.vm, 10);
	s = cowvm_snapshot(p.vm);
	TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(p.vm));
	c = ft_child(&p, cowvm_clone(s));
	g = ft_child(&p, cowvm_fork(p.vm));
	expect_tags(c.vm, 10, "clone");
	expect_tags(g.vm, 10, "fork");

	put_tags(c.vm, 20);
	put_tags(g.vm, 30);
	expect_tags(p.vm, 10, "parent after its copies wrote");
	expect_tags(c.vm, 20, "clone after its writes");
	expect_tags(g.vm, 30, "fork after its writes");
	ft_advance(&f, &c, 3);
	ft_advance(&f, &p, 4);
	ft_advance(&f, &g, 5);
	ft_check_mem(&f, &c, "clone");
	ft_check_mem(&f, &p, "parent");
	ft_check_mem(&f, &g, "fork");

	TEST_OK(cowvm_reset(c.vm, s));
	c.done = 0;
	expect_tags(c.vm, 10, "clone after a reset");
	ft_check_mem(&f, &c, "clone after a reset");
	expect_tags(g.vm, 30, "fork after the clone's reset");
	while (!c.exited)
		ft_advance(&f, &c, 40 + c.done);
	ft_check_mem(&f, &c, "clone at its end");

	cowvm_destroy(c.vm);
	cowvm_destroy(p.vm);
	cowvm_destroy(g.vm);
	cowvm_snapshot_put(s);
	ft_fini(&f);
	printf("highmem: 4 GiB guest, %zu pages in both RAM ranges ok\n",
	       NGPAS);
	return 0;
}
