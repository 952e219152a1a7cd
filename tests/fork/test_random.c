/* Random fork trees driven by a seed (env COWVM_FORK_SEED, printed): random
 * rounds, forks, snapshots (keeping 0 to 2 spares), clones, resets, puts
 * and destroys over a few trees of forktest VMs, each touched VM checked
 * against forkref. */
#include <time.h>

#include "fork_util.h"

#define TREES	  6
#define STEPS	  160
#define MAX_LIVE  24
#define MAX_SNAPS 32
#define BUDGET	  50 /* VMs created per tree */

/* A snapshot the test took, and the history it captured. */
struct rsnap {
	struct cowvm_snapshot *s;
	struct fnode at; /* vm unused: done and ids at the snapshot */
	int put;
};

/* A live VM and the snapshots it may be reset to. */
struct rnode {
	struct fnode n;
	int origin; /* the snapshot it was cloned from, or -1 */
	int own[4]; /* snapshots taken of it, -1 when unused */
};

static struct ft f;
static enum cowvm_mem_mode mode;
static uint64_t rng;
static struct rnode live[MAX_LIVE];
static struct rsnap snaps[MAX_SNAPS];
static int nlive, nsnaps, created, total_vms, total_ops[7];

/* The next pseudo-random number (splitmix64). */
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A random id: mostly small, sometimes as large as an int64 allows. */
static uint64_t rnd_id(void)
{
	return rnd() % 4 ? rnd() % 100000 : rnd() >> 1;
}

/* Add a VM to the live set (n.vm must be non-NULL). */
static void add(struct fnode n, int origin)
{
	struct rnode *r = &live[nlive++];

	TEST_ASSERT(n.vm, "fork/clone failed: errno %d", errno);
	r->n = n;
	r->origin = origin;
	for (int i = 0; i < 4; i++)
		r->own[i] = -1;
	created++;
	total_vms++;
}

/* Index of a random live VM that is not stopped, or -1. */
static int pick_running(void)
{
	int start = (int)(rnd() % (uint64_t)nlive);

	for (int k = 0; k < nlive; k++) {
		int i = (start + k) % nlive;

		if (!live[i].n.exited)
			return i;
	}
	return -1;
}

/* Destroy live VM i and drop it from the set. */
static void kill_vm(int i)
{
	cowvm_destroy(live[i].n.vm);
	live[i] = live[--nlive];
}

/* Snapshot live VM i; returns the snapshot's index or -1 when full. */
static int take_snapshot(int i)
{
	struct rsnap *s;
	int slot;

	for (slot = 0; slot < 4 && live[i].own[slot] >= 0; slot++)
		;
	if (nsnaps == MAX_SNAPS || slot == 4)
		return -1;
	s = &snaps[nsnaps];
	s->s = cowvm_snapshot(live[i].n.vm);
	TEST_ASSERT(s->s, "cowvm_snapshot: %s", cowvm_error(live[i].n.vm));
	/* destroyed clones of it may come back as spares of late clones */
	TEST_OK(cowvm_snapshot_keep(s->s, (unsigned)(rnd() % 3)));
	s->at = live[i].n;
	s->put = 0;
	live[i].own[slot] = nsnaps;
	return nsnaps++;
}

/* Reset live VM i to a random snapshot it may use; 0 if it has none. */
static int reset_random(int i)
{
	int cand[5], nc = 0, s;
	struct rnode *r = &live[i];

	if (r->origin >= 0 && !snaps[r->origin].put)
		cand[nc++] = r->origin;
	for (int k = 0; k < 4; k++)
		if (r->own[k] >= 0 && !snaps[r->own[k]].put)
			cand[nc++] = r->own[k];
	if (!nc)
		return 0;
	s = cand[rnd() % (uint64_t)nc];
	TEST_ASSERT_EQ(cowvm_reset(r->n.vm, snaps[s].s), 0, "cowvm_reset: %s",
		       cowvm_error(r->n.vm));
	memcpy(r->n.ids, snaps[s].at.ids, sizeof(r->n.ids));
	r->n.done = snaps[s].at.done;
	r->n.exited = 0;
	return 1;
}

