/* Restoring a VM's non-RAM state with as few ioctls as possible: sync regs
 * for regs, sregs and events, one KVM_SET_MSRS, nothing for the pieces a
 * freshly created target already holds, and only what ring 3 can change
 * when the guest provably stayed there. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "state_internal.h"

#define ST_CR4_LA57 (1ull << 12)
#define ST_EFER_LMA (1ull << 10)
#define ST_EVENTS_SET_FLAGS                                                    \
	(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |   \
	 KVM_VCPUEVENT_VALID_SHADOW)

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
		  uint32_t piece)
{
	const struct st_piece *p = st_piece_find(piece);

	if (pristine && (st->same & piece))
		return 0;
	st_stats.restored |= piece;
	return st_ioctl(vm, st_piece_fd(p, vm), p->set, st_piece_arg(p, st),
			p->set_name);
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
		err = st_put(vm, st, pristine, VMM_PIECE_XSAVE);
	if (!err && ring3 && !st->r3_lapic)
		err = st_put(vm, st, pristine, VMM_PIECE_LAPIC);
	if (!err && !ring3)
		err = st_put(vm, st, pristine, VMM_PIECE_XCRS);
	if (!err && !ring3)
		err = st_put(vm, st, pristine, VMM_PIECE_MP);
	/* before the MSRs: TSC_DEADLINE needs the LVT and the TSC offset */
	if (!err && !ring3)
		err = st_put(vm, st, pristine, VMM_PIECE_LAPIC);
	if (!err && !ring3)
		err = st_put(vm, st, pristine, VMM_PIECE_DEBUGREGS);
	if (!err && st_facts.tsc_attr && st_facts.tsc_settable) {
		struct kvm_device_attr a = {
			.group = KVM_VCPU_TSC_CTRL,
			.attr = KVM_VCPU_TSC_OFFSET,
			.addr = (uint64_t)(uintptr_t)&st->tsc_offset,
		};

		st_stats.restored |= VMM_PIECE_TSC;
		err = st_ioctl(vm, fd, KVM_SET_DEVICE_ATTR, &a,
			       "SET_DEVICE_ATTR(TSC_OFFSET)");
	}
	if (!err && !ring3)
		err = st_restore_msrs(vm, st, pristine);
	return err;
}

/* The VM pieces: irqchip and PIT unless pristine-equal, kvmclock always,
 * advanced by the host time elapsed since the save. */
static int st_restore_vm(struct cowvm *vm, const struct vmm_state *st,
			 bool pristine)
{
	struct kvm_clock_data clock = {.clock = st->clock.clock};
	int err = 0;

	for (unsigned i = 0; !err && i < st_npieces; i++)
		if (st_pieces[i].vm_fd)
			err = st_put(vm, st, pristine, st_pieces[i].piece);
	if (err)
		return err;
	clock.clock += st_boottime_ns() - st->clock_host_ns;
	return st_ioctl(vm, vm->vm_fd, KVM_SET_CLOCK, &clock, "SET_CLOCK");
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
				st_init_why());
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
