/* cowvm_snapshot_ahead: clones made ahead (the first ones at once, the rest
 * by the library's thread after each take) come out of cowvm_clone in the
 * snapshot's exact state, distinct and isolated, through many takes while
 * others run; n = 0 stops it; a snapshot of a forked parent is refused. */
#include <sys/wait.h>
#include <unistd.h>

#include "fork_util.h"
#include "cowvm_workload_abi.h"

#define TAKES 40

static struct ft f;
static struct fnode parent;

/* A clone of s, checked against the model before it runs. */
static struct fnode clone_of(struct cowvm_snapshot *s, const char *who)
{
	struct fnode c = ft_child(&parent, cowvm_clone(s));

	TEST_ASSERT(!cowvm_error(c.vm)[0], "%s: error '%s'", who,
		    cowvm_error(c.vm));
	ft_check_mem(&f, &c, who);
	return c;
}

/* In a forked child: the inherited snapshot is refused; exit status. */
static int child_refuses(struct cowvm_snapshot *s)
{
	return cowvm_snapshot_ahead(s, 1) == -ECHILD ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct fnode live[3];
	struct cowvm_snapshot *s;
	int st;
	pid_t pid;

	ft_init(&f, argv[1], 64 * MIB, ft_args(argc, argv), 11, 4, 3, 16);
	parent = ft_boot(&f);
	s = cowvm_snapshot(parent.vm);
	TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	TEST_ASSERT_EQ(cowvm_snapshot_ahead(NULL, 1), -EINVAL, "NULL");
	TEST_OK(cowvm_snapshot_ahead(s, 2));
	TEST_OK(cowvm_snapshot_ahead(s, 2)); /* again: the same entry */

	/* Three alive at once: distinct, each runs its own rounds. */
	for (int i = 0; i < 3; i++)
		live[i] = clone_of(s, "live clone made ahead");
	TEST_ASSERT(live[0].vm != live[1].vm && live[1].vm != live[2].vm &&
			    live[0].vm != live[2].vm,
		    "the same VM twice");
	for (int i = 0; i < 3; i++)
		ft_advance(&f, &live[i], 100 + (uint64_t)i);
	for (int i = 0; i < 3; i++)
		ft_check_mem(&f, &live[i], "after its own round");

	/* Many takes while the thread refills and one clone stays live. */
	for (int k = 0; k < TAKES; k++) {
		struct fnode c = clone_of(s, "take");

		ft_advance(&f, &c, 200 + (uint64_t)k);
		ft_check_mem(&f, &c, "take after a round");
		cowvm_destroy(c.vm);
	}
	for (int i = 0; i < 3; i++) {
		ft_advance(&f, &live[i], 300 + (uint64_t)i);
		ft_check_mem(&f, &live[i], "live after the takes");
		cowvm_destroy(live[i].vm);
	}

	pid = fork();
	if (pid == 0)
		_exit(child_refuses(s));
	TEST_ASSERT_EQ(waitpid(pid, &st, 0), pid, "waitpid");
	TEST_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "a forked child made clones of its parent's snapshot");

	/* Stopped: clones still work, the reference is dropped. */
	TEST_OK(cowvm_snapshot_ahead(s, 0));
	live[0] = clone_of(s, "clone after ahead 0");
	ft_advance(&f, &live[0], 400);
	cowvm_destroy(live[0].vm);
	cowvm_snapshot_put(s);
	cowvm_destroy(parent.vm);
	ft_fini(&f);
	printf("ahead: %d takes of clones made ahead checked\n", TAKES + 3);
	return 0;
}
