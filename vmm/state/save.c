/* Saving a VM's non-RAM state: the once-per-process probe and capture of a
 * pristine VM, the capture of every piece (sync regs for regs, sregs and
 * events), and the VMM's software state. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "state_internal.h"

static pthread_once_t st_once = PTHREAD_ONCE_INIT;
static int st_init_err;
static char st_why[256];      /* the probe's failure */
struct vmm_state st_pristine; /* a freshly created VM */
static bool st_capturing;     /* st_pristine is being filled */

static int st_capture(struct cowvm *vm, struct vmm_state *st);

/* Learn the facts from a VM without RAM, capture it as st_pristine and
 * hand it to the reaper. */
static int st_init_probe(struct cowvm *vm)
{
	int r = st_facts_probe(vm);

	if (r)
		return r;
	st_capturing = true;
	r = st_capture(vm, &st_pristine);
	st_capturing = false;
	st_facts_probe_tsc(vm); /* after the capture: it moves the TSC */
	return r;
}

/* pthread_once body: run the probe, keep its error in st_init_err. */
static void st_init_once(void)
{
	struct cowvm *vm = vmm_calloc(1, sizeof(*vm));

	if (!vm) {
		st_init_err = -ENOMEM;
		return;
	}
	vm->kvm_fd = vm->vm_fd = vm->vcpu.fd = -1;
	vmm_config_default(&vm->cfg);
	st_init_err = st_init_probe(vm);
	if (st_init_err)
		snprintf(st_why, sizeof(st_why), "%s", vm->err);
	vmm_vm_discard(vm);
}

/* Learn the process-wide facts once; 0 or the probe's -errno. */
int vmm_state_init(void)
{
	pthread_once(&st_once, st_init_once);
	return st_init_err;
}

/* The saved MSR indices and their count. */
const uint32_t *vmm_state_msr_list(unsigned *n)
{
	*n = st_facts.nmsrs;
	return st_facts.nmsrs ? st_facts.msr_idx : NULL;
}

/* The capture of a freshly created VM. */
const struct vmm_state *vmm_state_pristine(void)
{
	return &st_pristine;
}

/* Why the probe failed ("" if it did not). */
const char *st_init_why(void)
{
	return st_why;
}

/* Save the MSRs of the list, skipping any that fails; 0 or -errno. */
static int st_save_msrs(struct cowvm *vm, struct vmm_state *st)
{
	struct kvm_msr_entry e[VMM_STATE_MAX_MSRS];
	unsigned i = 0;

	memset(e, 0, sizeof(e));
	for (unsigned k = 0; k < st_facts.nmsrs; k++)
		e[k].index = st_facts.msr_idx[k];
	st->nmsrs = 0;
	while (i < st_facts.nmsrs) {
		int r = st_msrs_io(vm->vcpu.fd, KVM_GET_MSRS, e + i,
				   st_facts.nmsrs - i);

		if (r < 0)
			return vmm_fail(vm, -r, "KVM_GET_MSRS: %s",
					strerror(-r));
		memcpy(st->msrs + st->nmsrs, e + i, (size_t)r * sizeof(*e));
		st->nmsrs += (uint32_t)r;
		i += (unsigned)r + 1; /* skip the one that failed */
	}
	return 0;
}

/* Fill soft from vm's software state; 0 or -ENOMEM. */
static int st_soft_get(const struct cowvm *vm, struct vmm_soft *soft)
{
	soft->state = vm->state;
	soft->serial = vm->serial;
	soft->snap_pending = vm->snap_pending;
	soft->snap_io = vm->snap_io;
	soft->gen_counter = vm->gen_counter;
	soft->snap_gpa = vm->snap_gpa;
	soft->snap_ret = vm->snap_ret;
	soft->stop_exit = vm->stop_exit;
	soft->cmdline_len = vm->cmdline_len;
	soft->cmdline = NULL;
	if (vm->cmdline) {
		soft->cmdline = strdup(vm->cmdline);
		if (!soft->cmdline)
			return -ENOMEM;
	}
	return 0;
}

