/* Warming a clone before its first run: the pages an earlier clone touched
 * mapped into KVM's page tables, so that the first run faults no more than
 * a respawned spare's. KVM_PRE_FAULT_MEMORY does it where KVM offers it.
 * Under shadow paging only the guest's own accesses build KVM's tables, so
 * a short pass of code is run in the clone at CPL 3 (native speed there):
 * it reads one byte of each page, through the guest's own page tables,
 * and exits by an OUT. Its code overwrites the page the state resumes in,
 * and the caller restores the state (RAM included) afterwards; a pass at
 * CPL 3 keeps that restore on the ring-3 path unless something entered
 * the guest kernel (state_r3.c proves which). */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "state_internal.h"

#define WARM_PAGE 4096ull
#define WARM_PORT COWVM_HC_PORT(COWVM_HC_MAX - 1) /* reserved, no call */
#define WARM_TF	  (1ull << 8)
#define WARM_LMA  (1ull << 10)
#define WARM_PG	  (1ull << 31)
#define WARM_LA57 (1ull << 12)

/* The pass: read a byte of each of rcx pages from rsi on, then OUT to port
 * dx. */
static const uint8_t warm_code[] = {
	0x8a, 0x06,			    /* 1: mov (%rsi), %al */
	0x48, 0x81, 0xc6, 0x00, 0x10, 0, 0, /* add $4096, %rsi */
	0x48, 0xff, 0xc9,		    /* dec %rcx */
	0x75, 0xf2,			    /* jnz 1b */
	0xee,				    /* out %al, (%dx) */
};

/* One pass over a VM. */
struct warm {
	struct cowvm *vm;
	const struct vmm_state *st;
	uint64_t code;	    /* guest-virtual address of warm_code */
	uint64_t lo, hi;    /* the last page found mapped one to one */
	uint64_t run, nrun; /* pages gathered for the next pass */
	uint64_t *pages;    /* counted here */
};

/* Whether st lets the pass run at CPL 3 in 4-level 64-bit paging with no
 * event delivered first. */
static bool warm_state_ok(const struct vmm_state *st)
{
	const struct kvm_sregs *s = &st->sregs;
	const struct kvm_vcpu_events *ev = &st->events;

	return s->cs.dpl == 3 && s->ss.dpl == 3 && s->cs.l &&
	       (s->cr0 & WARM_PG) && (s->efer & WARM_LMA) &&
	       !(s->cr4 & WARM_LA57) && !ev->exception.injected &&
	       !ev->exception.pending && !ev->interrupt.injected &&
	       !ev->nmi.injected && !ev->nmi.pending;
}

/* Write warm_code over the start of the page st resumes in; 0 or -errno. */
static int warm_place(struct warm *w)
{
	uint64_t page = w->st->regs.rip & ~(WARM_PAGE - 1);
	struct vmm_gva g;
	void *p;

	if (!vmm_gva_walk(w->vm->mem, w->st->sregs.cr3, page, &g) || !g.user)
		return -EOPNOTSUPP;
	p = vmm_mem_gpa_write(w->vm->mem, g.gpa, sizeof(warm_code));
	if (!p)
		return -EOPNOTSUPP;
	memcpy(p, warm_code, sizeof(warm_code));
	w->code = page;
	return 0;
}

/* vm's registers as of its last exit (GET_REGS without sync regs). */
static int warm_get_regs(struct cowvm *vm, struct kvm_regs *r)
{
	if (vm->vcpu.sync_regs) {
		*r = vm->vcpu.run->s.regs.regs;
		return 0;
	}
	return vmm_ioctl(vm->vcpu.fd, KVM_GET_REGS, r) < 0 ? -errno : 0;
}

/* Registers r for vm's next KVM_RUN. */
static int warm_set_regs(struct cowvm *vm, const struct kvm_regs *r)
{
	if (vm->vcpu.sync_regs) {
		vm->vcpu.run->s.regs.regs = *r;
		vm->vcpu.run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return 0;
	}
	return vmm_ioctl(vm->vcpu.fd, KVM_SET_REGS, r) < 0 ? -errno : 0;
}

/* Run the pass over the n pages from gva; 0, or -EPROTO if the guest did
 * anything but finish it, or another -errno. */
