/* A full restore sets the TSC offset before the MSRs: an MSR judged
 * against the TSC (IA32_TSC_DEADLINE) must see the restored one. On hosts
 * where the offset is not settable cowvm skips it; the test then makes the
 * library issue it anyway (the host ignores it) to check the order. */
#include <string.h>

#include "state.h"
#include "test_util.h"
#include "test_vm.h"

#define MEM	(16ull << 20)
#define CMDLINE "forktest seed=2 mib=1 rounds=1000 pages=1"
#define TRACE	256u

/* Index of the first req in trace[0..n), or n. */
static unsigned find(const unsigned long *trace, unsigned n, unsigned long req)
{
	unsigned i = 0;

	while (i < n && trace[i] != req)
		i++;
	return i;
}

int main(int argc, char **argv)
{
	static unsigned long trace[TRACE];
	struct cowvm_snapshot *a, *b;
	struct tvm t;
	struct cowvm_exit e;
	unsigned n, tsc, msrs;

	test_require_kvm();
	TEST_ASSERT(argc >= 2, "usage: %s GUEST_ELF", argv[0]);
	t = tvm_boot(MEM, argv[1], CMDLINE);
	TEST_ASSERT_EXIT_TAG(tvm_run(&t), 1, "first round");
	a = cowvm_snapshot(t.vm);
	TEST_ASSERT(a, "snapshot a: %s", cowvm_error(t.vm));
	e = tvm_run(&t);
	TEST_ASSERT_EXIT_TAG(e, 2, "second round");
	b = cowvm_snapshot(t.vm);
	TEST_ASSERT(b, "snapshot b: %s", cowvm_error(t.vm));
	vmm_state_test_tsc_settable(true);
	/* a reset to another snapshot than the last restores everything */
	vmm_fault_trace(trace, TRACE);
	TEST_OK(cowvm_reset(t.vm, a));
	n = vmm_fault_traced();
	vmm_fault_trace(NULL, 0);
	TEST_ASSERT_LE(n, TRACE, "trace overflow");
	msrs = find(trace, n, KVM_SET_MSRS);
	tsc = find(trace, n, KVM_SET_DEVICE_ATTR);
	TEST_ASSERT_LT(msrs, n, "the full restore set no MSR (%u ioctls)", n);
	if (tsc == n) {
		printf("tsc-order: this host has no KVM_VCPU_TSC_OFFSET "
		       "attribute: the offset is never set, nothing to "
		       "order\n");
	} else {
		TEST_ASSERT_LT(tsc, msrs, "TSC offset set after the MSRs");
		printf("tsc-order: TSC offset at ioctl %u, MSRs at %u of %u\n",
		       tsc, msrs, n);
	}
	TEST_ASSERT_EXIT_TAG(tvm_run(&t), 2, "round after the reset");
	cowvm_snapshot_put(a);
	cowvm_snapshot_put(b);
	tvm_free(&t);
	return 0;
}
