/* Destruction in any order: parents destroyed before their clones and
 * forks, snapshots put before the clones finish, middle links of fork chains
 * removed first; every survivor still prints and holds what forkref says. */
#include "fork_util.h"

#define ROUNDS 4
#define N      8

static struct ft f;

/* Finish n with ids derived from base, check its memory, destroy it. */
static void finish(struct fnode *n, uint64_t base, const char *who)
{
	while (!n->exited)
		ft_advance(&f, n, base + n->done);
	ft_check_mem(&f, n, who);
	cowvm_destroy(n->vm);
}

/* Clones outlive their parent and their snapshot. */
static void parent_and_snapshot_first(void)
{
	struct fnode parent = ft_boot(&f), c[N];
	struct cowvm_snapshot *s = cowvm_snapshot(parent.vm);

	TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	for (int i = 0; i < N; i++)
		c[i] = ft_child(&parent, cowvm_clone(s));
	ft_advance(&f, &parent, 500);
	cowvm_destroy(parent.vm);
	for (int i = 0; i < N; i++)
		ft_advance(&f, &c[i], (uint64_t)i);
	cowvm_snapshot_put(s);
	for (int i = 0; i < N; i++)
		ft_check_mem(&f, &c[i], "clone after parent and snapshot");
	/* Odd clones finish first, even ones are destroyed mid-run. */
	for (int i = 1; i < N; i += 2)
		finish(&c[i], 10 * (uint64_t)i, "odd clone");
	for (int i = 0; i < N; i += 2) {
		ft_check_mem(&f, &c[i], "even clone");
		cowvm_destroy(c[i].vm);
	}
}

/* A snapshot put right after cloning, before anything ran. */
static void snapshot_put_at_once(void)
{
	struct fnode parent = ft_boot(&f), c;
	struct cowvm_snapshot *s = cowvm_snapshot(parent.vm);

	TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	c = ft_child(&parent, cowvm_clone(s));
	cowvm_snapshot_put(s);
	finish(&parent, 900, "parent, snapshot put");
	finish(&c, 901, "clone, snapshot put and parent gone");
}

/* A chain a -> b -> c -> d of forks; a and then c (middle links) go
 * first, then the others in a scrambled order. */
static void fork_chain(void)
{
	struct fnode v[4];

	v[0] = ft_boot(&f);
	for (int i = 1; i < 4; i++) {
		v[i] = ft_child(&v[i - 1], cowvm_fork(v[i - 1].vm));
		ft_advance(&f, &v[i], 40 + (uint64_t)i);
	}
	cowvm_destroy(v[0].vm);
	ft_check_mem(&f, &v[2], "chain link 2 after 0 went");
	cowvm_destroy(v[2].vm);
	ft_check_mem(&f, &v[1], "chain link 1 after 0 and 2 went");
	ft_check_mem(&f, &v[3], "chain link 3 after 0 and 2 went");
	ft_advance(&f, &v[3], 60);
	finish(&v[1], 70, "chain link 1");
	finish(&v[3], 80, "chain link 3");
}

/* Clones of clones whose ancestors are gone before they run. */
static void clone_of_clone(void)
{
	struct fnode a = ft_boot(&f), b, c;
	struct cowvm_snapshot *sa = cowvm_snapshot(a.vm), *sb;

	TEST_ASSERT(sa, "cowvm_snapshot: %s", cowvm_error(a.vm));
	b = ft_child(&a, cowvm_clone(sa));
	ft_advance(&f, &b, 3);
	sb = cowvm_snapshot(b.vm);
	TEST_ASSERT(sb, "cowvm_snapshot: %s", cowvm_error(b.vm));
	c = ft_child(&b, cowvm_clone(sb));
	cowvm_destroy(a.vm);
	cowvm_snapshot_put(sa);
	cowvm_destroy(b.vm);
	cowvm_snapshot_put(sb);
	finish(&c, 300, "clone of a clone, ancestors gone");
}

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	enum cowvm_mem_mode mode;
	mode = ft_args(argc, argv);
	ft_init(&f, argv[1], 64 * MIB, mode, 31337, 4, ROUNDS, 20);
	parent_and_snapshot_first();
	snapshot_put_at_once();
	fork_chain();
	clone_of_clone();
	cowvm_snapshot_put(NULL);
	cowvm_destroy(NULL);
	ft_fini(&f);
	printf("destroy: every order ok\n");
	return 0;
}
