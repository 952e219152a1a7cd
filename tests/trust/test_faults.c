/* Fault-injection walk: the Nth mmap, munmap, madvise, ioctl, allocation
 * and cow call of each operation (snapshot, clone, fork, reset, destroy
 * into a spare) fails, for every N the operation reaches. After each
 * failure every VM is intact (its memory equals its model and it runs on,
 * checking its own memory) or stopped for good, every live VM's mapping
 * and the frame store pass the checker, and no VM reads another's bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cowvm_workload_abi.h"
#include "test_util.h"
#include "test_vm.h"
#include "vmm.h"

#define MEM	 (16ull << 20)
#define CMDLINE	 "forktest seed=5 mib=2 rounds=1000000 pages=3"
#define NMAX	 400u /* more fallible calls than any operation makes */
#define HOSTPAGE (12ull << 20) /* outside forktest's region */

enum op {
	OP_SNAPSHOT,
	OP_CLONE,
	OP_FORK,
	OP_RESET,
	OP_RESET_OTHER,
	OP_SPARE,
	OPS
};
static const char *const op_names[OPS] = {
	"snapshot",	   "clone", "fork", "reset", "reset to another layout",
	"destroy-to-spare"};

static struct cowvm_snapshot *tmpl; /* a booted forktest VM */
static uint8_t *m_tmpl;		    /* its memory */
static uint64_t host_seed = 1;

/* A copy of vm's whole RAM (free it). */
static uint8_t *ram_copy(struct cowvm *vm)
{
	uint8_t *m = malloc(MEM);

	TEST_ASSERT(m, "malloc");
	TEST_OK(cowvm_read(vm, 0, m, MEM));
	return m;
}

/* vm's mapping and the store pass the checker. */
static void check_mem(struct cowvm *vm, const char *what)
{
	char why[256] = "";

	TEST_ASSERT_EQ(vmm_mem_check(vm->mem, true, why, sizeof(why)), 0,
		       "%s: %s", what, why);
}

/* Run vm one forktest round: it checks its memory and stops at the next
 * snapshot request. */
static void run_round(struct cowvm *vm, const char *what)
{
	struct cowvm_exit e;

	TEST_OK(cowvm_run(vm, &e));
	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT, "%s", what);
}

/* Write a few host pages of fresh bytes into vm (recorded writes). */
static void host_writes(struct cowvm *vm)
{
	uint8_t page[4096];

	for (int i = 0; i < 3; i++) {
		test_fill(page, sizeof(page), host_seed++);
		TEST_OK(cowvm_write(vm, HOSTPAGE + (uint64_t)i * 8192, page,
				    sizeof(page)));
	}
}

/* A clone of the template that ran a round and has host writes: pages
 * written by the guest and the host, not folded. */
static struct cowvm *dirty_clone(struct cowvm_snapshot *from)
{
	struct cowvm *vm = cowvm_clone(from);

	TEST_ASSERT(vm, "clone: %s", cowvm_error(NULL));
	run_round(vm, "setup round");
	host_writes(vm);
	return vm;
}

/* After an injected failure of an operation on vm: vm is intact (memory
 * as model, still runs) or stopped (an error exit, and any RAM it still
 * reads is model or alt). */
static void check_after(struct cowvm *vm, const uint8_t *model,
			const uint8_t *alt, const char *what)
{
	struct cowvm_exit e;
	uint8_t *now = malloc(MEM);
	int r;

	TEST_ASSERT(now, "malloc");
	r = cowvm_read(vm, 0, now, MEM);
	if (vm->state == VMM_STOPPED) {
		TEST_OK(cowvm_run(vm, &e));
		TEST_ASSERT_EXIT(e, COWVM_EXIT_ERROR, "%s: stopped VM", what);
		TEST_ASSERT(r < 0 || !memcmp(now, model, MEM) ||
				    (alt && !memcmp(now, alt, MEM)),
			    "%s: a stopped VM reads bytes it does not own",
			    what);
	} else {
		TEST_OK(r);
		TEST_ASSERT(!memcmp(now, model, MEM),
			    "%s: VM intact but its memory changed", what);
		check_mem(vm, what);
		run_round(vm, what);
	}
	free(now);
}

/* The result of an operation that succeeded although a call failed
 * inside it: a VM whose memory must equal model. */
static void check_result(struct cowvm *vm, const uint8_t *model,
			 const char *what)
{
	uint8_t *now = ram_copy(vm);

	TEST_ASSERT(!memcmp(now, model, MEM), "%s: wrong memory", what);
	free(now);
	check_mem(vm, what);
	run_round(vm, what);
}

/* A clone of snap made without injection must hold model and run on. */
static void check_snapshot(struct cowvm_snapshot *snap, const uint8_t *model,
			   const char *what)
{
	struct cowvm *vm = cowvm_clone(snap);

	TEST_ASSERT(vm, "%s: clone of the snapshot: %s", what,
		    cowvm_error(NULL));
	check_result(vm, model, what);
	cowvm_destroy(vm);
}

