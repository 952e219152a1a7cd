/* Ring-3 restores: proof that a guest stayed at CPL 3 since its state was
 * restored, so that a reset to the same state may skip what only CPL 0
 * can change (MSRs, XCRs, debug registers, MP state).
 *
 * Every entry to CPL 0 from CPL 3 that a snapshot at CPL 3 allows goes
 * through the IDT (exceptions, interrupts, INT n) or a call gate (GDT or
 * LDT), with SYSCALL (EFER.SCE) and SYSENTER (SYSENTER_CS) ruled out by the
 * state itself. Each such entry makes the CPU push a frame on
 * the RSP0 or an IST stack named by the TSS. So if none of the IDT, GDT,
 * TSS, those stack tops, nor the page-table pages that map them was
 * written since the restore, CPL 0 was never entered. Guest writes come
 * from the KVM dirty log, host writes from vmm_mem_gpa_write (vmm_mem_watch).
 * A timer in the snapshot's LAPIC (TSC deadline) could change state without
 * an entry, so such a state never qualifies. */
#include <stdatomic.h>
#include <string.h>

#include "state.h"

#define R3_PAGE		4096ull
#define R3_PTE_P	(1ull << 0)
#define R3_PTE_PS	(1ull << 7)
#define R3_PTE_ADDR	0x000ffffffffff000ull
#define R3_CR0_PG	(1ull << 31)
#define R3_CR4_LA57	(1ull << 12)
#define R3_EFER_SCE	(1ull << 0)
#define R3_EFER_LMA	(1ull << 10)
#define R3_MSR_SYSENTER 0x174u
#define R3_MSR_DEADLINE 0x6e0u
#define R3_TSS_RSP0	4u  /* 64-bit TSS: rsp0 at byte 4 */
#define R3_TSS_IST1	36u /* ist1..ist7 from byte 36 */
#define R3_FRAME	64u /* bytes of an interrupt frame, rounded up */

static atomic_uint_fast64_t r3_next_id = 1;

/* The watch list of one state being built; ok turns false when a range
 * cannot be translated or the list is full. */
struct r3_walk {
	struct vmm_state *st;
	struct cowvm *vm;
	bool ok;
};

/* Add [gpa, gpa + len) unless an equal range is there already. */
static void r3_add(struct r3_walk *wk, uint64_t gpa, uint64_t len)
{
	struct vmm_state *st = wk->st;

	for (unsigned i = 0; i < st->nwatch; i++)
		if (st->watch[i].gpa == gpa && st->watch[i].len == len)
			return;
	if (st->nwatch == VMM_WATCH_MAX) {
		wk->ok = false;
		return;
	}
	st->watch[st->nwatch++] = (struct vmm_watch){gpa, len};
}

/* Translate gva through the 4-level tables of the state, watching every
 * table page on the way; false if unmapped. Levels 3..0 index gva bits
 * 47:39 (PML4), 38:30 (PDPT, PS = 1 GiB page), 29:21 (PD, PS = 2 MiB
 * page), 20:12 (PT); entries hold the next table or page at bits 51:12. */
static bool r3_translate(struct r3_walk *wk, uint64_t gva, uint64_t *gpa)
{
	uint64_t table = wk->st->sregs.cr3 & R3_PTE_ADDR;

	for (int level = 3; level >= 0; level--) {
		unsigned shift = 12 + 9 * (unsigned)level;
		uint64_t slot = table + ((gva >> shift) & 511) * 8;
		const uint64_t *e = vmm_mem_gpa(wk->vm->mem, slot, 8);
		uint64_t mask = (1ull << shift) - 1;

		if (!e || !(*e & R3_PTE_P))
			return false;
		r3_add(wk, table, R3_PAGE);
		if (level == 0 ||
		    ((level == 1 || level == 2) && *e & R3_PTE_PS)) {
			*gpa = (*e & R3_PTE_ADDR & ~mask) | (gva & mask);
			return true;
		}
		table = *e & R3_PTE_ADDR;
	}
	return false;
}

