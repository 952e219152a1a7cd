/* Save and restore of a VM's non-RAM state with as few ioctls as possible:
 * sync regs for regs/sregs/events, one KVM_SET_MSRS, and nothing for the
 * pieces a freshly created target already holds. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "pool.h"
#include "state.h"

#define ST_MSR_TSC	    0x10u
#define ST_MSR_KVM_WALL	    0x11u
#define ST_MSR_KVM_WALL_NEW 0x4b564d00u
#define ST_CR4_LA57	    (1ull << 12)
#define ST_EFER_LMA	    (1ull << 10)
#define ST_LAPIC_TMCCT	    0x390u
#define ST_SYNC_ALL                                                            \
	(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)
#define ST_EVENTS_SET_FLAGS                                                    \
	(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |   \
	 KVM_VCPUEVENT_VALID_SHADOW)

/* MSRs KVM's index list may omit but a guest can read and write (MTRRs,
 * PAT, TSC_AUX, MISC_ENABLE); kept only if the probe can get and set them. */
static const uint32_t st_extra_msrs[] = {
	0x277,			  /* PAT */
	0x1a0,			  /* MISC_ENABLE */
	0xc0000103,		  /* TSC_AUX */
	0x2ff,			  /* MTRRdefType */
	0x250,	    0x258, 0x259, /* fixed MTRRs */
	0x268,	    0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
	0x200,	    0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, /* var */
	0x208,	    0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
};

/* Process-wide facts, filled once by st_init_once. */
static pthread_once_t st_once = PTHREAD_ONCE_INIT;
static int st_init_err;
static char st_init_why[256]; /* the probe's failure */
static uint32_t st_msr_idx[VMM_STATE_MAX_MSRS];
static unsigned st_nmsrs;
static uint32_t st_xsave_size;
static bool st_xsave2;		     /* KVM_GET_XSAVE2 available */
static bool st_tsc_attr;	     /* KVM_VCPU_TSC_OFFSET can be read */
static bool st_tsc_settable;	     /* and setting it moves the guest TSC */
static struct vmm_state st_pristine; /* a freshly created VM */
static bool st_capturing;	     /* st_pristine is being filled */

static _Thread_local struct vmm_state_stats st_stats;

/* ioctl on fd counting it in st_stats; 0 or -errno with vm->err. */
static int st_ioctl(struct cowvm *vm, int fd, unsigned long req, void *arg,
		    const char *name)
{
	st_stats.ioctls++;
	if (ioctl(fd, req, arg) < 0)
		return vmm_fail(vm, errno, "%s failed: %m", name);
	return 0;
}

/* KVM_GET_MSRS/KVM_SET_MSRS on e[0..n): the count done, or -errno. */
static int st_msrs_io(int fd, unsigned long req, struct kvm_msr_entry *e,
		      unsigned n)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[VMM_STATE_MAX_MSRS];
	} buf;
	int r;

	memset(&buf.hdr, 0, sizeof(buf.hdr));
	buf.hdr.nmsrs = n;
	memcpy(buf.e, e, n * sizeof(*e));
	st_stats.ioctls++;
	r = ioctl(fd, req, &buf);
	if (r < 0)
		return -errno;
	if (req == KVM_GET_MSRS)
		memcpy(e, buf.e, (size_t)r * sizeof(*e));
	return r;
}

/* Whether index is already among idx[0..n). */
static bool st_has(const uint32_t *idx, unsigned n, uint32_t index)
{
	for (unsigned i = 0; i < n; i++)
		if (idx[i] == index)
			return true;
	return false;
}

/* Add index to the candidate list unless excluded or already there. */
static void st_add_candidate(uint32_t *idx, unsigned *n, uint32_t index)
{
	if (index == ST_MSR_KVM_WALL || index == ST_MSR_KVM_WALL_NEW)
		return; /* writing them stamps the wall clock into guest RAM */
	if (index == ST_MSR_TSC && st_tsc_attr)
		return; /* restored exactly through KVM_VCPU_TSC_OFFSET */
	if (*n < VMM_STATE_MAX_MSRS && !st_has(idx, *n, index))
		idx[(*n)++] = index;
}

/* Keep the MSRs of KVM's index list and st_extra_msrs that the probe
 * vCPU can get and set back to the same value. */
