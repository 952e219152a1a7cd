/* Ring-3 restores: proof that a guest stayed at CPL 3 since its state was
 * restored, so that a reset to the same state may skip what only CPL 0
 * can change (MSRs, XCRs, debug registers, MP state).
 *
 * Every entry to CPL 0, 1 or 2 (all of them supervisor) from CPL 3 that a
 * snapshot at CPL 3 allows goes through the IDT (exceptions, interrupts,
 * INT n) or a call gate (GDT or LDT), with SYSCALL (EFER.SCE) and SYSENTER
 * (SYSENTER_CS) ruled out by the state itself. Each such entry makes the
 * CPU push a frame on the RSP0, RSP1, RSP2 or an IST stack named by the
 * TSS. So if none of the IDT, GDT,
 * TSS, those stack tops, nor the page-table pages that map them was
 * written since the restore, CPL 0 was never entered. Guest writes come
 * from the KVM dirty log, host writes from vmm_mem_gpa_write (vmm_mem_watch).
 * A timer in the snapshot's LAPIC (TSC deadline) could change state without
 * an entry, so such a state never qualifies.
 *
 * Ring 3 could also reach the LAPIC or IOAPIC through a user mapping of
 * their pages (an INIT changes the MP state). So every page table the
 * state reaches is watched too (ring 3 then keeps exactly the mappings of
 * the state), and a state with a user mapping of either page never
 * qualifies. With those pages out of reach, a LAPIC whose timer is idle,
 * whose local sources are masked or deliver only NMIs or the PIC's ExtINT
 * (vCPU events and PIC state, both restored), and whose IOAPIC entries are
 * all masked cannot change either, and is not restored (r3_lapic). */
#include <stdatomic.h>
#include <string.h>

#include "state.h"

#define R3_PAGE		4096ull
#define R3_PTE_P	(1ull << 0)
#define R3_PTE_US	(1ull << 2)
#define R3_PTE_PS	(1ull << 7)
#define R3_TABLES_MAX	128u /* more page tables: no ring-3 restores */
#define R3_IOAPIC_PAGE	0xfec00000ull
#define R3_APIC_BASE	0x000ffffffffff000ull /* of IA32_APIC_BASE */
#define R3_PTE_ADDR	0x000ffffffffff000ull
#define R3_CR0_PG	(1ull << 31)
#define R3_CR4_LA57	(1ull << 12)
#define R3_EFER_SCE	(1ull << 0)
#define R3_EFER_LMA	(1ull << 10)
#define R3_MSR_SYSENTER 0x174u
#define R3_MSR_DEADLINE 0x6e0u
#define R3_TSS_RSP0	4u  /* 64-bit TSS: rsp0..rsp2 from byte 4 */
#define R3_TSS_IST1	36u /* ist1..ist7 from byte 36 */
#define R3_TSS_STACKS	10u /* rsp0, rsp1, rsp2, ist1..ist7 */
#define R3_FRAME	64u /* bytes of an interrupt frame, rounded up */

static atomic_uint_fast64_t r3_next_id = 1;

/* The watch list of one state being built; ok turns false when a range
 * cannot be translated or the list is full. */