/* Put soft into vm (its own copy of the command line), which starts a new
 * generation (COWVM_HC_GENID); 0 or -ENOMEM. */
int st_soft_put(struct cowvm *vm, const struct vmm_soft *soft)
{
	char *cl = NULL;

	if (soft->cmdline) {
		cl = strdup(soft->cmdline);
		if (!cl)
			return vmm_fail(vm, ENOMEM, "out of memory");
	}
	free(vm->cmdline);
	vm->cmdline = cl;
	vm->cmdline_len = soft->cmdline_len;
	vm->state = soft->state;
	vm->serial = soft->serial;
	vm->snap_pending = soft->snap_pending;
	vm->snap_io = soft->snap_io;
	vm->gen_counter = soft->gen_counter + 1;
	vm->gen_drawn = false;
	vm->snap_gpa = soft->snap_gpa;
	vm->snap_ret = soft->snap_ret;
	vm->stop_exit = soft->stop_exit;
	return 0;
}

/* Copy src's software state into dst; 0 or -ENOMEM. */
int vmm_soft_copy(struct cowvm *dst, const struct cowvm *src)
{
	struct vmm_soft soft;
	int err = st_soft_get(src, &soft);

	if (!err)
		err = st_soft_put(dst, &soft);
	free(soft.cmdline);
	return err;
}

/* Issue the GET of every piece of st_pieces on vm's VM fd (vm_fd) or
 * vCPU fd into st; 0 or -errno with vm->err. */
static int st_get_pieces(struct cowvm *vm, struct vmm_state *st, bool vm_fd)
{
	int err = 0;

	for (unsigned i = 0; !err && i < st_npieces; i++) {
		const struct st_piece *p = &st_pieces[i];
		unsigned long req = p->get;

		if (p->vm_fd != vm_fd)
			continue;
		if (p->piece == VMM_PIECE_XSAVE && st_facts.xsave2)
			req = KVM_GET_XSAVE2;
		err = st_ioctl(vm, st_piece_fd(p, vm), req, st_piece_arg(p, st),
			       p->get_name);
	}
	return err;
}

/* regs, sregs and events: through sync regs, else by ioctl. */
static int st_capture_regs(struct cowvm *vm, struct vmm_state *st)
{
	int fd = vm->vcpu.fd, err;

	if (vm->vcpu.sync_regs) {
		err = st_flush(vm);
		if (err)
			return err;
		st->regs = vm->vcpu.run->s.regs.regs;
		st->sregs = vm->vcpu.run->s.regs.sregs;
		st->events = vm->vcpu.run->s.regs.events;
		return 0;
	}
	err = st_ioctl(vm, fd, KVM_GET_REGS, &st->regs, "GET_REGS");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_SREGS, &st->sregs, "GET_SREGS");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_VCPU_EVENTS, &st->events,
			       "GET_VCPU_EVENTS");
	return err;
}

/* The vCPU half of st_capture. */
static int st_capture_vcpu(struct cowvm *vm, struct vmm_state *st)
{
	int err = st_capture_regs(vm, st);

	if (!err)
		err = st_get_pieces(vm, st, false);
	if (!err)
		err = st_save_msrs(vm, st);
	if (!err && st_facts.tsc_attr) {
		struct kvm_device_attr a = {
			.group = KVM_VCPU_TSC_CTRL,
			.attr = KVM_VCPU_TSC_OFFSET,
			.addr = (uint64_t)(uintptr_t)&st->tsc_offset,
		};

		err = st_ioctl(vm, vm->vcpu.fd, KVM_GET_DEVICE_ATTR, &a,
			       "GET_DEVICE_ATTR(TSC_OFFSET)");
	}
	return err;
}

/* The VM half of st_capture: irqchip, PIT, kvmclock. */
static int st_capture_vm(struct cowvm *vm, struct vmm_state *st)
{
	int err;

	st->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	st->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	st->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	err = st_get_pieces(vm, st, true);
	if (!err)
		err = st_ioctl(vm, vm->vm_fd, KVM_GET_CLOCK, &st->clock,
			       "GET_CLOCK");
	st->clock_host_ns = st_boottime_ns();
	return err;
}