/* Watch the bytes [gva, gva + len) page by page, with their tables. */
static void r3_watch(struct r3_walk *wk, uint64_t gva, uint64_t len)
{
	while (len && wk->ok) {
		uint64_t n = R3_PAGE - (gva & (R3_PAGE - 1)), gpa;

		n = n < len ? n : len;
		if (!r3_translate(wk, gva, &gpa))
			wk->ok = false;
		else
			r3_add(wk, gpa, n);
		gva += n;
		len -= n;
	}
}

/* Read the 8 bytes at gva (within one page); false if unmapped. */
static bool r3_read(struct r3_walk *wk, uint64_t gva, uint64_t *val)
{
	uint64_t gpa;
	const void *p;

	if ((gva & (R3_PAGE - 1)) > R3_PAGE - 8 || !r3_translate(wk, gva, &gpa))
		return false;
	p = vmm_mem_gpa(wk->vm->mem, gpa, 8);
	if (p)
		memcpy(val, p, 8); /* TSS fields sit at 4 mod 8 */
	return p != NULL;
}

/* The saved value of MSR index, 0 if not saved. */
static uint64_t r3_msr(const struct vmm_state *st, uint32_t index)
{
	for (unsigned i = 0; i < st->nmsrs; i++)
		if (st->msrs[i].index == index)
			return st->msrs[i].data;
	return 0;
}

/* Whether st's own registers rule out entries to CPL 0 that push no
 * frame, and its paging is the 4-level kind r3_translate walks. */
static bool r3_state_allows(const struct vmm_state *st)
{
	const struct kvm_sregs *s = &st->sregs;

	return s->cs.dpl == 3 && s->ss.dpl == 3 && (s->cr0 & R3_CR0_PG) &&
	       (s->efer & R3_EFER_LMA) && !(s->cr4 & R3_CR4_LA57) &&
	       !(s->efer & R3_EFER_SCE) && !r3_msr(st, R3_MSR_SYSENTER) &&
	       !r3_msr(st, R3_MSR_DEADLINE);
}

/* Decide whether st allows ring-3 restores and list what to watch: the
 * IDT, GDT and TSS, the frames below RSP0 and each IST, their tables.
 * vm's RAM must be as at the capture of st. */
void vmm_r3_prepare(struct cowvm *vm, struct vmm_state *st)
{
	struct r3_walk wk = {st, vm, r3_state_allows(st)};
	const struct kvm_sregs *s = &st->sregs;

	st->id = atomic_fetch_add(&r3_next_id, 1);
	st->nwatch = 0;
	if (wk.ok) {
		r3_watch(&wk, s->idt.base, (uint64_t)s->idt.limit + 1);
		r3_watch(&wk, s->gdt.base, (uint64_t)s->gdt.limit + 1);
		r3_watch(&wk, s->tr.base, (uint64_t)s->tr.limit + 1);
	}
	for (unsigned i = 0; wk.ok && i < 8; i++) {
		uint64_t at = s->tr.base +
			      (i ? R3_TSS_IST1 + 8 * (i - 1) : R3_TSS_RSP0);
		uint64_t sp = 0;

		if (s->tr.limit < at - s->tr.base + 7 || !r3_read(&wk, at, &sp))
			wk.ok = false;
		else if (sp)
			r3_watch(&wk, (sp & ~15ull) - R3_FRAME, R3_FRAME);
	}
	st->r3_ok = wk.ok;
}

/* Whether vm still holds st's privileged pieces: st was the last state
 * restored into vm, and nothing watched was written since. Call right
 * after vm's RAM was realized (which collects the dirty log). */
bool vmm_r3_holds(struct cowvm *vm, const struct vmm_state *st)
{
	return st->r3_ok && st->id && vm->r3_id == st->id &&
	       vmm_mem_watch_clean(vm->mem);
}

/* st was just restored into vm (or, ok false, a restore failed): watch
 * for the writes that would end the proof. */
void vmm_r3_arm(struct cowvm *vm, const struct vmm_state *st, bool ok)
{
	ok = ok && st->r3_ok && vmm_mem_watch(vm->mem, st->watch, st->nwatch);
	if (!ok)
		vmm_mem_watch(vm->mem, NULL, 0);
	vm->r3_id = ok ? st->id : 0;
}
