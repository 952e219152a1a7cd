/* Long use stays bounded and exact: a 1 GiB VM that writes 64 scattered
 * pages between snapshots and keeps every snapshot takes COUNT of them
 * (5,000; LONGUSE_COUNT overrides), and every 250 a clone of the latest
 * and a clone of an earlier one read every page as the model says, while
 * the VM and each clone take at most the stated bound of host mappings
 * (COWVM_MAPPINGS_MAX, or the environment's). Scattered writes once left
 * one mapping per run of pages, so clones failed at vm.max_map_count. */
#include <stdlib.h>

#include "test_util.h"
#include "test_vm.h"

#define MEM	  (1ull << 30)
#define PAGE	  4096ull
#define NPAGES	  (MEM / PAGE)
#define PER_ROUND 64
#define EVERY	  250

/* The word written at page p by snapshot round k (never 0). */
static uint64_t model(uint64_t p, uint64_t k)
{
	return (p * 0x9e3779b97f4a7c15ull) ^ ((k + 1) << 20) ^ 1;
}

/* The next of a reproducible stream of page numbers. */
static uint64_t next_page(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s % NPAGES;
}

/* The bound this process runs under: the environment's or the default. */
static uint64_t bound(void)
{
	const char *env = getenv("COWVM_MAPPINGS_MAX");

	return env ? strtoull(env, NULL, 0) : COWVM_MAPPINGS_MAX;
}

/* Fail unless vm takes at most the bound of host mappings. */
static void check_mappings(struct cowvm *vm, const char *what)
{
	struct cowvm_mem_stats st;

	TEST_OK(cowvm_mem_stats(vm, &st));
	TEST_ASSERT(st.mappings <= bound(), "%s: %llu mappings > bound %llu",
		    what, (unsigned long long)st.mappings,
		    (unsigned long long)bound());
}

/* The first word of every page of the VM as booted, before any round. */
static uint64_t *base;

/* Fail unless every page of c holds the model of rounds 0..r of pages[]:
 * its last write's word at offset 0, or its word as booted. */
static void check_clone(struct cowvm *c, const uint32_t *pages, uint64_t r)
{
	uint32_t *last = malloc(NPAGES * sizeof(*last));
	uint64_t v;

	TEST_ASSERT(last, "malloc");
	for (uint64_t p = 0; p < NPAGES; p++)
		last[p] = UINT32_MAX;
	for (uint64_t i = 0; i < (r + 1) * PER_ROUND; i++)
		last[pages[i]] = (uint32_t)(i / PER_ROUND);
	for (uint64_t p = 0; p < NPAGES; p++) {
		TEST_OK(cowvm_read(c, p * PAGE, &v, sizeof(v)));
		if (last[p] == UINT32_MAX)
			TEST_ASSERT_EQ(v, base[p]);
		else
			TEST_ASSERT_EQ(v, model(p, last[p]));
	}
	free(last);
}

/* Clone snaps[r], check it against rounds 0..r, write to it, destroy it. */
static void clone_and_check(struct cowvm_snapshot **snaps,
			    const uint32_t *pages, uint64_t r)
{
	struct cowvm *c = cowvm_clone(snaps[r]);
	uint64_t junk = ~0ull;

	TEST_ASSERT(c, "clone of snapshot %llu: %s", (unsigned long long)r,
		    cowvm_error(NULL));
	check_mappings(c, "clone");
	check_clone(c, pages, r);
	for (uint64_t i = 0; i < PER_ROUND; i++)
		TEST_OK(cowvm_write(c, pages[i] * PAGE, &junk, sizeof(junk)));
	cowvm_destroy(c);
}

/* Write round k's PER_ROUND pages into vm, recording them in pages[]. */
static void write_round(struct cowvm *vm, uint32_t *pages, uint64_t k,
			uint64_t *seed)
{
	for (uint64_t i = 0; i < PER_ROUND; i++) {
		uint64_t p = next_page(seed), v = model(p, k);

		pages[k * PER_ROUND + i] = (uint32_t)p;
		TEST_OK(cowvm_write(vm, p * PAGE, &v, sizeof(v)));
	}
}

int main(int argc, char **argv)
{
	const char *env = getenv("LONGUSE_COUNT");
	uint64_t count = env ? strtoull(env, NULL, 0) : 5000, seed = 88172645;
	struct cowvm_snapshot **snaps;
	uint32_t *pages;
	struct tvm t;

	test_require_kvm();
	TEST_ASSERT(argc >= 2, "usage: %s GUEST_ELF", argv[0]);
	TEST_ASSERT(count >= 1, "LONGUSE_COUNT must be at least 1");
	snaps = calloc(count, sizeof(*snaps));
	pages = malloc((count + 1) * PER_ROUND * sizeof(*pages));
	base = malloc(NPAGES * sizeof(*base));
	TEST_ASSERT(snaps && pages && base, "calloc");
	t = tvm_boot(MEM, argv[1], "exit 0");
	for (uint64_t p = 0; p < NPAGES; p++)
		base[p] = tvm_read64(&t, p * PAGE);
	for (uint64_t k = 0; k < count; k++) {
		write_round(t.vm, pages, k, &seed);
		snaps[k] = cowvm_snapshot(t.vm);
		TEST_ASSERT(snaps[k], "snapshot %llu: %s",
			    (unsigned long long)k, cowvm_error(t.vm));
		check_mappings(t.vm, "the VM");
		if (k % EVERY == EVERY - 1 || k + 1 == count) {
			clone_and_check(snaps, pages, k);
			clone_and_check(snaps, pages,
					next_page(&seed) % (k + 1));
		}
	}
	/* A last round not folded: written lazy pages read as written. */
	write_round(t.vm, pages, count, &seed);
	check_clone(t.vm, pages, count);
	printf("longuse: %llu snapshots of a 1 GiB VM, %d pages each, at most "
	       "%llu mappings\n",
	       (unsigned long long)count, PER_ROUND,
	       (unsigned long long)bound());
	for (uint64_t k = 0; k < count; k++)
		cowvm_snapshot_put(snaps[k]);
	free(base);
	free(pages);
	free(snaps);
	tvm_free(&t);
	return 0;
}
