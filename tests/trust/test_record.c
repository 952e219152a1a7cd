/* A failure to record a written page is not sticky and never stops a run:
 * the next fold finds the page in the mapping itself. In KERNEL mode the
 * host's writes (hypercall results, cowvm_write) and in UFFD mode the
 * fault handler's too go on when their record cannot grow; the guest is
 * never left waiting on a page (a livelock until the timeout), and the
 * snapshot after it holds every written byte. */
#include <string.h>

#include "test_util.h"
#include "test_vm.h"
#include "vmm.h"

#define MEM	(16ull << 20)
#define CMDLINE "forktest seed=3 mib=2 rounds=1000 pages=4"
#define PAGE_AT (12ull << 20)

/* Clone snap, run it one round with the first allocation on any thread
 * failing, write a page with the next one failing, and check that a
 * snapshot of it then holds its memory exactly. */
static void one(struct cowvm_snapshot *snap, const char *mode)
{
	struct cowvm *vm = cowvm_clone(snap), *copy;
	struct cowvm_snapshot *s2;
	static uint8_t a[MEM], b[MEM];
	uint8_t page[4096];
	struct cowvm_exit e;

	TEST_ASSERT(vm, "%s: clone: %s", mode, cowvm_error(NULL));
	TEST_OK(cowvm_set_timeout(vm, 20000));
	vmm_fault_arm_all(VMM_FAULT_ALLOC, 1, ENOMEM);
	TEST_OK(cowvm_run(vm, &e));
	TEST_ASSERT(vmm_fault_fired(), "%s: no record grew during the run",
		    mode);
	vmm_fault_arm_all(0, 0, 0);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT, "%s: run with a failed record",
			 mode);
	test_fill(page, sizeof(page), 77);
	vmm_fault_arm(VMM_FAULT_ALLOC, 1, ENOMEM);
	TEST_OK(cowvm_write(vm, PAGE_AT, page, sizeof(page)));
	vmm_fault_arm(0, 0, 0);
	s2 = cowvm_snapshot(vm);
	TEST_ASSERT(s2, "%s: snapshot after failed records: %s", mode,
		    cowvm_error(vm));
	copy = cowvm_clone(s2);
	TEST_ASSERT(copy, "%s: clone of it", mode);
	TEST_OK(cowvm_read(vm, 0, a, MEM));
	TEST_OK(cowvm_read(copy, 0, b, MEM));
	TEST_ASSERT(!memcmp(a, b, MEM), "%s: the snapshot lost written pages",
		    mode);
	TEST_ASSERT(!memcmp(b + PAGE_AT, page, sizeof(page)),
		    "%s: the host page is not in the snapshot", mode);
	/* and the next rounds and snapshots work as ever */
	TEST_OK(cowvm_run(copy, &e));
	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT, "%s: clone runs on", mode);
	TEST_OK(cowvm_reset(vm, s2));
	TEST_OK(cowvm_run(vm, &e));
	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT, "%s: reset VM runs on", mode);
	cowvm_destroy(copy);
	cowvm_destroy(vm);
	cowvm_snapshot_put(s2);
	printf("record: %s: failed records recovered at the next fold\n", mode);
}

int main(int argc, char **argv)
{
	for (int m = 0; m < 2; m++) {
		struct cowvm_config cfg;
		struct cowvm_snapshot *snap;
		struct cowvm_exit e;
		struct cowvm *vm;

		test_require_kvm();
		TEST_ASSERT(argc >= 2, "usage: %s GUEST_ELF", argv[0]);
		cowvm_config_init(&cfg);
		cfg.mem_size = MEM;
		cfg.console_fd = -1;
		cfg.mem_mode = m ? COWVM_MEM_UFFD : COWVM_MEM_KERNEL;
		vm = cowvm_create(&cfg);
		TEST_ASSERT(vm, "create: %s", cowvm_error(NULL));
		TEST_OK(cowvm_load_elf(vm, argv[1], CMDLINE));
		TEST_OK(cowvm_run(vm, &e));
		TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT, "first round");
		snap = cowvm_snapshot(vm);
		TEST_ASSERT(snap, "snapshot: %s", cowvm_error(vm));
		one(snap, m ? "uffd" : "kernel");
		cowvm_snapshot_put(snap);
		cowvm_destroy(vm);
	}
	return 0;
}
