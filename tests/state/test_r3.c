/* Ring-3 restores: a reset after the guest entered ring 0 (r0swap's ring-0
 * service, which changes IA32_KERNEL_GS_BASE) or wrote a page table from
 * ring 3 (in a page directory that maps no IDT, GDT, TSS or stack) restores
 * everything, and a reset after a run that stayed in ring 3 may skip the
 * CPL-0-only state and the quiet LAPIC; checked on the booted VM and on a
 * clone. A snapshot that maps the LAPIC and IOAPIC for ring 3 never takes
 * the ring-3 path, and a LAPIC or IOAPIC that could raise an interrupt is
 * not quiet. */
#include <stdlib.h>
#include <unistd.h>

#include "state_util.h"

#define MSR_KERNEL_GS_BASE 0xc0000102u
#define KGS_SEED	   0x5eedull /* what r0swap sets before its snapshot */
#define R3_MEM		   (2048 * MIB) /* two page directories */

/* The snapshot ret of each run: 0 stays in ring 3, 1 enters ring 0, 2
 * rewrites an entry of the second page directory from ring 3. */
static const int64_t rets[] = {0, 0, 1, 1, 0, 1, 0, 0, 2, 0, 0};

/* Run vm (stopped at r0swap's snapshot or reset to snap) once per ret of
 * rets[0..n), resetting it to snap after each run and checking the reset;
 * returns how many resets after a ring-3-only run that followed a reset
 * took the ring-3 path. what names vm in messages. */
static int run_sequence(struct cowvm *vm, struct cowvm_snapshot *snap, size_t n,
			const char *what)
{
	int fast = 0;

	printf("%s: ret/ring3 of each reset:", what);
	for (size_t i = 0; i < n; i++) {
		struct vmm_state_stats st;
		struct cowvm_exit e;
		uint64_t kgs;
		int r;

		TEST_OK(cowvm_set_snapshot_ret(vm, rets[i]));
		r = cowvm_run(vm, &e);
		TEST_ASSERT_EQ(r, 0, "%s: run %zu: %s", what, i,
			       cowvm_error(vm));
		TEST_ASSERT_EXIT_STATUS(e, 0,
					"%s: run %zu (ret %lld): status 1 "
					"means KERNEL_GS_BASE was not 0x%llx "
					"at resume",
					what, i, (long long)rets[i], KGS_SEED);
		r = cowvm_reset(vm, snap);
		TEST_ASSERT_EQ(r, 0, "%s: reset %zu: %s", what, i,
			       cowvm_error(vm));
		st = vmm_state_last_stats();
		kgs = st_get_msr(vm, MSR_KERNEL_GS_BASE);
		printf(" %lld/%d", (long long)rets[i], st.ring3);
		TEST_ASSERT_EQ(kgs, KGS_SEED,
			       "%s: KERNEL_GS_BASE after reset %zu (run ret "
			       "%lld, ring3 %d)",
			       what, i, (long long)rets[i], st.ring3);
		TEST_ASSERT(rets[i] == 0 || !st.ring3,
			    "%s: reset %zu took the ring-3 path after a run "
			    "with ret %lld",
			    what, i, (long long)rets[i]);
		TEST_ASSERT(!st.ring3 || !(st.restored & VMM_PIECE_LAPIC),
			    "%s: reset %zu restored the quiet LAPIC", what, i);
		if (i > 0 && rets[i] == 0)
			fast += st.ring3;
	}
	printf("\n");
	return fast;
}

/* The LAPIC and IOAPIC of snap's state are quiet; made to raise an
 * interrupt in any one way, they are not. */
static void lapic_quiet(struct cowvm *vm)
{
	static const unsigned lvt[] = {0x320, 0x330, 0x340,
				       0x350, 0x360, 0x370};
	struct vmm_state *st;
	struct kvm_lapic_state orig;
	uint32_t fixed = 0x30; /* unmasked, fixed delivery, vector 0x30 */

	TEST_OK(vmm_state_save(vm, &st));
	TEST_ASSERT(vmm_r3_lapic_quiet(st), "the booted LAPIC is not quiet");
	orig = st->lapic;
	memcpy(st->lapic.regs + 0x380, &fixed, 4); /* TMICT: timer running */
	TEST_ASSERT(!vmm_r3_lapic_quiet(st), "a running timer is quiet");
	for (unsigned i = 0; i < sizeof(lvt) / sizeof(lvt[0]); i++) {
		st->lapic = orig;
		memcpy(st->lapic.regs + lvt[i], &fixed, 4);
		TEST_ASSERT(!vmm_r3_lapic_quiet(st),
			    "LVT 0x%x unmasked with fixed delivery is quiet",
			    lvt[i]);
	}
	st->lapic = orig;
	st->ioapic.chip.ioapic.redirtbl[4].fields.mask = 0;
	TEST_ASSERT(!vmm_r3_lapic_quiet(st), "an unmasked IOAPIC pin is quiet");
	vmm_state_free(st);
}