struct r3_walk {
	struct vmm_state *st;
	struct cowvm *vm;
	bool ok;
	unsigned tables; /* visited by r3_walk_tables */
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

/* Watch the page at gpa, extending the last range when it ends there. */
static void r3_add_page(struct r3_walk *wk, uint64_t gpa)
{
	struct vmm_state *st = wk->st;
	struct vmm_watch *last = st->nwatch ? &st->watch[st->nwatch - 1] : NULL;

	if (last && last->gpa + last->len == gpa)
		last->len += R3_PAGE;
	else
		r3_add(wk, gpa, R3_PAGE);
}

/* Whether the page at gpa (4 KiB) lies in [base, base + size). */
static bool r3_covers(uint64_t base, uint64_t size, uint64_t gpa)
{
	return gpa >= base && gpa - base < size;
}

/* Watch table (at level, see vmm_gva_walk) and every table below it, and
 * check that no leaf reachable from CPL 3 (U/S on every level, user true
 * above) maps the LAPIC or IOAPIC page. */
static void r3_walk_tables(struct r3_walk *wk, uint64_t table, int level,
			   bool user)
{
	const uint64_t *t = vmm_mem_gpa(wk->vm->mem, table, R3_PAGE);
	uint64_t apic = wk->st->sregs.apic_base & R3_APIC_BASE;

	if (!t || ++wk->tables > R3_TABLES_MAX) {
		wk->ok = false;
		return;
	}
	r3_add_page(wk, table);
	for (unsigned i = 0; wk->ok && i < 512; i++) {
		uint64_t e = t[i], size = 1ull << (12 + 9 * level), pa;
		bool u = user && (e & R3_PTE_US);

		if (!(e & R3_PTE_P))
			continue;
		if (level > 0 &&
		    !((level == 1 || level == 2) && e & R3_PTE_PS)) {
			r3_walk_tables(wk, e & R3_PTE_ADDR, level - 1, u);
			continue;
		}
		pa = e & R3_PTE_ADDR & ~(size - 1);
		if (u && (r3_covers(pa, size, apic) ||
			  r3_covers(pa, size, R3_IOAPIC_PAGE)))
			wk->ok = false;
	}
}

/* Translate gva through the tables of the state (which r3_walk_tables
 * watches); false if unmapped. */
static bool r3_translate(struct r3_walk *wk, uint64_t gva, uint64_t *gpa)
{
	struct vmm_gva w;

	if (!vmm_gva_walk(wk->vm->mem, wk->st->sregs.cr3, gva, &w))
		return false;
	*gpa = w.gpa;
	return true;
}

/* Watch the bytes [gva, gva + len) page by page. */
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

/* Watch the frame an entry through a TSS stack top sp pushes. An unset
 * top (0) whose frame is unmapped needs no watch: an entry through it
 * faults, and that fault enters through a watched stack or shuts the VM
 * down. */
static void r3_watch_stack(struct r3_walk *wk, uint64_t sp)
{
	uint64_t frame = (sp & ~15ull) - R3_FRAME, gpa;

	if (sp || r3_translate(wk, frame, &gpa))
		r3_watch(wk, frame, R3_FRAME);
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
 * frame, and its paging is the 4-level kind vmm_gva_walk walks. */
static bool r3_state_allows(const struct vmm_state *st)
{
	const struct kvm_sregs *s = &st->sregs;

	return s->cs.dpl == 3 && s->ss.dpl == 3 && (s->cr0 & R3_CR0_PG) &&
	       (s->efer & R3_EFER_LMA) && !(s->cr4 & R3_CR4_LA57) &&
	       !(s->efer & R3_EFER_SCE) && !r3_msr(st, R3_MSR_SYSENTER) &&
	       !r3_msr(st, R3_MSR_DEADLINE);
}

/* A LAPIC register (32 bits at byte off of the saved page). */
static uint32_t r3_apic_reg(const struct vmm_state *st, unsigned off)
{
	uint32_t v;

	memcpy(&v, st->lapic.regs + off, sizeof(v));
	return v;
}

/* Whether LVT entry v can change no LAPIC or MP state: masked, or
 * delivering an NMI (a vCPU event) or ExtINT (the PIC's, which KVM acks
 * in the PIC). */
static bool r3_lvt_quiet(uint32_t v)
{
	unsigned mode = (v >> 8) & 7;

	return (v & (1u << 16)) || mode == 4 || mode == 7;
}

/* Whether nothing can reach st's LAPIC while the guest stays at CPL 3. */
bool vmm_r3_lapic_quiet(const struct vmm_state *st)
{
	/* LVT timer, thermal, PMC, LINT0, LINT1, error (no CMCI: cowvm sets
	 * up no machine-check banks, so none is signalled) */
	static const unsigned lvt[] = {0x320, 0x330, 0x340,
				       0x350, 0x360, 0x370};
	const struct kvm_ioapic_state *io = &st->ioapic.chip.ioapic;

	if (r3_apic_reg(st, 0x380)) /* TMICT: the timer counts */
		return false;
	for (unsigned i = 0; i < sizeof(lvt) / sizeof(lvt[0]); i++)
		if (!r3_lvt_quiet(r3_apic_reg(st, lvt[i])))
			return false;
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		if (!io->redirtbl[i].fields.mask)
			return false;
	return true;
}

/* Decide whether st allows ring-3 restores and list what to watch: every
 * page table, the IDT, GDT and TSS, the frames below RSP0-2 and each IST.
 * vm's RAM must be as at the capture of st. */
void vmm_r3_prepare(struct cowvm *vm, struct vmm_state *st)
{
	struct r3_walk wk = {st, vm, r3_state_allows(st), 0};
	const struct kvm_sregs *s = &st->sregs;

	st->id = atomic_fetch_add(&r3_next_id, 1);
	st->nwatch = 0;
	if (wk.ok)
		r3_walk_tables(&wk, s->cr3 & R3_PTE_ADDR, 3, true);
	if (wk.ok) {
		r3_watch(&wk, s->idt.base, (uint64_t)s->idt.limit + 1);
		r3_watch(&wk, s->gdt.base, (uint64_t)s->gdt.limit + 1);
		r3_watch(&wk, s->tr.base, (uint64_t)s->tr.limit + 1);
	}
	for (unsigned i = 0; wk.ok && i < R3_TSS_STACKS; i++) {
		uint64_t at = s->tr.base + (i < 3 ? R3_TSS_RSP0 + 8 * i
						  : R3_TSS_IST1 + 8 * (i - 3));
		uint64_t sp = 0;

		if (s->tr.limit < at - s->tr.base + 7 || !r3_read(&wk, at, &sp))
			wk.ok = false;
		else
			r3_watch_stack(&wk, sp);
	}
	st->r3_ok = wk.ok;
	st->r3_lapic = wk.ok && vmm_r3_lapic_quiet(st);
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
