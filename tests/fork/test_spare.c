/* cowvm_snapshot_keep: destroyed clones come back from cowvm_clone as
 * spares in the snapshot's exact state (memory, vCPU, no error), whatever
 * their last user wrote or however they stopped; at most the number kept,
 * none once the snapshot keeps none, and none from a snapshot nobody
 * else holds. */
#include "fork_util.h"
#include "cowvm_workload_abi.h"

#define ROUNDS 3

static struct ft f;
static struct fnode parent;

/* A clone of s; in KERNEL mode, a spare shows by its kept copies. */
static struct fnode clone_of(struct cowvm_snapshot *s, int want_spare,
			     const char *who)
{
	struct fnode c = ft_child(&parent, cowvm_clone(s));
	struct cowvm_mem_stats st;

	TEST_OK(cowvm_mem_stats(c.vm, &st));
	TEST_ASSERT(f.mode == COWVM_MEM_UFFD ||
			    (st.pages_kept > 0) == want_spare,
		    "%s: %" PRIu64 " kept copies, expected %s", who,
		    st.pages_kept, want_spare ? "a spare" : "a new VM");
	TEST_ASSERT(!cowvm_error(c.vm)[0], "%s: error '%s'", who,
		    cowvm_error(c.vm));
	ft_check_mem(&f, &c, who);
	return c;
}

/* Run c through round id, scribble from the host, leave an error behind. */
static void use(struct fnode *c, uint64_t id)
{
	static uint8_t junk[FORKREF_PAGE];
	uint8_t b;

	memset(junk, 0x5a, sizeof(junk));
	ft_advance(&f, c, id);
	TEST_OK(cowvm_write(c->vm, COWVM_MEMTEST_BASE + 3 * FORKREF_PAGE, junk,
			    sizeof(junk)));
	TEST_ASSERT_EQ(cowvm_read(c->vm, f.mem, &b, 1), -EFAULT,
		       "read past RAM");
}

int main(int argc, char **argv)
{
	struct fnode a, b, c[3];
	struct cowvm_snapshot *s;
	struct cowvm *first;

	ft_init(&f, argv[1], 64 * MIB, ft_args(argc, argv), 5, 4, ROUNDS, 16);
	parent = ft_boot(&f);
	s = cowvm_snapshot(parent.vm);
	TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	TEST_ASSERT_EQ(cowvm_snapshot_keep(NULL, 1), -EINVAL, "keep on NULL");
	TEST_OK(cowvm_snapshot_keep(s, 2));

	/* Used and destroyed: the next clone is that VM, as new. */
	a = clone_of(s, 0, "first clone");
	first = a.vm;
	use(&a, 7);
	cowvm_destroy(a.vm);
	b = clone_of(s, 1, "spare after a round and host writes");
	TEST_ASSERT_EQ(b.vm, first, "the spare was not reused");
	ft_advance(&f, &b, 8);

	/* Run to its exit (stopped), then back as a spare that runs. */
	while (!b.exited)
		ft_advance(&f, &b, 9 + b.done);
	cowvm_destroy(b.vm);
	b = clone_of(s, 1, "spare after the guest exited");
	ft_advance(&f, &b, 7);

	/* Three destroyed with two kept: two spares, then a new VM. */
	c[0] = b;
	c[1] = clone_of(s, 0, "second live clone");
	c[2] = clone_of(s, 0, "third live clone");
	for (int i = 0; i < 3; i++) {
		use(&c[i], 10 + (uint64_t)i);
		cowvm_destroy(c[i].vm);
	}
	for (int i = 0; i < 3; i++)
		c[i] = clone_of(s, i < 2, i < 2 ? "kept spare" : "beyond keep");
	for (int i = 0; i < 3; i++)
		cowvm_destroy(c[i].vm);

	/* Keeping none drops the spares. */
	TEST_OK(cowvm_snapshot_keep(s, 0));
	a = clone_of(s, 0, "clone after keep 0");
	cowvm_destroy(a.vm);
	a = clone_of(s, 0, "clone destroyed while keeping none");

	/* Spares go with the snapshot's last reference. */
	TEST_OK(cowvm_snapshot_keep(s, 1));
	b = clone_of(s, 0, "clone before the last put");
	cowvm_destroy(b.vm);
	cowvm_snapshot_put(s);
	cowvm_destroy(a.vm);
	cowvm_destroy(parent.vm);
	ft_fini(&f);
	printf("spare: spares came back as new\n");
	return 0;
}
