/* Save and restore of everything a guest can observe except RAM: vCPU
 * registers, FPU/XSAVE, MSRs, events, LAPIC, in-kernel PIC/IOAPIC/PIT,
 * kvmclock, and the VMM's software devices. */
#ifndef VMM_STATE_H
#define VMM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "vmm.h"

#define VMM_STATE_MAX_MSRS 160u

/* Pieces of a state, as bits of vmm_state.same and vmm_state_stats. */
enum vmm_state_piece {
	VMM_PIECE_XSAVE = 1u << 0,
	VMM_PIECE_XCRS = 1u << 1,
	VMM_PIECE_MP = 1u << 2,
	VMM_PIECE_LAPIC = 1u << 3,
	VMM_PIECE_DEBUGREGS = 1u << 4,
	VMM_PIECE_PIC_MASTER = 1u << 5,
	VMM_PIECE_PIC_SLAVE = 1u << 6,
	VMM_PIECE_IOAPIC = 1u << 7,
	VMM_PIECE_PIT = 1u << 8,
	VMM_PIECE_TSC = 1u << 9,
};

/* The VMM's own device and hypercall state (no KVM object behind it). */
struct vmm_soft {
	enum vmm_life state;
	struct vmm_serial serial;
	bool snap_pending, snap_io;
	uint64_t gen_counter; /* a VM put in this state starts generation + 1 */
	uint64_t snap_gpa;
	int64_t snap_ret;
	struct cowvm_exit stop_exit;
	char *cmdline; /* owned copy; NULL if none */
	size_t cmdline_len;
};

/* A VM's complete non-RAM state at one instant. */
struct vmm_state {
	uint64_t mem_size; /* restore only into a VM of this RAM size */
	/* vCPU 0 */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	struct kvm_debugregs debugregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	uint64_t tsc_offset; /* KVM_VCPU_TSC_OFFSET (when settable) */
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[VMM_STATE_MAX_MSRS];
	struct kvm_xsave *xsave; /* xsave_size bytes (KVM_CAP_XSAVE2) */
	uint32_t xsave_size;
	/* VM */
	struct kvm_irqchip pic_master, pic_slave, ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	uint64_t clock_host_ns; /* host CLOCK_BOOTTIME when clock was read */
	/* software */
	struct vmm_soft soft;
	/* pieces equal to a freshly created VM's (restore skips them on one) */
	uint32_t same;
	/* ring-3 restores (state_r3.c): a unique id, whether allowed, and
	 * the guest-physical ranges whose writes end the proof */
	uint64_t id;
	bool r3_ok;
	bool r3_lapic;	/* ring 3 cannot change the LAPIC either */
	bool guest_fpu; /* the guest restores x87/SSE itself after resuming
			 * (cowvm_snapshot_guest_fpu) */
	unsigned nwatch;
	struct vmm_watch watch[VMM_WATCH_MAX];
};

/* What the last vmm_state_save or vmm_state_restore of this thread did. */
struct vmm_state_stats {
	unsigned ioctls;   /* vCPU and VM ioctls issued */
	uint32_t restored; /* vmm_state_piece bits set by ioctl */
	unsigned msrs;	   /* MSRs written */
	bool sync_regs;	   /* regs, sregs, events left for the next KVM_RUN */
	bool ring3;	   /* restore: only what ring 3 can change (the guest
			    * provably stayed at CPL 3 since the last one) */
};

/* Capture the state of a freshly created VM and the MSR list once per
 * process (also done lazily by save and restore); 0 or -errno. */
int vmm_state_init(void);

/* Save vm's complete non-RAM state into a new *out (completing a pending
 * I/O exit first, so the state resumes after the instruction); 0 or
 * -errno with vm->err. */
int vmm_state_save(struct cowvm *vm, struct vmm_state **out);

/* Put st into vm (same RAM size): devices and MSRs by ioctl, skipping
 * what a pristine vm already has; regs, sregs and events through sync regs
 * for the next KVM_RUN. 0 or -errno with vm->err. */
int vmm_state_restore(struct cowvm *vm, const struct vmm_state *st);

/* state_r3.c: give st its id and decide whether it allows ring-3
 * restores, listing what to watch from vm's RAM as at the capture. */
