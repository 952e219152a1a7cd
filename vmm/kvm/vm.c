/* Creation and destruction of one VM: KVM VM, in-kernel devices, RAM, vCPU. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm.h"

/* Failure of the last vmm_vm_new on this thread (no VM to hold it). */
static _Thread_local char vmm_vm_err[256];

/* The process generation new VMs are stamped with (fork.c bumps it in a
 * forked child, so that what the child inherited is told apart). */
unsigned vmm_fork_gen;

/* Check a configuration; 0 or -EINVAL with vm->err. */
static int vm_check_config(struct cowvm *vm, const struct cowvm_config *cfg)
{
	if (cfg->mem_size < COWVM_MEM_MIN || cfg->mem_size > COWVM_MEM_MAX)
		return vmm_fail(vm, EINVAL,
				"memory size %llu is outside %llu..%llu bytes",
				(unsigned long long)cfg->mem_size,
				COWVM_MEM_MIN, COWVM_MEM_MAX);
	if (cfg->mem_size % 4096)
		return vmm_fail(vm, EINVAL,
				"memory size %llu is not a multiple of 4 KiB",
				(unsigned long long)cfg->mem_size);
	if (cfg->vcpus != 1)
		return vmm_fail(vm, EINVAL, "%u vCPUs requested, only 1 works",
				cfg->vcpus);
	return 0;
}

/* Bring up KVM, the VM, its RAM and its vCPU; 0 or -errno with vm->err. */
static int vm_create(struct cowvm *vm, bool empty_ram)
{
	int err = vm_check_config(vm, &vm->cfg);

	if (!err)
		err = vmm_kvm_open(vm);
	if (!err)
		err = vmm_kvm_create_vm(vm);
	if (!err) {
		err = vmm_mem_create(vm->vm_fd, vm->cfg.mem_size,
				     vm->cfg.mem_mode, empty_ram, &vm->mem);
		if (err)
			vmm_fail(vm, -err,
				 "cannot create %llu bytes of RAM: %s",
				 (unsigned long long)vm->cfg.mem_size,
				 strerror(-err));
	}
	if (!err)
		err = vcpu_create(vm);
	if (!err && vm->vcpu.sync_regs)
		vm->vcpu.run->kvm_valid_regs = KVM_SYNC_X86_REGS |
					       KVM_SYNC_X86_SREGS |
					       KVM_SYNC_X86_EVENTS;
	return err;
}

/* The defaults of cowvm_config_init: 64 MiB, 1 vCPU, no timeout, console
 * on stdout. */
void vmm_config_default(struct cowvm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = 64ull << 20;
	cfg->vcpus = 1;
	cfg->timeout_ms = 0;
	cfg->console_fd = STDOUT_FILENO;
}

/* Allocate and create a VM for cfg (NULL: defaults); 0 and *out or -errno
 * with the reason in vmm_vm_error(). */
int vmm_vm_new(const struct cowvm_config *cfg, bool empty_ram,
	       struct cowvm **out)
{
	struct cowvm *vm = vmm_calloc(1, sizeof(*vm));
	int err;

	*out = NULL;
	if (!vm) {
		snprintf(vmm_vm_err, sizeof(vmm_vm_err), "out of memory");
		return -ENOMEM;
	}
	vm->gen = vmm_fork_gen;
	vm->kvm_fd = vm->vm_fd = vm->vcpu.fd = -1;
	for (int i = 0; i < 3; i++)
		vm->stdio[i] = i;
	if (cfg)
		vm->cfg = *cfg;
	else
		vmm_config_default(&vm->cfg);
	err = vm_create(vm, empty_ram);
	if (err) {
		snprintf(vmm_vm_err, sizeof(vmm_vm_err), "%s", vm->err);
		vmm_vm_free(vm);
		return err;
	}
	vm->pristine = true;
	vmm_vm_err[0] = 0;
	*out = vm;
	return 0;
}

/* Pay the vCPU's one-time first-KVM_RUN cost (~15-40 us here) now, off
 * the fork path: two KVM_RUNs that return at once, entering no guest code
 * and changing no guest-visible state. */
void vmm_vm_warm(struct cowvm *vm)
{
	struct kvm_run *run = vm->vcpu.run;

	for (int i = 0; i < 2; i++) {
		run->immediate_exit = 1;
		(void)vcpu_kvm_run(&vm->vcpu);
	}
	run->immediate_exit = 0;
}

/* Close the vCPU, VM and /dev/kvm fds, release RAM and free vm. */
void vmm_vm_free(struct cowvm *vm)
{
	if (!vm)
		return;
	vcpu_destroy(&vm->vcpu);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vmm_mem_destroy(vm->mem);
	free(vm->cmdline);
	free(vm);
}

/* Record why a VM could not be made on this thread (cowvm_error(NULL)). */
void vmm_vm_set_error(const char *msg)
{
	snprintf(vmm_vm_err, sizeof(vmm_vm_err), "%s", msg);
}

/* Why the last vmm_vm_new of this thread failed; "" after a success. */
const char *vmm_vm_error(void)
{
	return vmm_vm_err;
}
