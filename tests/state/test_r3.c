/* Ring-3 restores: a reset after the guest entered ring 0 (r0swap's ring-0
 * service, which changes IA32_KERNEL_GS_BASE) restores everything, and a
 * reset after a run that stayed in ring 3 may skip the CPL-0-only state;
 * checked on the booted VM and on a clone. */
#include "state_test.h"

#define MSR_KERNEL_GS_BASE 0xc0000102u
#define KGS_SEED	   0x5eedull /* what r0swap sets before its snapshot */
#define NRUNS		   (sizeof(rets) / sizeof(rets[0]))

/* The snapshot ret of each run: 1 enters ring 0, 0 stays in ring 3. */
static const int64_t rets[] = {0, 0, 1, 1, 0, 1, 0, 0};

/* Run vm (stopped at r0swap's snapshot or reset to snap) once per ret,
 * resetting it to snap after each run and checking the reset; returns
 * whether a reset after a ring-3-only run that followed a reset took the
 * ring-3 path. what names vm in messages. */
static bool run_sequence(struct cowvm *vm, struct cowvm_snapshot *snap,
			 const char *what)
{
	bool fast = false;

	printf("%s: ret/ring3 of each reset:", what);
	for (size_t i = 0; i < NRUNS; i++) {
		struct vmm_state_stats st;
		struct cowvm_exit e;
		uint64_t kgs;
		int r;

		TEST_OK(cowvm_set_snapshot_ret(vm, rets[i]));
		r = cowvm_run(vm, &e);
		TEST_ASSERT(r == 0, "%s: run %zu: %s", what, i,
			    cowvm_error(vm));
		TEST_ASSERT(
			e.reason == COWVM_EXIT_GUEST && e.status == 0,
			"%s: run %zu (ret %lld) ended with reason %d status "
			"%d (%s): 1 means KERNEL_GS_BASE was not 0x%llx at "
			"resume",
			what, i, (long long)rets[i], e.reason, e.status,
			e.detail, KGS_SEED);
		r = cowvm_reset(vm, snap);
		TEST_ASSERT(r == 0, "%s: reset %zu: %s", what, i,
			    cowvm_error(vm));
		st = vmm_state_last_stats();
		kgs = st_get_msr(vm, MSR_KERNEL_GS_BASE);
		printf(" %lld/%d", (long long)rets[i], st.ring3);
		TEST_ASSERT(kgs == KGS_SEED,
			    "%s: after reset %zu (run ret %lld, ring3 %d) "
			    "KERNEL_GS_BASE is 0x%llx, not 0x%llx",
			    what, i, (long long)rets[i], st.ring3,
			    (unsigned long long)kgs, KGS_SEED);
		TEST_ASSERT(rets[i] != 1 || !st.ring3,
			    "%s: reset %zu took the ring-3 path after a run "
			    "that entered ring 0",
			    what, i);
		if (i > 0 && rets[i] == 0)
			fast |= st.ring3;
	}
	printf("\n");
	return fast;
}

/* Boot r0swap from the guest ELF given as argv[1], then run the sequence on
 * the booted VM and on a clone of its snapshot. */
int main(int argc, char **argv)
{
	struct cowvm_snapshot *snap;
	struct cowvm_exit e;
	struct cowvm *clone;
	struct tvm t;
	bool fast_vm, fast_clone;

	TEST_ASSERT(argc == 2, "usage: test-state-r3 GUEST.elf");
	test_require_kvm();
	t = tvm_boot(TEST_MEM, argv[1], "r0swap");
	e = tvm_run(&t);
	TEST_ASSERT(e.reason == COWVM_EXIT_SNAPSHOT, "boot: reason %d (%s)",
		    e.reason, e.detail);
	snap = cowvm_snapshot(t.vm);
	TEST_ASSERT(snap, "cowvm_snapshot: %s", cowvm_error(t.vm));
	TEST_ASSERT(st_get_msr(t.vm, MSR_KERNEL_GS_BASE) == KGS_SEED,
		    "KERNEL_GS_BASE at the snapshot is not 0x%llx", KGS_SEED);
	fast_vm = run_sequence(t.vm, snap, "booted");
	clone = cowvm_clone(snap);
	TEST_ASSERT(clone, "cowvm_clone: %s", cowvm_error(NULL));
	fast_clone = run_sequence(clone, snap, "clone");
	TEST_ASSERT(fast_vm && fast_clone,
		    "no reset after a ring-3-only run took the ring-3 path "
		    "(booted %d, clone %d)",
		    fast_vm, fast_clone);
	cowvm_destroy(clone);
	cowvm_snapshot_put(snap);
	tvm_free(&t);
	printf("test-state-r3: PASS\n");
	return 0;
}