static int st_probe_msrs(struct cowvm *vm)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	uint32_t cand[VMM_STATE_MAX_MSRS];
	struct kvm_msr_list *list;
	unsigned n = 0;

	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 &&
	    errno != E2BIG)
		return vmm_fail(vm, errno, "KVM_GET_MSR_INDEX_LIST: %m");
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return vmm_fail(vm, errno, "KVM_GET_MSR_INDEX_LIST: %m");
	}
	for (unsigned i = 0; i < list->nmsrs; i++)
		st_add_candidate(cand, &n, list->indices[i]);
	free(list);
	for (size_t i = 0; i < sizeof(st_extra_msrs) / sizeof(uint32_t); i++)
		st_add_candidate(cand, &n, st_extra_msrs[i]);
	st_nmsrs = 0;
	for (unsigned i = 0; i < n; i++) {
		struct kvm_msr_entry e = {.index = cand[i]};

		if (st_msrs_io(vm->vcpu.fd, KVM_GET_MSRS, &e, 1) == 1 &&
		    st_msrs_io(vm->vcpu.fd, KVM_SET_MSRS, &e, 1) == 1)
			st_msr_idx[st_nmsrs++] = cand[i];
	}
	return 0;
}

/* Whether KVM_VCPU_TSC_OFFSET exists (then the TSC MSR is left out). */
static void st_probe_tsc_attr(struct cowvm *vm)
{
	uint64_t off = 0;
	struct kvm_device_attr a = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)&off,
	};

	st_tsc_attr = ioctl(vm->vcpu.fd, KVM_HAS_DEVICE_ATTR, &a) == 0 &&
		      ioctl(vm->vcpu.fd, KVM_GET_DEVICE_ATTR, &a) == 0;
}

/* Whether setting KVM_VCPU_TSC_OFFSET actually moves the guest TSC (not
 * on PVM, where every guest reads the host TSC). */
