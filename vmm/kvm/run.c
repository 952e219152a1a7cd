/* The run loop: KVM_RUN, the timeout, and the one switch over exit reasons. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vmm.h"

static const char *const vmm_exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
};

/* A name for a KVM exit reason. */
static const char *vmm_exit_name(uint32_t reason)
{
	size_t n = sizeof(vmm_exit_names) / sizeof(vmm_exit_names[0]);

	if (reason < n && vmm_exit_names[reason])
		return vmm_exit_names[reason];
	return "?";
}

/* Report a guest access to guest-physical memory that is not RAM. */
static int vmm_exit_mmio(struct cowvm *vm, struct cowvm_exit *exit)
{
	struct kvm_run *run = vm->vcpu.run;

	return vmm_stop_error(exit,
			      "guest %s of %u bytes at non-RAM address 0x%llx "
			      "(rip 0x%llx)",
			      run->mmio.is_write ? "write" : "read",
			      run->mmio.len,
			      (unsigned long long)run->mmio.phys_addr,
			      (unsigned long long)vcpu_rip(vm));
}

/* The one switch over KVM exit reasons; VMM_CONTINUE, VMM_STOP or -errno. */
int vmm_handle_exit(struct cowvm *vm, struct cowvm_exit *exit)
{
	struct kvm_run *run = vm->vcpu.run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return vmm_io(vm, exit);
	case KVM_EXIT_HLT:
		return vmm_stop_error(exit, "guest halted at rip 0x%llx",
				      (unsigned long long)vcpu_rip(vm));
	case KVM_EXIT_SHUTDOWN:
		exit->reason = COWVM_EXIT_SHUTDOWN;
		snprintf(exit->detail, sizeof(exit->detail),
			 "guest shut down (triple fault) at rip 0x%llx",
			 (unsigned long long)vcpu_rip(vm));
		return VMM_STOP;
	case KVM_EXIT_MMIO:
		return vmm_exit_mmio(vm, exit);
	case KVM_EXIT_FAIL_ENTRY:
		return vmm_stop_error(
			exit, "VM entry failed: hardware reason 0x%llx",
			(unsigned long long)
				run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_INTERNAL_ERROR:
		return vmm_stop_error(exit,
				      "KVM internal error %u at rip 0x%llx",
				      run->internal.suberror,
				      (unsigned long long)vcpu_rip(vm));
	case KVM_EXIT_INTR:
		return VMM_CONTINUE;
	default:
		return vmm_stop_error(
			exit, "unexpected KVM exit %u (%s) at rip 0x%llx",
			run->exit_reason, vmm_exit_name(run->exit_reason),
			(unsigned long long)vcpu_rip(vm));
	}
}

/* Whether the monotonic clock has reached dl. */
static int vmm_deadline_passed(const struct timespec *dl)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > dl->tv_sec ||
	       (now.tv_sec == dl->tv_sec && now.tv_nsec >= dl->tv_nsec);
}

/* KVM_RUN failed with err: timeout, retry, guest error or VMM failure. */
static int vmm_run_failed(struct cowvm *vm, int err, const struct timespec *dl,
			  struct cowvm_exit *exit)
{
	if (err == EINTR || err == EAGAIN) {
		vm->vcpu.run->immediate_exit = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (!dl || !vmm_deadline_passed(dl))
			return VMM_CONTINUE;
		exit->reason = COWVM_EXIT_TIMEOUT;
		snprintf(exit->detail, sizeof(exit->detail),
			 "timeout after %llu ms (rip 0x%llx)",
			 (unsigned long long)vm->cfg.timeout_ms,
			 (unsigned long long)vcpu_rip(vm));
		return VMM_STOP;
	}
	if (err == EFAULT)
		return vmm_stop_error(exit,
				      "guest memory access failed in KVM_RUN "
				      "(EFAULT) at rip 0x%llx",
				      (unsigned long long)vcpu_rip(vm));
	return vmm_fail(vm, err, "KVM_RUN failed: %s", strerror(err));
}

/* KVM_RUN until an exit stops the VM; VMM_STOP or -errno. */
static int vmm_run_loop(struct cowvm *vm, const struct timespec *dl,
			struct cowvm_exit *exit)
{
	int r = VMM_CONTINUE;

	while (r == VMM_CONTINUE) {
		if (vcpu_kvm_run(&vm->vcpu) < 0)
			r = vmm_run_failed(vm, errno, dl, exit);
		else
			r = vmm_handle_exit(vm, exit);
	}
	return r;
}

/* The absolute monotonic deadline timeout_ms from now. */
static struct timespec vmm_deadline(uint64_t timeout_ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(timeout_ms / 1000);
	t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Record a terminal exit so later runs repeat it. */
static void vmm_record_stop(struct cowvm *vm, const struct cowvm_exit *exit)
{
	if (exit->reason != COWVM_EXIT_TIMEOUT &&
	    exit->reason != COWVM_EXIT_SNAPSHOT) {
		vm->state = VMM_STOPPED;
		vm->stop_exit = *exit;
	}
}

/* Run until a stop, under the per-run timeout; 0 with *exit or -errno. */
int vmm_vm_run(struct cowvm *vm, struct cowvm_exit *exit)
{
	struct timespec dl, *dlp = NULL;
	void *timer = NULL;
	int r = VMM_CONTINUE;

	memset(exit, 0, sizeof(*exit));
	if (vm->state == VMM_CREATED)
		return vmm_fail(vm, EINVAL, "no guest loaded");
	if (vm->state == VMM_STOPPED) {
		*exit = vm->stop_exit;
		return 0;
	}
	if (vm->cfg.timeout_ms) {
		dl = vmm_deadline(vm->cfg.timeout_ms);
		dlp = &dl;
		r = vmm_timer_arm(vm, dlp, &timer);
	}
	if (r == VMM_CONTINUE) /* a stdin read it carries waits under dl */
		r = vmm_hypercall_resume(vm, exit);
	if (r == VMM_CONTINUE)
		r = vmm_run_loop(vm, dlp, exit);
	vmm_timer_disarm(vm, timer);
	if (r < 0)
		return r;
	exit->rip = vcpu_rip(vm);
	vmm_record_stop(vm, exit);
	return 0;
}