/* One random operation on the tree; checks what it touched. */
static void step(void)
{
	int i = pick_running(), op = (int)(rnd() % 100), s;

	if (i < 0) {
		/* Every VM has exited: reset one, or destroy it. */
		i = (int)(rnd() % (uint64_t)nlive);
		if (reset_random(i)) {
			ft_check_mem(&f, &live[i].n, "reset of an exited VM");
			total_ops[5]++;
		} else {
			kill_vm(i);
			total_ops[4]++;
		}
		return;
	}
	if (op < 40) {
		ft_advance(&f, &live[i].n, rnd_id());
		total_ops[0]++;
	} else if (op < 55 && nlive < MAX_LIVE && created < BUDGET) {
		add(ft_child(&live[i].n, cowvm_fork(live[i].n.vm)), -1);
		ft_check_mem(&f, &live[nlive - 1].n, "fork");
		total_ops[1]++;
	} else if (op < 70 && (s = take_snapshot(i)) >= 0) {
		for (uint64_t k = rnd() % 3 + 1;
		     k && nlive < MAX_LIVE && created < BUDGET; k--)
			add(ft_child(&snaps[s].at, cowvm_clone(snaps[s].s)), s);
		total_ops[2]++;
	} else if (op < 80 && nsnaps && nlive < MAX_LIVE && created < BUDGET) {
		s = (int)(rnd() % (uint64_t)nsnaps);
		if (!snaps[s].put) {
			add(ft_child(&snaps[s].at, cowvm_clone(snaps[s].s)), s);
			ft_check_mem(&f, &live[nlive - 1].n, "late clone");
			total_ops[3]++;
		}
	} else if (op < 90 || (op >= 95 && nlive > 1)) {
		if (op >= 95) {
			kill_vm(i);
			total_ops[4]++;
		} else if (reset_random(i)) {
			ft_check_mem(&f, &live[i].n, "reset");
			total_ops[5]++;
		}
	} else if (nsnaps) {
		s = (int)(rnd() % (uint64_t)nsnaps);
		if (!snaps[s].put) {
			cowvm_snapshot_put(snaps[s].s);
			snaps[s].put = 1;
			total_ops[6]++;
		}
	}
}

/* One tree with random forktest parameters. */
static void tree(const char *elf, int t)
{
	static const uint64_t mibs[] = {1, 2, 4};
	uint64_t mib = mibs[rnd() % 3], rounds = 4 + rnd() % 8;
	uint64_t pages = 1 + rnd() % 32;

	ft_init(&f, elf, 64 * MIB, mode, rnd(), mib, rounds, pages);
	nlive = nsnaps = created = 0;
	add(ft_boot(&f), -1);
	for (int k = 0; k < STEPS && nlive; k++) {
		step();
		if (k % 20 == 19)
			for (int i = 0; i < nlive; i++)
				ft_check_mem(&f, &live[i].n, "periodic");
	}
	for (int i = 0; i < nlive; i++)
		ft_check_mem(&f, &live[i].n, "end of tree");
	printf("tree %d: mib=%" PRIu64 " rounds=%" PRIu64 " pages=%" PRIu64
	       ", %d VMs, %d snapshots\n",
	       t, mib, rounds, pages, created, nsnaps);
	/* Scrambled teardown: snapshots and VMs interleaved. */
	while (nlive)
		kill_vm((int)(rnd() % (uint64_t)nlive));
	for (int s = 0; s < nsnaps; s++)
		if (!snaps[s].put)
			cowvm_snapshot_put(snaps[s].s);
	ft_fini(&f);
}

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	const char *env = getenv("COWVM_FORK_SEED");
	struct cowvm_config cfg;
	double t0 = test_now();
	int pool;

	mode = ft_args(argc, argv);
	rng = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("random: COWVM_FORK_SEED=%" PRIu64 "\n", rng);
	fflush(stdout);
	cowvm_config_init(&cfg);
	cfg.mem_size = 64 * MIB;
	cfg.mem_mode = mode;
	pool = cowvm_pool_reserve(&cfg, 8);
	for (int t = 0; t < TREES; t++)
		tree(argv[1], t);
	if (pool == 0)
		cowvm_pool_reserve(&cfg, 0);
	printf("random: %d VMs, ops advance %d fork %d snapshot+clone %d "
	       "clone %d destroy %d reset %d put %d, pool %d, %.2f s\n",
	       total_vms, total_ops[0], total_ops[1], total_ops[2],
	       total_ops[3], total_ops[4], total_ops[5], total_ops[6], pool,
	       test_now() - t0);
	return 0;
}