static int warm_pass(struct warm *w, uint64_t gva, uint64_t n)
{
	struct kvm_regs r = w->st->regs;
	struct kvm_run *run = w->vm->vcpu.run;
	int err;

	r.rip = w->code;
	r.rsi = gva;
	r.rcx = n;
	r.rdx = WARM_PORT;
	r.rflags &= ~WARM_TF;
	err = warm_set_regs(w->vm, &r);
	while (!err && vcpu_kvm_run(&w->vm->vcpu) < 0) {
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
		run->immediate_exit = 0;
	}
	if (!err)
		err = warm_get_regs(w->vm, &r);
	if (err)
		return err;
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != WARM_PORT ||
	    run->io.direction != KVM_EXIT_IO_OUT || r.rcx ||
	    r.rsi != gva + n * WARM_PAGE)
		return -EPROTO;
	*w->pages += n;
	return 0;
}

/* Whether the page at gpa is mapped at the same guest-virtual address
 * with user access (remembering the whole page that maps it). */
static bool warm_identity(struct warm *w, uint64_t gpa)
{
	struct vmm_gva g;

	if (gpa >= w->lo && gpa < w->hi)
		return true;
	if (!vmm_gva_walk(w->vm->mem, w->st->sregs.cr3, gpa, &g) || !g.user ||
	    g.gpa != gpa)
		return false;
	w->lo = gpa & ~(g.size - 1);
	w->hi = w->lo + g.size;
	return true;
}

/* Run the pass over the pages gathered; 0 or -errno. */
static int warm_flush(struct warm *w)
{
	int err = w->nrun ? warm_pass(w, w->run, w->nrun) : 0;

	w->nrun = 0;
	return err;
}

/* Add the n pages from gpa to the pass, in runs mapped one to one. */
static int warm_add(struct warm *w, uint64_t gpa, uint64_t n)
{
	int err = 0;

	for (uint64_t i = 0; !err && i < n; i++) {
		uint64_t p = gpa + i * WARM_PAGE;

		if (!warm_identity(w, p)) {
			err = warm_flush(w);
			continue;
		}
		if (w->nrun && w->run + w->nrun * WARM_PAGE != p)
			err = warm_flush(w);
		if (!err && !w->nrun++)
			w->run = p;
	}
	return err;
}

/* Call add (pre-fault if w is NULL) on each run of pages set in bits,
 * within one RAM range each; 0 or the first -errno. */
static int warm_runs(struct cowvm *vm, struct warm *w, const uint64_t *bits,
		     uint64_t *pages)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned nr = vmm_mem_layout(vmm_mem_size(vm->mem), r);
	uint64_t off = 0;
	int err = 0;

	for (unsigned i = 0; !err && i < nr; off += r[i++].size / WARM_PAGE) {
		uint64_t np = r[i].size / WARM_PAGE;

		for (uint64_t p = 0; !err && p < np;) {
			uint64_t q = p, b = off + p;

			while (q < np && (bits[b / 64] >> (b % 64) & 1))
				b = off + ++q;
			if (q == p) {
				p++;
				continue;
			}
			if (w) {
				err = warm_add(w, r[i].gpa + p * WARM_PAGE,
					       q - p);
			} else {
				err = vmm_kvm_prefault(vm,
						       r[i].gpa + p * WARM_PAGE,
						       (q - p) * WARM_PAGE);
				*pages += err ? 0 : q - p;
			}
			p = q;
		}
	}
	return err;
}

/* Warm vm, just restored to st, for the pages set in bits. */
int vmm_state_warm(struct cowvm *vm, const struct vmm_state *st,
		   const uint64_t *bits, uint64_t *pages)
{
	struct warm w = {.vm = vm, .st = st, .pages = pages};
	int err;

	if (vmm_kvm_can_prefault(vm))
		return warm_runs(vm, NULL, bits, pages);
	if (!warm_state_ok(st))
		return -EOPNOTSUPP;
	err = warm_place(&w);
	if (err)
		return err;
	err = warm_runs(vm, &w, bits, pages);
	if (!err)
		err = warm_flush(&w);
	return err ? err : 1;
}
