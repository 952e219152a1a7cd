/* Fork of a fork of a fork: each level is forked at its SNAPSHOT exit,
 * resumed with its own id and checked; every parent keeps running and
 * writing after each fork, and every VM's output and memory match forkref
 * after every step. */
#include "fork_util.h"

#define LEVELS 4 /* the root and three generations of forks */
#define ROUNDS (LEVELS + 3)

static struct ft f;
static struct fnode vms[LEVELS];

/* Compare the memory of every VM that exists so far. */
static void check_all(int live, const char *when)
{
	char who[96];

	for (int i = 0; i < live; i++) {
		snprintf(who, sizeof(who), "level %d %s", i, when);
		ft_check_mem(&f, &vms[i], who);
	}
}

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	enum cowvm_mem_mode mode;
	uint64_t next_id = 1;
	double t0, t_fork = 0;

	mode = ft_args(argc, argv);
	ft_init(&f, argv[1], 64 * MIB, mode, 1234, 4, ROUNDS, 16);
	vms[0] = ft_boot(&f);
	ft_advance(&f, &vms[0], next_id++);
	check_all(1, "booted");

	/* Level i forks level i + 1 while stopped at a SNAPSHOT; both go on
	 * with different ids, then every earlier level writes once more. */
	for (int i = 0; i + 1 < LEVELS; i++) {
		t0 = test_now();
		vms[i + 1] = ft_child(&vms[i], cowvm_fork(vms[i].vm));
		t_fork += test_now() - t0;
		check_all(i + 2, "right after the fork");
		ft_advance(&f, &vms[i + 1], next_id++);
		check_all(i + 2, "after the child's first round");
		for (int j = i; j >= 0; j--) {
			ft_advance(&f, &vms[j], next_id++);
			check_all(i + 2, "after a parent's round");
		}
	}
	/* Everyone finishes, deepest level first, with fresh ids. */
	for (int i = LEVELS - 1; i >= 0; i--) {
		while (!vms[i].exited)
			ft_advance(&f, &vms[i], next_id++);
		check_all(LEVELS, "after a level finished");
	}
	for (int i = 0; i < LEVELS; i++)
		cowvm_destroy(vms[i].vm);
	ft_fini(&f);
	printf("nested: %d levels, %d forks in %.0f us, %" PRIu64
	       " ids handed out\n",
	       LEVELS, LEVELS - 1, t_fork * 1e6, next_id - 1);
	return 0;
}
