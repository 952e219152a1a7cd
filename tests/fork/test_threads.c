/* Independent forktest families on four threads at once, sharing cowvm's
 * frame store and pool: each thread clones, forks, resets and destroys its
 * own VMs and checks them against forkref while the others do the same. */
#include <pthread.h>

#include "fork_util.h"

#define THREADS 4
#define ITERS	6
#define ROUNDS	3

static const char *elf;
static enum cowvm_mem_mode mode;

/* One thread's family: boot, then ITERS times clone/fork, run, reset,
 * check and destroy in a thread-specific order. */
static void *family(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg;
	struct cowvm_snapshot *s;
	struct fnode parent;
	struct ft f;

	ft_init(&f, elf, 64 * MIB, mode, 100 + t, 2, ROUNDS, 4 + t);
	parent = ft_boot(&f);
	s = cowvm_snapshot(parent.vm);
	TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	for (uint64_t i = 0; i < ITERS; i++) {
		struct fnode c = ft_child(&parent, cowvm_clone(s)), g;

		ft_advance(&f, &c, t * 100 + i);
		g = ft_child(&c, cowvm_fork(c.vm));
		ft_advance(&f, &g, t * 100 + i + 50);
		ft_advance(&f, &c, t * 100 + i + 70);
		ft_check_mem(&f, &g, "grandchild");
		ft_check_mem(&f, &c, "child");
		TEST_OK(cowvm_reset(c.vm, s));
		c.done = 0;
		c.exited = 0;
		ft_check_mem(&f, &c, "child reset");
		ft_advance(&f, &c, t * 100 + i);
		if ((i + t) % 2)
			cowvm_destroy(c.vm);
		while (!g.exited)
			ft_advance(&f, &g, g.done);
		ft_check_mem(&f, &g, "grandchild at its end");
		cowvm_destroy(g.vm);
		if ((i + t) % 2 == 0) {
			ft_check_mem(&f, &c, "child at the end");
			cowvm_destroy(c.vm);
		}
	}
	ft_check_mem(&f, &parent, "parent");
	cowvm_snapshot_put(s);
	while (!parent.exited)
		ft_advance(&f, &parent, 9000 + parent.done);
	ft_check_mem(&f, &parent, "parent at its end");
	cowvm_destroy(parent.vm);
	ft_fini(&f);
	return NULL;
}

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	pthread_t th[THREADS];
	double t0;

	mode = ft_args(argc, argv);
	elf = argv[1];
	t0 = test_now();
	for (uintptr_t t = 0; t < THREADS; t++)
		TEST_ASSERT_EQ(pthread_create(&th[t], NULL, family, (void *)t),
			       0, "pthread_create");
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	printf("threads: %d families of %d clones and %d forks each ok in "
	       "%.2f s\n",
	       THREADS, ITERS, ITERS, test_now() - t0);
	return 0;
}
