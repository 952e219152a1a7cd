/* A process that used cowvm forks: in the child its VMs and snapshots are
 * inert (every call fails with ECHILD, destroy and put leave them alone)
 * and new VMs work; the parent's VMs and snapshots, whose frames the child
 * shares, come through intact even though the child put and destroyed
 * them. */
#include <sys/wait.h>
#include <unistd.h>

#include "fork_util.h"
#include "cowvm_workload_abi.h"

static struct ft f;
/* What the child leaves alone, kept within reach for the leak checker. */
static struct cowvm_snapshot *s, *sa, *sb;
static struct fnode parent, a, b;

/* The child: a new family runs; the inherited VM and snapshot refuse
 * every call; putting sa (which alone holds a's frames) and destroying b
 * (which alone holds its own) touch neither the parent's memory nor the
 * child's new store. */
static void child(struct fnode *b, struct cowvm_snapshot *sa)
{
	struct cowvm_snapshot *s2;
	struct cowvm_exit e;
	struct fnode n, k;
	uint8_t byte;

	n = ft_boot(&f);
	s2 = cowvm_snapshot(n.vm);
	TEST_ASSERT(s2, "snapshot in the child: %s", cowvm_error(n.vm));
	k = ft_child(&n, cowvm_clone(s2));
	ft_advance(&f, &k, 5);

	TEST_ASSERT_EQ(cowvm_run(b->vm, &e), -ECHILD, "run of an inherited VM");
	TEST_ASSERT(strstr(cowvm_error(b->vm), "fork()"), "error '%s'",
		    cowvm_error(b->vm));
	TEST_ASSERT_EQ(cowvm_read(b->vm, COWVM_MEMTEST_BASE, &byte, 1), -ECHILD,
		       "read of an inherited VM");
	TEST_ASSERT_EQ(cowvm_reset(b->vm, sa), -ECHILD, "reset");
	TEST_ASSERT(!cowvm_snapshot(b->vm), "snapshot");
	TEST_ASSERT_EQ(errno, ECHILD, "snapshot");
	TEST_ASSERT(!cowvm_clone(sa), "clone");
	TEST_ASSERT_EQ(errno, ECHILD, "clone");
	TEST_ASSERT(strstr(cowvm_error(NULL), "fork()"), "clone error '%s'",
		    cowvm_error(NULL));
	cowvm_snapshot_put(sa);
	cowvm_destroy(b->vm);

	ft_check_mem(&f, &k, "a clone made in the child");
	ft_advance(&f, &k, 6);
	cowvm_destroy(k.vm);
	k = ft_child(&n, cowvm_clone(s2));
	ft_check_mem(&f, &k, "a second clone made in the child");
	cowvm_destroy(k.vm);
	cowvm_snapshot_put(s2);
	cowvm_destroy(n.vm);
}

/* A clone of s that ran a round with id and was snapshotted into *snap;
 * with own, the snapshot is put so the clone alone holds those frames. */
static struct fnode ran(struct fnode *parent, struct cowvm_snapshot *s,
			uint64_t id, struct cowvm_snapshot **snap)
{
	struct fnode n = ft_child(parent, cowvm_clone(s));

	ft_advance(&f, &n, id);
	*snap = cowvm_snapshot(n.vm);
	TEST_ASSERT(*snap, "cowvm_snapshot: %s", cowvm_error(n.vm));
	return n;
}

int main(int argc, char **argv)
{
	struct fnode a2;
	int status;
	pid_t pid;

	ft_init(&f, argv[1], 64 * MIB, ft_args(argc, argv), 11, 4, 3, 64);
	parent = ft_boot(&f);
	s = cowvm_snapshot(parent.vm);
	TEST_ASSERT(s, "cowvm_snapshot: %s", cowvm_error(parent.vm));
	a = ran(&parent, s, 7, &sa);
	cowvm_destroy(a.vm); /* sa alone holds a's round */
	b = ran(&parent, s, 8, &sb);
	cowvm_snapshot_put(sb); /* b alone holds its round */
	fflush(stdout);
	pid = fork();
	TEST_ASSERT_GE(pid, 0, "fork");
	if (!pid) {
		child(&b, sa);
		exit(0);
	}
	TEST_ASSERT_EQ(waitpid(pid, &status, 0), pid, "waitpid");
	TEST_ASSERT(WIFEXITED(status) && !WEXITSTATUS(status),
		    "the child failed (status 0x%x)", status);

	ft_check_mem(&f, &b, "the VM the child destroyed");
	ft_advance(&f, &b, 9);
	a2 = ft_child(&a, cowvm_clone(sa));
	ft_check_mem(&f, &a2, "a clone of the snapshot the child put");
	ft_advance(&f, &a2, 10);
	cowvm_destroy(a2.vm);
	cowvm_destroy(b.vm);
	cowvm_snapshot_put(sa);
	cowvm_snapshot_put(s);
	cowvm_destroy(parent.vm);
	ft_fini(&f);
	printf("procfork: the child could not touch the parent's VMs\n");
	return 0;
}