void vmm_r3_prepare(struct cowvm *vm, struct vmm_state *st);
/* state_r3.c: whether st's LAPIC and IOAPIC let nothing reach the LAPIC
 * while the guest stays at CPL 3 (timer idle, local sources masked or NMI
 * or ExtINT, every IOAPIC entry masked). */
bool vmm_r3_lapic_quiet(const struct vmm_state *st);
/* state_r3.c: whether vm provably stayed at CPL 3 since st was restored
 * into it (call right after realizing vm's RAM). */
bool vmm_r3_holds(struct cowvm *vm, const struct vmm_state *st);
/* state_r3.c: after restoring st into vm (ok) or failing to: arm or
 * disarm the watch. */
void vmm_r3_arm(struct cowvm *vm, const struct vmm_state *st, bool ok);

/* walk.c: a guest-virtual address as the guest's page tables map it. */
struct vmm_gva {
	uint64_t gpa; /* where it lands */
	uint64_t
		size; /* bytes of the page that maps it (4 KiB, 2 MiB, 1 GiB) */
	bool user;    /* every level allows CPL 3 */
};
/* walk.c: translate gva through the 4-level tables at cr3 in mem into
 * *out; false if unmapped. */
bool vmm_gva_walk(struct vmm_mem *mem, uint64_t cr3, uint64_t gva,
		  struct vmm_gva *out);

/* warm.c: map the pages of vm (just restored to st) set in bits (one per
 * RAM page, vmm_mem_touched's order) into KVM's page tables before its
 * first run: by KVM_PRE_FAULT_MEMORY where KVM has it (0), else by a pass
 * of code at CPL 3 in vm that reads a byte of each such page the guest
 * maps one to one with user access (1: vm ran, restore st again). Adds
 * the pages done to *pages. -EOPNOTSUPP if st allows neither (not at CPL 3
 * in 64-bit mode, or an event pending), another -errno on failure (then
 * vm may have run too). */
int vmm_state_warm(struct cowvm *vm, const struct vmm_state *st,
		   const uint64_t *bits, uint64_t *pages);

/* state_pack.c: st as bytes, in a new *buf of *len bytes (for snapshot
 * files); 0 or -ENOMEM. */
int vmm_state_pack(const struct vmm_state *st, void **buf, size_t *len);
/* state_pack.c: a new *out from len packed bytes, to be restored in full
 * (no ring-3 proof or pristine pieces carried), its kvmclock continuing
 * from its instant; 0, -EINVAL (not a packed state of this build) or
 * -ENOMEM. */
int vmm_state_unpack(const void *buf, size_t len, struct vmm_state **out);

/* Free a state; NULL is ignored. */
void vmm_state_free(struct vmm_state *st);

/* Copy src's software state (serial, hypercall bookkeeping, command line,
 * lifecycle) into dst; 0 or -ENOMEM. */
int vmm_soft_copy(struct cowvm *dst, const struct cowvm *src);

/* The counters of this thread's last vmm_state_save or _restore. */
struct vmm_state_stats vmm_state_last_stats(void);

/* The MSR indices saved by vmm_state_save (after vmm_state_init), *n of
 * them; NULL before init. */
const uint32_t *vmm_state_msr_list(unsigned *n);

/* The process-wide capture of a freshly created VM (after init). */
const struct vmm_state *vmm_state_pristine(void);

/* Whether a guest at st can restore all the FPU state it may change with
 * FXRSTOR: CR4.OSXSAVE clear (no XSAVE components beyond x87/SSE) and
 * CR4.PKE clear (else ring 3 could change PKRU, which FXRSTOR misses). */
bool vmm_state_guest_fpu_ok(const struct vmm_state *st);

/* For tests: restore the TSC offset as if setting it moved the guest TSC
 * (on hosts where it does not, the attribute is accepted and ignored), so
 * that the order of a restore's ioctls can be checked anywhere. */
void vmm_state_test_tsc_settable(bool settable);

/* Whether a and b are equal in piece (one vmm_state_piece bit), ignoring
 * what KVM cannot restore (PIT load times). */
bool vmm_state_piece_equal(const struct vmm_state *a, const struct vmm_state *b,
			   uint32_t piece);

#endif