/* Whether a and b are equal in one piece, ignoring the PIT load times and
 * the LAPIC timer's current count, which KVM recomputes on every set. */
bool vmm_state_piece_equal(const struct vmm_state *a, const struct vmm_state *b,
			   uint32_t piece)
{
	struct kvm_pit_state2 pa, pb;

	switch (piece) {
	case VMM_PIECE_XSAVE:
		return a->xsave_size == b->xsave_size &&
		       !memcmp(a->xsave, b->xsave, a->xsave_size);
	case VMM_PIECE_XCRS:
		return !memcmp(&a->xcrs, &b->xcrs, sizeof(a->xcrs));
	case VMM_PIECE_MP:
		return a->mp_state.mp_state == b->mp_state.mp_state;
	case VMM_PIECE_LAPIC:
		return !memcmp(&a->lapic, &b->lapic, sizeof(a->lapic));
	case VMM_PIECE_DEBUGREGS:
		return !memcmp(&a->debugregs, &b->debugregs,
			       sizeof(a->debugregs));
	case VMM_PIECE_PIC_MASTER:
		return !memcmp(&a->pic_master, &b->pic_master,
			       sizeof(a->pic_master));
	case VMM_PIECE_PIC_SLAVE:
		return !memcmp(&a->pic_slave, &b->pic_slave,
			       sizeof(a->pic_slave));
	case VMM_PIECE_IOAPIC:
		return !memcmp(&a->ioapic, &b->ioapic, sizeof(a->ioapic));
	case VMM_PIECE_PIT:
		pa = a->pit;
		pb = b->pit;
		for (int i = 0; i < 3; i++)
			pa.channels[i].count_load_time =
				pb.channels[i].count_load_time = 0;
		return !memcmp(&pa, &pb, sizeof(pa));
	case VMM_PIECE_TSC:
		return a->tsc_offset == b->tsc_offset;
	default:
		return false;
	}
}

/* Read every piece of vm's state into st (xsave allocated by caller). */
static int st_capture(struct cowvm *vm, struct vmm_state *st)
{
	int err;

	st->mem_size = vm->cfg.mem_size;
	st->xsave_size = st_facts.xsave_size;
	if (!st->xsave) {
		st->xsave = vmm_calloc(1, st_facts.xsave_size);
		if (!st->xsave)
			return vmm_fail(vm, ENOMEM, "out of memory");
	}
	err = st_capture_vcpu(vm, st);
	if (!err)
		err = st_capture_vm(vm, st);
	if (!err)
		err = st_soft_get(vm, &st->soft);
	st->same = 0;
	for (unsigned i = 0; !err && !st_capturing && i < st_npieces; i++)
		if (vmm_state_piece_equal(st, &st_pristine, st_pieces[i].piece))
			st->same |= st_pieces[i].piece;
	return err;
}

/* Save vm's state into a new *out; 0 or -errno with vm->err. */
int vmm_state_save(struct cowvm *vm, struct vmm_state **out)
{
	struct vmm_state *st;
	int err = vmm_state_init();

	*out = NULL;
	if (err)
		return vmm_fail(vm, -err, "VM state probe failed: %s", st_why);
	st = vmm_calloc(1, sizeof(*st));
	if (!st)
		return vmm_fail(vm, ENOMEM, "out of memory");
	memset(&st_stats, 0, sizeof(st_stats));
	err = st_capture(vm, st);
	if (err) {
		vmm_state_free(st);
		return err;
	}
	vmm_r3_prepare(vm, st);
	*out = st;
	return 0;
}

/* CR4.OSXSAVE and CR4.PKE of st both clear. */
bool vmm_state_guest_fpu_ok(const struct vmm_state *st)
{
	return !(st->sregs.cr4 & (ST_CR4_OSXSAVE | ST_CR4_PKE));
}

/* Free st and what it owns. */
void vmm_state_free(struct vmm_state *st)
{
	if (!st)
		return;
	free(st->xsave);
	free(st->soft.cmdline);
	free(st);
}
