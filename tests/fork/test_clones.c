/* Parent and 64 clones of one snapshot taken at the guest's SNAPSHOT exit:
 * each clone receives its own ids and writes its own pages; every clone's
 * output and memory match forkref after every round, so siblings never see
 * each other's writes, and the parent continues correctly afterwards. */
#include "fork_util.h"

#define NCLONES 64
#define ROUNDS	3
#define PAGES	8 /* 64 clones x 8 pages: disjoint within a round */

/* The id clone i receives in round r (1-based); the parent's differ. */
static uint64_t clone_id(int i, uint64_t r)
{
	return (uint64_t)i + 1 + NCLONES * (r - 1);
}

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	enum cowvm_mem_mode mode;
	static struct fnode clones[NCLONES];
	struct cowvm_snapshot *snap;
	struct fnode parent;
	double t0, t_clone, t_run = 0;
	struct cowvm_config cfg;
	struct ft f;
	char who[64];
	int pool;

	mode = ft_args(argc, argv);
	ft_init(&f, argv[1], 64 * MIB, mode, 7, 4, ROUNDS, PAGES);
	parent = ft_boot(&f);
	snap = cowvm_snapshot(parent.vm);
	TEST_ASSERT(snap, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	/* Ready-made VMs for the clones, so that the clone time below is
	 * cowvm's own work and not KVM VM creation. */
	cowvm_config_init(&cfg);
	cfg.mem_size = f.mem;
	cfg.mem_mode = mode;
	pool = cowvm_pool_reserve(&cfg, NCLONES);
	if (pool == 0)
		pool = cowvm_pool_wait(&cfg, 60000);

	t0 = test_now();
	for (int i = 0; i < NCLONES; i++)
		clones[i] = ft_child(&parent, cowvm_clone(snap));
	t_clone = test_now() - t0;

	/* Round by round over all clones, so that every sibling's writes
	 * exist while each clone's memory is compared with forkref. */
	for (uint64_t r = 1; r <= ROUNDS; r++) {
		t0 = test_now();
		for (int i = 0; i < NCLONES; i++)
			ft_advance(&f, &clones[i], clone_id(i, r));
		t_run += test_now() - t0;
		for (int i = 0; i < NCLONES; i++) {
			snprintf(who, sizeof(who), "clone %d round %" PRIu64, i,
				 r);
			ft_check_mem(&f, &clones[i], who);
		}
	}
	for (int i = 0; i < NCLONES; i++)
		TEST_ASSERT(clones[i].exited, "clone %d did not finish", i);

	/* The parent is still at its snapshot with untouched memory and
	 * continues with ids no clone used. */
	ft_check_mem(&f, &parent, "parent before resuming");
	for (uint64_t r = 1; r <= ROUNDS; r++) {
		ft_advance(&f, &parent, 1000 + r);
		ft_check_mem(&f, &parent, "parent");
	}
	/* The clones did not see the parent's writes either. */
	for (int i = 0; i < NCLONES; i++) {
		snprintf(who, sizeof(who), "clone %d after the parent", i);
		ft_check_mem(&f, &clones[i], who);
		cowvm_destroy(clones[i].vm);
	}
	cowvm_snapshot_put(snap);
	cowvm_destroy(parent.vm);
	cowvm_pool_reserve(&cfg, 0);
	ft_fini(&f);
	printf("clones: %d clones in %.1f ms (%.0f us each, pool %s), %d "
	       "rounds of all clones in %.1f ms\n",
	       NCLONES, t_clone * 1e3, t_clone * 1e6 / NCLONES,
	       pool ? "unavailable" : "ready", ROUNDS, t_run * 1e3);
	return 0;
}
