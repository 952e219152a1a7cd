/* Window space stays bounded under long use: a 4 GiB VM that writes its
 * first and last page and one new page before each snapshot, keeping
 * every snapshot, takes COUNT of them (5,000; WINDOWS_COUNT overrides),
 * each clone of the latest reads every page written so far as the model
 * says, and a new 4 GiB VM can still be created and snapshotted after.
 * Each fold once reserved window frames spanning its lowest to its
 * highest written page, and every kept frame pinned its chunk: the 1,024th
 * snapshot failed with ENOSPC. */
#include <stdlib.h>

#include "test_util.h"
#include "test_vm.h"

#define MEM (4ull << 30)
#define PAGE 4096ull

/* The word written at page p by snapshot round k. */
static uint64_t model(uint64_t p, uint64_t k)
{
	return (p * 0x9e3779b97f4a7c15ull) ^ (k + 1);
}

/* Write the model's word of round k at page p of vm. */
static void put(struct cowvm *vm, uint64_t p, uint64_t k)
{
	uint64_t v = model(p, k);

	TEST_OK(cowvm_write(vm, p * PAGE, &v, sizeof(v)));
}

/* Check that vm holds the words of rounds 0..k at the new pages and of
 * round k at the first and last page. */
static void check(struct cowvm *vm, uint64_t first, uint64_t last,
		  uint64_t k)
{
	uint64_t v;

	for (uint64_t j = 0; j <= k; j++) {
		TEST_OK(cowvm_read(vm, (first + 1 + j) * PAGE, &v, sizeof(v)));
		TEST_ASSERT_EQ(v, model(first + 1 + j, j));
	}
	TEST_OK(cowvm_read(vm, first * PAGE, &v, sizeof(v)));
	TEST_ASSERT_EQ(v, model(first, k));
	TEST_OK(cowvm_read(vm, last * PAGE, &v, sizeof(v)));
	TEST_ASSERT_EQ(v, model(last, k));
}

int main(int argc, char **argv)
{
	const char *env = getenv("WINDOWS_COUNT");
	uint64_t count = env ? strtoull(env, NULL, 0) : 5000;
	/* Pages at 16 MiB and at the top of low RAM (below 3 GiB). */
	uint64_t first = (16ull << 20) / PAGE, last = (3ull << 30) / PAGE - 1;
	struct cowvm_snapshot **snaps, *last_snap;
	struct cowvm *c;
	struct tvm t, u;

	test_require_kvm();
	TEST_ASSERT(argc >= 2, "usage: %s GUEST_ELF", argv[0]);
	snaps = calloc(count, sizeof(*snaps));
	TEST_ASSERT(snaps, "calloc");
	t = tvm_boot(MEM, argv[1], "exit 0");
	for (uint64_t k = 0; k < count; k++) {
		put(t.vm, first, k);
		put(t.vm, last, k);
		put(t.vm, first + 1 + k, k);
		snaps[k] = cowvm_snapshot(t.vm);
		TEST_ASSERT(snaps[k], "snapshot %llu: %s",
			    (unsigned long long)k, cowvm_error(t.vm));
		if (k % 1000 == 999 || k + 1 == count) {
			c = cowvm_clone(snaps[k]);
			TEST_ASSERT(c, "clone %llu: %s", (unsigned long long)k,
				    cowvm_error(NULL));
			check(c, first, last, k);
			cowvm_destroy(c);
		}
	}
	/* Every snapshot is still alive: a new VM must fit beside them. */
	u = tvm_boot(MEM, argv[1], "exit 0");
	put(u.vm, last, 0);
	last_snap = cowvm_snapshot(u.vm);
	TEST_ASSERT(last_snap, "a new 4 GiB VM after %llu snapshots: %s",
		    (unsigned long long)count, cowvm_error(u.vm));
	printf("windows: %llu snapshots of a 4 GiB VM, then a new one\n",
	       (unsigned long long)count);
	cowvm_snapshot_put(last_snap);
	for (uint64_t k = 0; k < count; k++)
		cowvm_snapshot_put(snaps[k]);
	free(snaps);
	tvm_free(&u);
	tvm_free(&t);
	return 0;
}
