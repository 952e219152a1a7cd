/* The ring-3 proof of resets watches every stack a gate from ring 3 can
 * switch to: RSP0, the ISTs, and RSP1 and RSP2 too, since a gate into CPL
 * 1 or 2 runs with supervisor rights (it could reach the LAPIC or MP state
 * unseen). A snapshot whose TSS names an RSP1 stack: a write to that
 * stack's frame since the last restore must end the proof. */
#include <string.h>

#include "state.h"
#include "test_util.h"
#include "test_vm.h"

#define MEM	  (16ull << 20)
#define CMDLINE	  "forktest seed=4 mib=1 rounds=1000 pages=2"
#define TSS_RSP1  12u		/* 64-bit TSS: rsp1 at byte 12 */
#define STACK_TOP (14ull << 20) /* the RSP1 stack: the page below */

/* Reset vm to snap after one round, with a host write of 8 bytes at gpa
 * (0: none) in between; whether the reset took the ring-3 path. */
static bool reset_ring3(struct cowvm *vm, struct cowvm_snapshot *snap,
			uint64_t gpa)
{
	struct cowvm_exit e;
	uint64_t junk = 0x5a5a5a5a5a5a5a5aull;

	TEST_OK(cowvm_run(vm, &e));
	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT, "round before the reset");
	if (gpa)
		TEST_OK(cowvm_write(vm, gpa, &junk, sizeof(junk)));
	TEST_OK(cowvm_reset(vm, snap));
	return vmm_state_last_stats().ring3;
}

int main(int argc, char **argv)
{
	struct vmm_state *st;
	struct cowvm_snapshot *snap;
	struct cowvm *c;
	struct tvm t;
	uint64_t rsp1 = STACK_TOP;

	test_require_kvm();
	TEST_ASSERT(argc >= 2, "usage: %s GUEST_ELF", argv[0]);
	t = tvm_boot(MEM, argv[1], CMDLINE);
	TEST_ASSERT_EXIT_TAG(tvm_run(&t), 1, "first round");
	TEST_OK(vmm_state_save(t.vm, &st));
	TEST_OK(cowvm_write(t.vm, st->sregs.tr.base + TSS_RSP1, &rsp1, 8));
	vmm_state_free(st);
	snap = cowvm_snapshot(t.vm);
	TEST_ASSERT(snap, "snapshot: %s", cowvm_error(t.vm));
	c = cowvm_clone(snap);
	TEST_ASSERT(c, "clone: %s", cowvm_error(NULL));
	TEST_ASSERT(reset_ring3(c, snap, 0),
		    "a round that stayed in ring 3 is not proven so");
	TEST_ASSERT(reset_ring3(c, snap, STACK_TOP - 1024 * 1024),
		    "a write elsewhere ended the proof");
	TEST_ASSERT(!reset_ring3(c, snap, STACK_TOP - 32),
		    "a write to the RSP1 stack's frame went unseen");
	TEST_ASSERT(reset_ring3(c, snap, 0), "the proof holds again");
	cowvm_destroy(c);
	cowvm_snapshot_put(snap);
	tvm_free(&t);
	printf("stacks: a write to the RSP1 frame ends the ring-3 proof\n");
	return 0;
}