/* What must hold after op met an injected failure: op's result, if it
 * succeeded all the same, is right; every VM involved is intact or
 * stopped; the snapshots still clone right. r is op's return (reset). */
static void walk_check(enum op op, int r, struct cowvm *p, struct cowvm *c,
		       struct cowvm_snapshot *s, struct cowvm_snapshot *got,
		       const uint8_t *mp, const uint8_t *ms, const char *what)
{
	switch (op) {
	case OP_SNAPSHOT:
		if (got)
			check_snapshot(got, mp, what);
		check_after(p, mp, NULL, what);
		break;
	case OP_FORK:
		if (c)
			check_result(c, mp, what);
		check_after(p, mp, NULL, what);
		break;
	case OP_RESET:
		if (r == 0)
			check_result(p, ms, what);
		else
			check_after(p, mp, ms, what);
		break;
	case OP_RESET_OTHER:
		if (r == 0)
			check_result(p, m_tmpl, what);
		else
			check_after(p, mp, m_tmpl, what);
		break;
	default: /* clone, destroy into a spare: p and s are untouched */
		if (c)
			check_result(c, ms, what);
		check_after(p, ms, NULL, what);
		break;
	}
	if (s)
		check_snapshot(s, ms, what);
}

/* One injected failure of op at the nth call of kind; false once the
 * operation no longer reaches an nth call. */
static bool walk_one(enum op op, enum vmm_fault_kind kind, uint64_t n)
{
	struct cowvm *p = dirty_clone(tmpl), *c = NULL;
	struct cowvm_snapshot *s = NULL, *got = NULL;
	uint8_t *mp = ram_copy(p), *ms = NULL;
	char what[96];
	bool fired;
	int r = 0;

	snprintf(what, sizeof(what), "%s, %s call %llu", op_names[op],
		 vmm_fault_name(kind), (unsigned long long)n);
	if (op != OP_SNAPSHOT && op != OP_FORK) {
		s = cowvm_snapshot(p);
		TEST_ASSERT(s, "%s: setup snapshot: %s", what, cowvm_error(p));
		ms = mp;
		mp = NULL;
	}
	if (op == OP_RESET || op == OP_RESET_OTHER) {
		run_round(p, "round before reset");
		host_writes(p);
		mp = ram_copy(p);
	}
	if (op == OP_SPARE) {
		TEST_OK(cowvm_snapshot_keep(s, 1));
		c = cowvm_clone(s);
		TEST_ASSERT(c, "%s: setup clone", what);
		run_round(c, "spare round");
		host_writes(c);
	}
	vmm_fault_arm(kind, n, ENOMEM);
	switch (op) {
	case OP_SNAPSHOT:
		got = cowvm_snapshot(p);
		break;
	case OP_CLONE:
		c = cowvm_clone(s);
		break;
	case OP_FORK:
		c = cowvm_fork(p);
		break;
	case OP_RESET:
		r = cowvm_reset(p, s);
		break;
	case OP_RESET_OTHER: /* tmpl's frames lie elsewhere: pages remap */
		r = cowvm_reset(p, tmpl);
		break;
	case OP_SPARE:
		cowvm_destroy(c);
		c = NULL;
		break;
	default:
		break;
	}
	fired = vmm_fault_fired();
	vmm_fault_arm(0, 0, 0);
	if (fired)
		walk_check(op, r, p, c, s, got, mp, ms, what);
	cowvm_destroy(c);
	cowvm_destroy(p);
	cowvm_snapshot_put(got);
	cowvm_snapshot_put(s);
	free(mp);
	free(ms);
	return fired;
}

int main(int argc, char **argv)
{
	struct tvm boot;
	struct cowvm_exit e;
	unsigned total = 0;

	test_require_kvm();
	TEST_ASSERT(argc >= 2, "usage: %s GUEST_ELF", argv[0]);
	boot = tvm_boot(MEM, argv[1], CMDLINE);
	e = tvm_run(&boot);
	TEST_ASSERT_EXIT_TAG(e, 1, "forktest's first snapshot request");
	tmpl = cowvm_snapshot(boot.vm);
	TEST_ASSERT(tmpl, "template: %s", cowvm_error(boot.vm));
	m_tmpl = ram_copy(boot.vm);
	for (int op = 0; op < OPS; op++) {
		unsigned op_calls = 0;

		for (int k = 0; k < VMM_FAULT_KINDS; k++) {
			uint64_t n = 1;

			while (n <= NMAX && walk_one(op, k, n))
				n++;
			TEST_ASSERT_LE(n, NMAX, "%s: %s walk never ended",
				       op_names[op], vmm_fault_name(k));
			printf("faults: %s: %llu %s calls failed in turn\n",
			       op_names[op], (unsigned long long)(n - 1),
			       vmm_fault_name(k));
			op_calls += (unsigned)(n - 1);
		}
		TEST_ASSERT_GT(op_calls, 0u, "%s made no fallible call",
			       op_names[op]);
		total += op_calls;
	}
	printf("faults: %u injected failures, every VM intact or stopped\n",
	       total);
	cowvm_snapshot_put(tmpl);
	free(m_tmpl);
	tvm_free(&boot);
	return 0;
}