static void st_probe_tsc(struct cowvm *vm)
{
	uint64_t off = 0, want, got = 0;
	struct kvm_device_attr a = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)&off,
	};

	if (!st_tsc_attr || ioctl(vm->vcpu.fd, KVM_GET_DEVICE_ATTR, &a) < 0)
		return;
	want = off - 1000000000ull;
	off = want;
	if (ioctl(vm->vcpu.fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return;
	a.addr = (uint64_t)(uintptr_t)&got;
	st_tsc_settable =
		ioctl(vm->vcpu.fd, KVM_GET_DEVICE_ATTR, &a) == 0 && got == want;
}

static int st_capture(struct cowvm *vm, struct vmm_state *st);

/* Create a VM without RAM, learn the MSR list, XSAVE size and TSC
 * control from it, capture it as st_pristine, hand it to the reaper. */
static int st_init_probe(struct cowvm *vm)
{
	int r = vmm_kvm_open(vm);

	if (!r)
		r = vmm_kvm_create_vm(vm);
	if (!r)
		r = vcpu_create(vm);
	if (r)
		return r;
	r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	st_xsave2 = r > 0;
	st_xsave_size = r > (int)sizeof(struct kvm_xsave)
				? (uint32_t)r
				: (uint32_t)sizeof(struct kvm_xsave);
	st_probe_tsc_attr(vm);
	r = st_probe_msrs(vm);
	if (r)
		return r;
	st_capturing = true;
	r = st_capture(vm, &st_pristine);
	st_capturing = false;
	st_probe_tsc(vm); /* after the capture: it moves the probe's TSC */
	return r;
}

/* pthread_once body: run the probe, keep its error in st_init_err. */
static void st_init_once(void)
{
	struct cowvm *vm = calloc(1, sizeof(*vm));

	if (!vm) {
		st_init_err = -ENOMEM;
		return;
	}
	vm->kvm_fd = vm->vm_fd = vm->vcpu.fd = -1;
	cowvm_config_init(&vm->cfg);
	st_init_err = st_init_probe(vm);
	if (st_init_err)
		snprintf(st_init_why, sizeof(st_init_why), "%s", vm->err);
	vmm_pool_discard(vm);
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
	*n = st_nmsrs;
	return st_nmsrs ? st_msr_idx : NULL;
}

/* The capture of a freshly created VM. */
const struct vmm_state *vmm_state_pristine(void)
{
	return &st_pristine;
}

/* Complete a pending I/O exit and fetch regs/sregs/events through sync
 * regs with one KVM_RUN that returns at once; 0 or -errno. */
static int st_flush(struct cowvm *vm)
{
	struct kvm_run *run = vm->vcpu.run;
	int r, err = 0;

	run->kvm_valid_regs = ST_SYNC_ALL;
	run->immediate_exit = 1;
	st_stats.ioctls++;
	r = vcpu_kvm_run(&vm->vcpu);
	if (r < 0 && errno != EINTR && errno != EAGAIN)
		err = vmm_fail(vm, errno, "KVM_RUN (immediate exit): %m");
	else if (r == 0)
		err = vmm_fail(vm, EIO, "KVM_RUN (immediate exit) ran");
	run->immediate_exit = 0;
	if (!err)
		run->exit_reason = KVM_EXIT_INTR; /* nothing left to complete */
	return err;
}

/* Save the MSRs of the list, skipping any that fails; 0 or -errno. */
static int st_save_msrs(struct cowvm *vm, struct vmm_state *st)
{
	struct kvm_msr_entry e[VMM_STATE_MAX_MSRS];
	unsigned i = 0;

	memset(e, 0, sizeof(e));
	for (unsigned k = 0; k < st_nmsrs; k++)
		e[k].index = st_msr_idx[k];
	st->nmsrs = 0;
	while (i < st_nmsrs) {
		int r = st_msrs_io(vm->vcpu.fd, KVM_GET_MSRS, e + i,
				   st_nmsrs - i);

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

/* Put soft into vm (its own copy of the command line); 0 or -ENOMEM. */
static int st_soft_put(struct cowvm *vm, const struct vmm_soft *soft)
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

/* Nanoseconds of host CLOCK_BOOTTIME, the base of KVM's kvmclock. */
static uint64_t st_boottime_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_BOOTTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The vCPU half of st_capture. */
static int st_capture_vcpu(struct cowvm *vm, struct vmm_state *st)
{
	int fd = vm->vcpu.fd, err = 0;

	if (vm->vcpu.sync_regs) {
		err = st_flush(vm);
		if (err)
			return err;
		st->regs = vm->vcpu.run->s.regs.regs;
		st->sregs = vm->vcpu.run->s.regs.sregs;
		st->events = vm->vcpu.run->s.regs.events;
	} else {
		err = st_ioctl(vm, fd, KVM_GET_REGS, &st->regs, "GET_REGS");
		if (!err)
			err = st_ioctl(vm, fd, KVM_GET_SREGS, &st->sregs,
				       "GET_SREGS");
		if (!err)
			err = st_ioctl(vm, fd, KVM_GET_VCPU_EVENTS, &st->events,
				       "GET_VCPU_EVENTS");
	}
	if (!err)
		err = st_ioctl(vm, fd,
			       st_xsave2 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
			       st->xsave, "GET_XSAVE");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_XCRS, &st->xcrs, "GET_XCRS");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_MP_STATE, &st->mp_state,
			       "GET_MP_STATE");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_LAPIC, &st->lapic, "GET_LAPIC");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_DEBUGREGS, &st->debugregs,
			       "GET_DEBUGREGS");
	if (!err)
		err = st_save_msrs(vm, st);
	if (!err && st_tsc_attr) {
		struct kvm_device_attr a = {
			.group = KVM_VCPU_TSC_CTRL,
			.attr = KVM_VCPU_TSC_OFFSET,
			.addr = (uint64_t)(uintptr_t)&st->tsc_offset,
		};

		err = st_ioctl(vm, fd, KVM_GET_DEVICE_ATTR, &a,
			       "GET_DEVICE_ATTR(TSC_OFFSET)");
	}
	return err;
}

/* The VM half of st_capture: irqchip, PIT, kvmclock. */
static int st_capture_vm(struct cowvm *vm, struct vmm_state *st)
{
	int fd = vm->vm_fd;
	int err;

	st->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	st->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	st->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	err = st_ioctl(vm, fd, KVM_GET_IRQCHIP, &st->pic_master, "GET_IRQCHIP");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_IRQCHIP, &st->pic_slave,
			       "GET_IRQCHIP");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_IRQCHIP, &st->ioapic,
			       "GET_IRQCHIP");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_PIT2, &st->pit, "GET_PIT2");
	if (!err)
		err = st_ioctl(vm, fd, KVM_GET_CLOCK, &st->clock, "GET_CLOCK");
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
	static const uint32_t pieces[] = {
		VMM_PIECE_XSAVE,     VMM_PIECE_XCRS,	  VMM_PIECE_MP,
		VMM_PIECE_LAPIC,     VMM_PIECE_DEBUGREGS, VMM_PIECE_PIC_MASTER,
		VMM_PIECE_PIC_SLAVE, VMM_PIECE_IOAPIC,	  VMM_PIECE_PIT,
	};
	int err;

	st->mem_size = vm->cfg.mem_size;
	st->xsave_size = st_xsave_size;
	if (!st->xsave) {
		st->xsave = calloc(1, st_xsave_size);
		if (!st->xsave)
			return vmm_fail(vm, ENOMEM, "out of memory");
	}
	err = st_capture_vcpu(vm, st);
	if (!err)
		err = st_capture_vm(vm, st);
	if (!err)
		err = st_soft_get(vm, &st->soft);
	st->same = 0;
	for (size_t i = 0;
	     !err && !st_capturing && i < sizeof(pieces) / sizeof(pieces[0]);
	     i++)
		if (vmm_state_piece_equal(st, &st_pristine, pieces[i]))
			st->same |= pieces[i];
	return err;
}

