/* Internal to vmm/state/: the facts the probe VM shows (facts.c), the table
 * of pieces saved and restored by one GET/SET ioctl pair, and the counted
 * ioctls that save.c and restore.c issue. Calls go facts.c <- save.c <-
 * restore.c; state_r3.c stands apart. */
#ifndef VMM_STATE_INTERNAL_H
#define VMM_STATE_INTERNAL_H

#include <stddef.h>

#include "state.h"

#define ST_MSR_TSC	    0x10u
#define ST_MSR_KVM_WALL	    0x11u
#define ST_MSR_KVM_WALL_NEW 0x4b564d00u
#define ST_CR4_OSXSAVE	    (1ull << 18)
#define ST_CR4_PKE	    (1ull << 22)
#define ST_SYNC_ALL                                                            \
	(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

/* What KVM offers for saving state, learned once per process (facts.c). */
struct st_facts {
	uint32_t msr_idx[VMM_STATE_MAX_MSRS]; /* MSRs saved and restored */
	unsigned nmsrs;
	uint32_t xsave_size;
	bool xsave2;	    /* KVM_GET_XSAVE2 available */
	bool tsc_attr;	    /* KVM_VCPU_TSC_OFFSET can be read */
	bool tsc_settable;  /* and setting it moves the guest TSC */
};

extern struct st_facts st_facts;
/* What this thread's last save or restore did (vmm_state_last_stats). */
extern _Thread_local struct vmm_state_stats st_stats;

/* One piece saved by one GET ioctl and restored by one SET ioctl on the
 * vCPU or the VM fd, held at offset off of struct vmm_state. */
struct st_piece {
	uint32_t piece; /* enum vmm_state_piece */
	bool vm_fd;	/* a VM ioctl, else a vCPU one */
	unsigned long get, set;
	size_t off;
	const char *get_name, *set_name;
};

/* The pieces in capture order: vCPU ones, then VM ones. */
extern const struct st_piece st_pieces[];
extern const unsigned st_npieces;

/* facts.c: the table entry of piece (one vmm_state_piece bit). */
const struct st_piece *st_piece_find(uint32_t piece);
/* facts.c: where piece p of st lives. */
void *st_piece_arg(const struct st_piece *p, const struct vmm_state *st);
/* facts.c: the fd piece p is issued on. */
int st_piece_fd(const struct st_piece *p, const struct cowvm *vm);

/* facts.c: ioctl on fd counted in st_stats; 0 or -errno with vm->err. */
int st_ioctl(struct cowvm *vm, int fd, unsigned long req, void *arg,
	     const char *name);
/* facts.c: KVM_GET_MSRS/KVM_SET_MSRS on e[0..n): the count done, or
 * -errno. */
int st_msrs_io(int fd, unsigned long req, struct kvm_msr_entry *e,
	       unsigned n);
/* facts.c: complete a pending I/O exit and fetch regs, sregs and events
 * through sync regs with one KVM_RUN that returns at once; 0 or -errno. */
int st_flush(struct cowvm *vm);
/* facts.c: nanoseconds of host CLOCK_BOOTTIME, the base of kvmclock. */
uint64_t st_boottime_ns(void);
/* facts.c: learn the MSR list, XSAVE size and TSC control from the probe
 * VM vm; 0 or -errno with vm->err. */
int st_facts_probe(struct cowvm *vm);
/* facts.c: learn whether setting the TSC offset moves the guest TSC (it
 * moves vm's TSC: call after capturing vm). */
void st_facts_probe_tsc(struct cowvm *vm);

/* save.c: the process-wide capture of a freshly created VM. */
extern struct vmm_state st_pristine;
/* save.c: why the once-per-process probe failed ("" if it did not). */
const char *st_init_why(void);
/* save.c: put soft into vm (its own copy of the command line); 0 or
 * -ENOMEM with vm->err. */
int st_soft_put(struct cowvm *vm, const struct vmm_soft *soft);

#endif