/* snap saved to a file and opened again (its state read back, the
 * ring-3 proof decided on its first clone's RAM); the file is removed. */
static struct cowvm_snapshot *reopened(struct cowvm_snapshot *snap)
{
	char path[] = "/tmp/cowvm-r3-XXXXXX";
	int fd = mkstemp(path);
	struct cowvm_snapshot *s;

	TEST_ASSERT(fd >= 0, "mkstemp");
	close(fd);
	TEST_OK(cowvm_snapshot_save(snap, path));
	s = cowvm_snapshot_open(path, NULL);
	unlink(path);
	TEST_ASSERT(s, "cowvm_snapshot_open: %s", cowvm_error(NULL));
	return s;
}

/* run_sequence on a clone of snap reopened from a file; its count. */
static int file_sequence(struct cowvm_snapshot *snap, size_t n,
			 const char *what)
{
	struct cowvm_snapshot *s = reopened(snap);
	struct cowvm *clone = cowvm_clone(s);
	int fast;

	TEST_ASSERT(clone, "cowvm_clone: %s", cowvm_error(NULL));
	fast = run_sequence(clone, s, n, what);
	cowvm_destroy(clone);
	cowvm_snapshot_put(s);
	return fast;
}

/* Boot r0swap from the guest ELF given as argv[1], then run the sequence on
 * the booted VM, on a clone of its snapshot and on a clone of that
 * snapshot saved to a file and opened again. */
int main(int argc, char **argv)
{
	struct cowvm_snapshot *snap;
	struct cowvm_exit e;
	struct cowvm *clone;
	struct tvm t;
	int fast_vm, fast_clone;
	size_t n = sizeof(rets) / sizeof(rets[0]);

	TEST_ASSERT_EQ(argc, 2, "usage: test-state-r3 GUEST.elf");
	test_require_kvm();
	t = tvm_boot(R3_MEM, argv[1], "r0swap");
	e = tvm_run(&t);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT, "boot");
	snap = cowvm_snapshot(t.vm);
	TEST_ASSERT(snap, "cowvm_snapshot: %s", cowvm_error(t.vm));
	TEST_ASSERT_EQ(st_get_msr(t.vm, MSR_KERNEL_GS_BASE), KGS_SEED,
		       "KERNEL_GS_BASE at the snapshot");
	lapic_quiet(t.vm);
	fast_vm = run_sequence(t.vm, snap, n, "booted");
	clone = cowvm_clone(snap);
	TEST_ASSERT(clone, "cowvm_clone: %s", cowvm_error(NULL));
	fast_clone = run_sequence(clone, snap, n, "clone");
	TEST_ASSERT(fast_vm && fast_clone,
		    "no reset after a ring-3-only run took the ring-3 path "
		    "(booted %d, clone %d)",
		    fast_vm, fast_clone);
	cowvm_destroy(clone);
	TEST_ASSERT(file_sequence(snap, n, "file"),
		    "no reset of a clone of the reopened file took the ring-3 "
		    "path");
	TEST_ASSERT_EQ(cowvm_snapshot_guest_fpu(NULL), -EINVAL, "NULL");
	TEST_OK(cowvm_snapshot_guest_fpu(snap)); /* CR4.OSXSAVE is clear */
	cowvm_snapshot_put(snap);
	tvm_free(&t);

	/* The LAPIC and IOAPIC within reach of ring 3: never. */
	t = tvm_boot(TEST_MEM, argv[1], "r0swap mmio");
	e = tvm_run(&t);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT, "mmio boot");
	snap = cowvm_snapshot(t.vm);
	TEST_ASSERT(snap, "cowvm_snapshot: %s", cowvm_error(t.vm));
	fast_vm = run_sequence(t.vm, snap, 2, "mmio");
	TEST_ASSERT(!fast_vm, "a reset took the ring-3 path with the LAPIC "
			      "page mapped for ring 3");
	TEST_ASSERT(!file_sequence(snap, 2, "mmio file"),
		    "a reset of a reopened clone took the ring-3 path with the "
		    "LAPIC page mapped for ring 3");
	cowvm_snapshot_put(snap);
	tvm_free(&t);
	printf("test-state-r3: PASS\n");
	return 0;
}
