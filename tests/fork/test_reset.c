/* cowvm_reset: a clone run to its next snapshot and reset to the one it was
 * cloned from repeats the same round with identical output; resets also
 * undo host writes (cowvm_write), several rounds at once, and a VM's own
 * snapshot taken later in its life. */
#include "fork_util.h"
#include "cowvm_workload_abi.h"

#define ROUNDS 6

static struct ft f;

/* Reset n to snap, which was taken when n had finished done rounds. */
static void reset_to(struct fnode *n, struct cowvm_snapshot *snap,
		     uint64_t done, const char *who)
{
	TEST_ASSERT_EQ(cowvm_reset(n->vm, snap), 0, "%s: cowvm_reset: %s", who,
		       cowvm_error(n->vm));
	n->done = done;
	n->exited = 0;
	ft_check_mem(&f, n, who);
}

/* Scribble over count pages of n's region from the host, starting at p. */
static void host_scribble(struct fnode *n, uint64_t p, uint64_t count)
{
	static uint8_t junk[FORKREF_PAGE];

	memset(junk, 0xa5, sizeof(junk));
	for (uint64_t i = 0; i < count; i++)
		TEST_OK(cowvm_write(n->vm,
				    COWVM_MEMTEST_BASE +
					    ((p + i) % f.ref.npages) *
						    FORKREF_PAGE,
				    junk, sizeof(junk)));
}

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	enum cowvm_mem_mode mode;
	struct cowvm_snapshot *s0, *s1, *s2;
	struct fnode parent, c;
	double t0, t_reset = 0;
	int resets = 0;

	mode = ft_args(argc, argv);
	ft_init(&f, argv[1], 64 * MIB, mode, 99, 4, ROUNDS, 32);
	parent = ft_boot(&f);
	s0 = cowvm_snapshot(parent.vm);
	TEST_ASSERT(s0, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	c = ft_child(&parent, cowvm_clone(s0));

	/* Same id after each reset: the same line (ft_advance compares it
	 * with forkref, which does not depend on the attempt). */
	for (int k = 0; k < 5; k++, resets++) {
		ft_advance(&f, &c, 7);
		ft_check_mem(&f, &c, "clone after round 1");
		t0 = test_now();
		reset_to(&c, s0, 0, "clone reset to s0");
		t_reset += test_now() - t0;
	}
	/* A different id after a reset writes other pages; the first id's
	 * pages are back to the initial fill. */
	ft_advance(&f, &c, 8);
	ft_check_mem(&f, &c, "clone with id 8");
	reset_to(&c, s0, 0, "clone reset after id 8");
	resets++;

	/* Host writes, in the region and beyond the pages the guest
	 * wrote, are undone by a reset too. */
	ft_advance(&f, &c, 7);
	host_scribble(&c, 0, f.ref.npages / 2);
	ft_check_mem(&f, &parent, "parent after host writes to the clone");
	reset_to(&c, s0, 0, "clone reset after host writes");
	host_scribble(&c, 5, 3); /* at the snapshot itself */
	reset_to(&c, s0, 0, "clone reset after host writes at s0");
	resets += 2;
	ft_advance(&f, &c, 7);

	/* Several rounds undone at once, then redone identically. */
	ft_advance(&f, &c, 11);
	ft_advance(&f, &c, 12);
	reset_to(&c, s0, 0, "clone reset after three rounds");
	resets++;
	ft_advance(&f, &c, 7);
	ft_advance(&f, &c, 11);
	ft_advance(&f, &c, 12);

	/* The clone's own later snapshot; the parent's s0 still works. */
	s2 = cowvm_snapshot(c.vm);
	TEST_ASSERT(s2, "cowvm_snapshot of the clone: %s", cowvm_error(c.vm));
	while (!c.exited)
		ft_advance(&f, &c, 20 + c.done);
	reset_to(&c, s2, 3, "clone reset to its own s2");
	ft_advance(&f, &c, 13);
	reset_to(&c, s0, 0, "clone reset to s0 after s2");
	resets += 2;
	ft_advance(&f, &c, 7);

	/* The parent, reset to its own snapshot after running ahead. */
	ft_check_mem(&f, &parent, "parent");
	ft_advance(&f, &parent, 3);
	ft_advance(&f, &parent, 4);
	reset_to(&parent, s0, 0, "parent reset to s0");
	ft_advance(&f, &parent, 3);
	resets++;
	ft_check_mem(&f, &c, "clone at the end");

	/* The clone, reset to a later snapshot of the VM it was cloned
	 * from, takes on the parent's history there. */
	ft_advance(&f, &parent, 5);
	s1 = cowvm_snapshot(parent.vm);
	TEST_ASSERT(s1, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	ft_advance(&f, &parent, 6);
	memcpy(c.ids, parent.ids, sizeof(c.ids));
	reset_to(&c, s1, 2, "clone reset to the parent's s1");
	ft_advance(&f, &c, 44);
	ft_check_mem(&f, &parent, "parent after the clone took s1");
	resets++;
	cowvm_snapshot_put(s1);

	cowvm_snapshot_put(s2);
	cowvm_snapshot_put(s0);
	cowvm_destroy(c.vm);
	cowvm_destroy(parent.vm);
	ft_fini(&f);
	printf("reset: %d resets ok, first 5 took %.0f us in total\n", resets,
	       t_reset * 1e6);
	return 0;
}
