/* What state save and restore need from KVM: the facts a probe VM shows
 * once per process (the MSRs to save, the XSAVE size, TSC control), the
 * table of pieces moved by one ioctl pair, and the counted ioctls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "state_internal.h"

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

struct st_facts st_facts;
_Thread_local struct vmm_state_stats st_stats;

/* The pieces saved and restored by one ioctl pair, in capture order. */
#define ST_PIECE(p, vmfd, g, s, field)                                        \
	{VMM_PIECE_##p, vmfd, KVM_##g, KVM_##s,                               \
	 offsetof(struct vmm_state, field), #g, #s}
const struct st_piece st_pieces[] = {
	ST_PIECE(XSAVE, false, GET_XSAVE, SET_XSAVE, xsave),
	ST_PIECE(XCRS, false, GET_XCRS, SET_XCRS, xcrs),
	ST_PIECE(MP, false, GET_MP_STATE, SET_MP_STATE, mp_state),
	ST_PIECE(LAPIC, false, GET_LAPIC, SET_LAPIC, lapic),
	ST_PIECE(DEBUGREGS, false, GET_DEBUGREGS, SET_DEBUGREGS, debugregs),
	ST_PIECE(PIC_MASTER, true, GET_IRQCHIP, SET_IRQCHIP, pic_master),
	ST_PIECE(PIC_SLAVE, true, GET_IRQCHIP, SET_IRQCHIP, pic_slave),
	ST_PIECE(IOAPIC, true, GET_IRQCHIP, SET_IRQCHIP, ioapic),
	ST_PIECE(PIT, true, GET_PIT2, SET_PIT2, pit),
};
const unsigned st_npieces = sizeof(st_pieces) / sizeof(st_pieces[0]);

/* The entry of piece in st_pieces (every caller names one it holds). */
const struct st_piece *st_piece_find(uint32_t piece)
{
	unsigned i = 0;

	while (i + 1 < st_npieces && st_pieces[i].piece != piece)
		i++;
	return &st_pieces[i];
}

/* Where p lives in st: the field, or the buffer the XSAVE field points
 * to. */
void *st_piece_arg(const struct st_piece *p, const struct vmm_state *st)
{
	char *f = (char *)st + p->off;

	if (p->piece == VMM_PIECE_XSAVE)
		return st->xsave;
	return f;
}

/* The fd p is issued on. */
int st_piece_fd(const struct st_piece *p, const struct cowvm *vm)
{
	return p->vm_fd ? vm->vm_fd : vm->vcpu.fd;
}

/* ioctl on fd counting it in st_stats; 0 or -errno with vm->err. */
int st_ioctl(struct cowvm *vm, int fd, unsigned long req, void *arg,
	     const char *name)
{
	st_stats.ioctls++;
	if (vmm_ioctl(fd, req, arg) < 0)
		return vmm_fail(vm, errno, "%s failed: %m", name);
	return 0;
}

/* KVM_GET_MSRS/KVM_SET_MSRS on e[0..n): the count done, or -errno. */
int st_msrs_io(int fd, unsigned long req, struct kvm_msr_entry *e,
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
	r = vmm_ioctl(fd, req, &buf);
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
	if (index == ST_MSR_TSC && st_facts.tsc_attr)
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

	if (vmm_ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 &&
	    errno != E2BIG)
		return vmm_fail(vm, errno, "KVM_GET_MSR_INDEX_LIST: %m");
	list = vmm_calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	if (vmm_ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return vmm_fail(vm, errno, "KVM_GET_MSR_INDEX_LIST: %m");
	}
	for (unsigned i = 0; i < list->nmsrs; i++)
		st_add_candidate(cand, &n, list->indices[i]);
	free(list);
	for (size_t i = 0; i < sizeof(st_extra_msrs) / sizeof(uint32_t); i++)
		st_add_candidate(cand, &n, st_extra_msrs[i]);
	st_facts.nmsrs = 0;
	for (unsigned i = 0; i < n; i++) {
		struct kvm_msr_entry e = {.index = cand[i]};

		if (st_msrs_io(vm->vcpu.fd, KVM_GET_MSRS, &e, 1) == 1 &&
		    st_msrs_io(vm->vcpu.fd, KVM_SET_MSRS, &e, 1) == 1)
			st_facts.msr_idx[st_facts.nmsrs++] = cand[i];
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

	st_facts.tsc_attr = vmm_ioctl(vm->vcpu.fd, KVM_HAS_DEVICE_ATTR, &a) == 0 &&
		      vmm_ioctl(vm->vcpu.fd, KVM_GET_DEVICE_ATTR, &a) == 0;
}

/* Whether setting KVM_VCPU_TSC_OFFSET actually moves the guest TSC (not
 * on PVM, where every guest reads the host TSC). */
void st_facts_probe_tsc(struct cowvm *vm)
{
	uint64_t off = 0, want, got = 0;
	struct kvm_device_attr a = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)&off,
	};

	if (!st_facts.tsc_attr || vmm_ioctl(vm->vcpu.fd, KVM_GET_DEVICE_ATTR, &a) < 0)
		return;
	want = off - 1000000000ull;
	off = want;
	if (vmm_ioctl(vm->vcpu.fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return;
	a.addr = (uint64_t)(uintptr_t)&got;
	st_facts.tsc_settable =
		vmm_ioctl(vm->vcpu.fd, KVM_GET_DEVICE_ATTR, &a) == 0 && got == want;
}

/* Learn the MSR list, XSAVE size and TSC control from the probe VM vm,
 * created here without RAM; 0 or -errno with vm->err. */
int st_facts_probe(struct cowvm *vm)
{
	int r = vmm_kvm_open(vm);

	if (!r)
		r = vmm_kvm_create_vm(vm);
	if (!r)
		r = vcpu_create(vm);
	if (r)
		return r;
	r = vmm_ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	st_facts.xsave2 = r > 0;
	st_facts.xsave_size = r > (int)sizeof(struct kvm_xsave)
				      ? (uint32_t)r
				      : (uint32_t)sizeof(struct kvm_xsave);
	st_probe_tsc_attr(vm);
	return st_probe_msrs(vm);
}

/* Complete a pending I/O exit and fetch regs/sregs/events through sync
 * regs with one KVM_RUN that returns at once; 0 or -errno. */
int st_flush(struct cowvm *vm)
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

/* Nanoseconds of host CLOCK_BOOTTIME, the base of KVM's kvmclock. */
uint64_t st_boottime_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_BOOTTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* For tests: take the TSC offset as settable (or not) from now on. */
void vmm_state_test_tsc_settable(bool settable)
{
	st_facts.tsc_settable = settable && st_facts.tsc_attr;
}
