/* Guest RAM is not inherited by a fork() of the process: the child could
 * not use it (its VMs are inert), would pin the frame memfd and would make
 * every later host page-table change of the parent cost more. Checked in a
 * child for a booted VM's RAM and a clone's. */
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "test_vm.h"
#include "vmm.h"

#define MEM (16ull << 20)

/* In a child: exit 0 if none of the pages at p[0..n) is mapped. */
static void child_check(uint8_t *const *p, unsigned n)
{
	unsigned char vec;

	for (unsigned i = 0; i < n; i++)
		if (mincore(p[i], 4096, &vec) == 0 || errno != ENOMEM)
			_exit(10 + (int)i);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct cowvm_snapshot *snap;
	struct cowvm *c;
	struct tvm t;
	uint8_t *pages[4];
	int status;
	pid_t pid;

	test_require_kvm();
	TEST_ASSERT(argc >= 2, "usage: %s GUEST_ELF", argv[0]);
	t = tvm_boot(MEM, argv[1], "forktest mib=1 rounds=100 pages=1");
	TEST_ASSERT_EXIT_TAG(tvm_run(&t), 1, "first round");
	pages[0] = vmm_gpa(t.vm, 0, 4096);
	pages[1] = vmm_gpa(t.vm, 8ull << 20, 4096);
	snap = cowvm_snapshot(t.vm);
	TEST_ASSERT(snap, "snapshot: %s", cowvm_error(t.vm));
	c = cowvm_clone(snap);
	TEST_ASSERT(c, "clone: %s", cowvm_error(NULL));
	pages[2] = vmm_gpa(c, 0, 4096);
	pages[3] = vmm_gpa(c, 8ull << 20, 4096);
	for (unsigned i = 0; i < 4; i++) {
		unsigned char vec;

		TEST_ASSERT(pages[i], "page %u is not RAM", i);
		TEST_ASSERT_EQ(mincore(pages[i], 4096, &vec), 0,
			       "page %u is not mapped in the parent", i);
	}
	fflush(NULL);
	pid = fork();
	TEST_ASSERT_GE(pid, 0, "fork");
	if (pid == 0)
		child_check(pages, 4);
	TEST_ASSERT_EQ(waitpid(pid, &status, 0), pid, "waitpid");
	TEST_ASSERT(WIFEXITED(status), "child died: status %d", status);
	TEST_ASSERT_EQ(WEXITSTATUS(status), 0,
		       "the child inherited guest RAM (10 + page index)");
	cowvm_destroy(c);
	cowvm_snapshot_put(snap);
	tvm_free(&t);
	printf("dontfork: a forked child maps none of guest RAM\n");
	return 0;
}
