/* cowvm_snapshot_guest_fpu's rule: the guest restores its FPU state with
 * FXRSTOR only when CR4.OSXSAVE and CR4.PKE are clear (with PKE, ring 3
 * could change PKRU, which FXRSTOR does not restore, and it would leak
 * from one reset run into the next). Checked on states whose CR4 has each
 * combination, and on a real ring-3 snapshot. */
#include <string.h>

#include "state.h"
#include "test_util.h"
#include "test_vm.h"

#define CR4_OSXSAVE (1ull << 18)
#define CR4_PKE	    (1ull << 22)

int main(int argc, char **argv)
{
	static struct vmm_state st;
	struct cowvm_snapshot *snap;
	struct tvm t;

	st.sregs.cr4 = 0x620; /* OSFXSR | OSXMMEXCPT | PAE */
	TEST_ASSERT(vmm_state_guest_fpu_ok(&st), "plain SSE state refused");
	st.sregs.cr4 = 0x620 | CR4_PKE;
	TEST_ASSERT(!vmm_state_guest_fpu_ok(&st), "CR4.PKE accepted");
	st.sregs.cr4 = 0x620 | CR4_OSXSAVE;
	TEST_ASSERT(!vmm_state_guest_fpu_ok(&st), "CR4.OSXSAVE accepted");
	st.sregs.cr4 = 0x620 | CR4_OSXSAVE | CR4_PKE;
	TEST_ASSERT(!vmm_state_guest_fpu_ok(&st), "OSXSAVE and PKE accepted");

	test_require_kvm();
	TEST_ASSERT(argc >= 2, "usage: %s GUEST_ELF", argv[0]);
	t = tvm_boot(16ull << 20, argv[1], "forktest mib=1 rounds=2 pages=1");
	TEST_ASSERT_EXIT_TAG(tvm_run(&t), 1, "first round");
	snap = cowvm_snapshot(t.vm);
	TEST_ASSERT(snap, "snapshot: %s", cowvm_error(t.vm));
	TEST_ASSERT_EQ(cowvm_snapshot_guest_fpu(snap), 0,
		       "the cowvm guest (no XSAVE, no PKE) qualifies");
	TEST_ASSERT_EQ(cowvm_snapshot_guest_fpu(NULL), -EINVAL, "NULL");
	cowvm_snapshot_put(snap);
	tvm_free(&t);
	printf("fpu-rule: PKE and OSXSAVE refused, plain SSE accepted\n");
	return 0;
}