/* Save vm's state into a new *out; 0 or -errno with vm->err. */
int vmm_state_save(struct cowvm *vm, struct vmm_state **out)
{
	struct vmm_state *st;
	int err = vmm_state_init();

	*out = NULL;
	if (err)
		return vmm_fail(vm, -err, "VM state probe failed: %s",
				st_init_why);
	st = calloc(1, sizeof(*st));
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

/* Free st and what it owns. */
void vmm_state_free(struct vmm_state *st)
{
	if (!st)
		return;
	free(st->xsave);
	free(st->soft.cmdline);
	free(st);
}

/* Set the MSRs of st, only those differing from a pristine target's;
 * 0 or -errno naming the MSR KVM refused. */
static int st_restore_msrs(struct cowvm *vm, const struct vmm_state *st,
			   bool pristine)
{
	struct kvm_msr_entry e[VMM_STATE_MAX_MSRS];
	unsigned n = 0;
	int r;

	for (unsigned i = 0; i < st->nmsrs; i++) {
		bool same = false;

		for (unsigned k = 0; pristine && k < st_pristine.nmsrs; k++)
			if (st_pristine.msrs[k].index == st->msrs[i].index) {
				same = st_pristine.msrs[k].data ==
				       st->msrs[i].data;
				break;
			}
		if (!same)
			e[n++] = st->msrs[i];
	}
	st_stats.msrs = n;
	if (!n)
		return 0;
	r = st_msrs_io(vm->vcpu.fd, KVM_SET_MSRS, e, n);
	if (r < 0)
		return vmm_fail(vm, -r, "KVM_SET_MSRS: %s", strerror(-r));
	if ((unsigned)r < n)
		return vmm_fail(vm, EIO,
				"KVM_SET_MSRS refused MSR 0x%x = 0x%llx",
				e[r].index, (unsigned long long)e[r].data);
	return 0;
}

/* The apic_base and cr4 vm holds now, as far as sync regs tell; false if
 * unknown (never ran and not pristine). */
static bool st_current_sregs(struct cowvm *vm, bool pristine,
			     struct kvm_sregs *cur)
{
	if (pristine) {
		*cur = st_pristine.sregs;
		return true;
	}
	if (!vm->vcpu.sync_regs ||
	    !(vm->vcpu.run->kvm_valid_regs & KVM_SYNC_X86_SREGS))
		return false;
	if (vm->vcpu.run->kvm_dirty_regs & KVM_SYNC_X86_SREGS && st_flush(vm))
		return false;
	*cur = vm->vcpu.run->s.regs.sregs;
	return cur->apic_base != 0;
}

/* Set sregs now (not at the next KVM_RUN) when the LAPIC or MSRs depend on
 * an APIC base or CR4.LA57 that differs from the target's; 1 if done. */
static int st_restore_sregs_early(struct cowvm *vm, const struct vmm_state *st,
				  bool pristine)
{
	struct kvm_sregs cur;
	int err;

	if (vm->vcpu.sync_regs && st_current_sregs(vm, pristine, &cur) &&
	    cur.apic_base == st->sregs.apic_base &&
	    (cur.cr4 & ST_CR4_LA57) == (st->sregs.cr4 & ST_CR4_LA57))
		return 0;
	err = st_ioctl(vm, vm->vcpu.fd, KVM_SET_SREGS, (void *)&st->sregs,
		       "SET_SREGS");
	return err ? err : 1;
}

/* Restore one piece by ioctl unless a pristine target already has it. */
static int st_put(struct cowvm *vm, const struct vmm_state *st, bool pristine,
		  uint32_t piece, int fd, unsigned long req, const void *arg,
		  const char *name)
{
	if (pristine && (st->same & piece))
		return 0;
	st_stats.restored |= piece;
	return st_ioctl(vm, fd, req, (void *)arg, name);
}

/* The vCPU pieces set by ioctl, in the order KVM needs them; with ring3
 * only those CPL 3 can change or that change by themselves (FPU state
 * unless the guest restores it itself, and the LAPIC unless the state
 * proves it quiet). */
static int st_restore_vcpu(struct cowvm *vm, const struct vmm_state *st,
			   bool pristine, bool ring3)
{
	int fd = vm->vcpu.fd;
	int err = 0;

	if (!(ring3 && st->guest_fpu))
		err = st_put(vm, st, pristine, VMM_PIECE_XSAVE, fd,
			     KVM_SET_XSAVE, st->xsave, "SET_XSAVE");
	if (!err && ring3 && !st->r3_lapic)
		err = st_put(vm, st, pristine, VMM_PIECE_LAPIC, fd,
			     KVM_SET_LAPIC, &st->lapic, "SET_LAPIC");
	if (!err && !ring3)
		err = st_put(vm, st, pristine, VMM_PIECE_XCRS, fd, KVM_SET_XCRS,
			     &st->xcrs, "SET_XCRS");
	if (!err && !ring3)
		err = st_put(vm, st, pristine, VMM_PIECE_MP, fd,
			     KVM_SET_MP_STATE, &st->mp_state, "SET_MP_STATE");
	if (!err && !ring3) /* before the MSRs: TSC_DEADLINE needs the LVT */
		err = st_put(vm, st, pristine, VMM_PIECE_LAPIC, fd,
			     KVM_SET_LAPIC, &st->lapic, "SET_LAPIC");
	if (!err && !ring3)
		err = st_put(vm, st, pristine, VMM_PIECE_DEBUGREGS, fd,
			     KVM_SET_DEBUGREGS, &st->debugregs,
			     "SET_DEBUGREGS");
	if (!err && !ring3)
		err = st_restore_msrs(vm, st, pristine);
	if (!err && st_tsc_attr && st_tsc_settable) {
		struct kvm_device_attr a = {
			.group = KVM_VCPU_TSC_CTRL,
			.attr = KVM_VCPU_TSC_OFFSET,
			.addr = (uint64_t)(uintptr_t)&st->tsc_offset,
		};

		st_stats.restored |= VMM_PIECE_TSC;
		err = st_ioctl(vm, fd, KVM_SET_DEVICE_ATTR, &a,
			       "SET_DEVICE_ATTR(TSC_OFFSET)");
	}
	return err;
}

/* The VM pieces: irqchip and PIT unless pristine-equal, kvmclock always,
 * advanced by the host time elapsed since the save. */
static int st_restore_vm(struct cowvm *vm, const struct vmm_state *st,
			 bool pristine)
{
	struct kvm_clock_data clock = {.clock = st->clock.clock};
	int fd = vm->vm_fd;
	int err;

	err = st_put(vm, st, pristine, VMM_PIECE_PIC_MASTER, fd,
		     KVM_SET_IRQCHIP, &st->pic_master, "SET_IRQCHIP");
	if (!err)
		err = st_put(vm, st, pristine, VMM_PIECE_PIC_SLAVE, fd,
			     KVM_SET_IRQCHIP, &st->pic_slave, "SET_IRQCHIP");
	if (!err)
		err = st_put(vm, st, pristine, VMM_PIECE_IOAPIC, fd,
			     KVM_SET_IRQCHIP, &st->ioapic, "SET_IRQCHIP");
	if (!err)
		err = st_put(vm, st, pristine, VMM_PIECE_PIT, fd, KVM_SET_PIT2,
			     &st->pit, "SET_PIT2");
	if (err)
		return err;
	clock.clock += st_boottime_ns() - st->clock_host_ns;
	return st_ioctl(vm, fd, KVM_SET_CLOCK, &clock, "SET_CLOCK");
}

/* regs, sregs (unless already set) and events: through sync regs for the
 * next KVM_RUN, else by ioctl. */
static int st_restore_regs(struct cowvm *vm, const struct vmm_state *st,
			   bool sregs_done)
{
	struct kvm_vcpu_events ev = st->events;
	struct kvm_run *run = vm->vcpu.run;
	int fd = vm->vcpu.fd;
	int err = 0;

	ev.flags |= ST_EVENTS_SET_FLAGS;
	if (vm->vcpu.sync_regs) {
		run->kvm_valid_regs = ST_SYNC_ALL;
		run->s.regs.regs = st->regs;
		run->s.regs.events = ev;
		run->kvm_dirty_regs |= KVM_SYNC_X86_REGS | KVM_SYNC_X86_EVENTS;
		if (!sregs_done) {
			run->s.regs.sregs = st->sregs;
			run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
		}
		st_stats.sync_regs = true;
		return 0;
	}
	if (!sregs_done)
		err = st_ioctl(vm, fd, KVM_SET_SREGS, (void *)&st->sregs,
			       "SET_SREGS");
	if (!err)
		err = st_ioctl(vm, fd, KVM_SET_REGS, (void *)&st->regs,
			       "SET_REGS");
	if (!err)
		err = st_ioctl(vm, fd, KVM_SET_VCPU_EVENTS, &ev,
			       "SET_VCPU_EVENTS");
	return err;
}

/* The linear rip KVM compares a pending OUT completion against. */
static uint64_t st_linear_rip(const struct kvm_regs *regs,
			      const struct kvm_sregs *sregs)
{
	if (sregs->cs.l && (sregs->efer & ST_EFER_LMA))
		return regs->rip;
	return (uint32_t)(sregs->cs.base + regs->rip);
}

/* Whether KVM's completion of vm's last exit, which the next KVM_RUN runs
 * after applying st's registers, could act on them; then it must be run
 * first. An OUT completion only skips the OUT when rip is still at it, so
 * it is noted and left pending unless st resumes at that very address; IN
 * and MMIO completions write registers or re-enter the emulator. */
static bool st_completion_unsafe(struct cowvm *vm, const struct vmm_state *st)
{
	struct kvm_run *run = vm->vcpu.run;

	if (vm->vcpu.sync_regs && run->exit_reason == KVM_EXIT_IO &&
	    run->io.direction == KVM_EXIT_IO_OUT &&
	    (run->kvm_valid_regs & ST_SYNC_ALL) == ST_SYNC_ALL &&
	    !(run->kvm_dirty_regs & ST_SYNC_ALL)) {
		vm->vcpu.out_pending = true;
		vm->vcpu.out_rip =
			st_linear_rip(&run->s.regs.regs, &run->s.regs.sregs);
		run->exit_reason = KVM_EXIT_INTR; /* noted */
	}
	if (run->exit_reason == KVM_EXIT_IO ||
	    run->exit_reason == KVM_EXIT_MMIO)
		return true;
	return vm->vcpu.out_pending &&
	       vm->vcpu.out_rip == st_linear_rip(&st->regs, &st->sregs);
}

/* Put st into vm; 0 or -errno with vm->err. */
int vmm_state_restore(struct cowvm *vm, const struct vmm_state *st)
{
	bool pristine = vm->pristine;
	int err = vmm_state_init();
	int early;

	memset(&st_stats, 0, sizeof(st_stats));
	if (err)
		return vmm_fail(vm, -err, "VM state probe failed: %s",
				st_init_why);
	if (st->mem_size != vm->cfg.mem_size)
		return vmm_fail(vm, EINVAL,
				"state of a %llu-byte VM into a %llu-byte one",
				(unsigned long long)st->mem_size,
				(unsigned long long)vm->cfg.mem_size);
	vm->pristine = false;
	if (!pristine && vm->vcpu.sync_regs && st_completion_unsafe(vm, st)) {
		/* complete the target's own pending I/O first, lest KVM
		 * complete it on top of the restored registers */
		err = st_flush(vm);
		if (err)
			return err;
	}
	st_stats.ring3 = !pristine && vmm_r3_holds(vm, st);
	early = st_restore_sregs_early(vm, st, pristine);
	err = early < 0 ? early : 0;
	if (!err)
		err = st_restore_vcpu(vm, st, pristine, st_stats.ring3);
	if (!err)
		err = st_restore_vm(vm, st, pristine);
	if (!err)
		err = st_restore_regs(vm, st, early == 1);
	if (!err)
		err = st_soft_put(vm, &st->soft);
	vmm_r3_arm(vm, st, !err);
	return err;
}

/* Counters of this thread's last restore. */
struct vmm_state_stats vmm_state_last_stats(void)
{
	return st_stats;
}
