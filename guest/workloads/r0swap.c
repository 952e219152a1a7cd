/* The cowvm guest's ring-0 service (an int3 gate of DPL 3 that swaps
 * IA32_KERNEL_GS_BASE) and the r0swap workload, which tests of ring-3
 * restores drive through it and through page-table writes from ring 3. */
#include "workloads.h"

/* The IDT's 16-byte interrupt gates (guest/kernel/entry.S) and the service. */
extern uint8_t guest_idt[];
void guest_r0_kgs_swap(void);

/* Point the #BP gate at the ring-0 service: present, DPL 3, 64-bit
 * interrupt gate to the kernel code segment, no IST. */
void guest_r0_service_install(void)
{
	uint64_t fn = (uint64_t)(uintptr_t)guest_r0_kgs_swap;
	volatile uint8_t *g = guest_idt + 16 * GUEST_R0_VECTOR;
	const uint8_t gate[16] = {
		(uint8_t)fn,
		(uint8_t)(fn >> 8),
		0x08,
		0,
		0,
		0xee,
		(uint8_t)(fn >> 16),
		(uint8_t)(fn >> 24),
		(uint8_t)(fn >> 32),
		(uint8_t)(fn >> 40),
		(uint8_t)(fn >> 48),
		(uint8_t)(fn >> 56),
	};

	for (unsigned i = 0; i < sizeof(gate); i++)
		g[i] = gate[i];
}

#define R0SWAP_TAG  0x72307377ull /* "r0sw" */
#define R0SWAP_SEED 0x5eedull
#define R0SWAP_BAD  0xbadull
#define R0SWAP_ADDR 0x000ffffffffff000ull /* of a page-table entry */

/* r0swap's snapshot request (the host writes ret into it at each resume)
 * and the bytes it writes in ring 3 after each resume, alone in one page so
 * that none of those writes dirties a page a ring-0 entry would (GDT, IDT,
 * TSS, kernel stacks). */
static union {
	struct {
		struct cowvm_hc_snapshot snap;
		uint8_t buf[256];
	} r;
	uint8_t page[4096];
} r0swap_page __attribute__((aligned(4096))) = {.r = {.snap = {R0SWAP_TAG, 0}}};

/* The boot page tables (cowvm_abi.h), which ring 3 may read and write:
 * the PDPT that PML4 entry 0 names. */
static volatile uint64_t *r0swap_pdpt(void)
{
	const volatile uint64_t *pml4 =
		(const volatile uint64_t *)(uintptr_t)COWVM_BOOT_PML4;

	return (volatile uint64_t *)(uintptr_t)(pml4[0] & R0SWAP_ADDR);
}

/* Rewrite entry 0 of the last page directory with its own value: a
 * page-table write from ring 3 that changes no mapping. */
static void r0swap_touch_last_pd(void)
{
	volatile uint64_t *pdpt = r0swap_pdpt(), *pd;
	unsigned i = 511;

	while (i && !(pdpt[i] & 1))
		i--;
	pd = (volatile uint64_t *)(uintptr_t)(pdpt[i] & R0SWAP_ADDR);
	pd[0] = pd[0];
}

/* r0swap [mmio]: set IA32_KERNEL_GS_BASE to R0SWAP_SEED through the ring-0
 * service (with mmio, also map the fourth GiB, where the LAPIC and IOAPIC
 * live, for ring 3 with one 1 GiB page in PDPT entry 3, never used),
 * snapshot (tag R0SWAP_TAG), and after each resume write a few bytes in
 * ring 3, then by ret: 0 exits 0 without leaving ring 3; 1 swaps in
 * R0SWAP_BAD and exits 0 if the MSR still held R0SWAP_SEED, 1 if not; 2
 * rewrites a page-table entry in ring 3 and exits 0; anything else exits
 * 2. */
int guest_r0swap(int argc, char **argv)
{
	struct cowvm_hc_snapshot *snap = &r0swap_page.r.snap;
	volatile uint8_t *buf = r0swap_page.r.buf;
	uint64_t old;

	guest_r0_service_install();
	guest_r0_swap_kgs(R0SWAP_SEED);
	if (argc > 1 && !strcmp(argv[1], "mmio"))
		r0swap_pdpt()[3] = 0xc0000000ull | 0x87; /* P|RW|US|PS */
	guest_hc(COWVM_HC_SNAPSHOT, snap);
	for (unsigned i = 0; i < sizeof(r0swap_page.r.buf); i++)
		buf[i] = (uint8_t)(snap->ret + i);
	if (snap->ret == 0)
		return 0;
	if (snap->ret == 2) {
		r0swap_touch_last_pd();
		return 0;
	}
	if (snap->ret != 1) {
		guest_printf("r0swap: ret %ld is not 0, 1 or 2\n",
			     (long)snap->ret);
		return 2;
	}
	old = guest_r0_swap_kgs(R0SWAP_BAD);
	if (old != R0SWAP_SEED) {
		guest_printf(
			"r0swap: FAIL kernel_gs_base was 0x%lx, not 0x%lx\n",
			old, (uint64_t)R0SWAP_SEED);
		return 1;
	}
	return 0;
}
