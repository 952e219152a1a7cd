/* /dev/kvm checks and creation of the VM with its in-kernel devices. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm.h"

/* System pages KVM needs on Intel hosts, in the hole below 4 GiB. */
#define VMM_IDENTITY_MAP_ADDR 0xfeffc000ull
#define VMM_TSS_ADDR	      0xfeffd000ull

struct vmm_cap {
	int cap;
	const char *name;
};

static const struct vmm_cap vmm_required_caps[] = {
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
};

/* Check every capability in vmm_required_caps; 0 or -ENOTSUP naming it. */
static int kvm_check_caps(struct cowvm *vm)
{
	size_t n = sizeof(vmm_required_caps) / sizeof(vmm_required_caps[0]);

	for (size_t i = 0; i < n; i++) {
		const struct vmm_cap *c = &vmm_required_caps[i];

		if (vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, c->cap) <= 0)
			return vmm_fail(vm, ENOTSUP,
					"KVM lacks a required capability: %s",
					c->name);
	}
	if (vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS) <
	    (int)VMM_MAX_RANGES)
		return vmm_fail(vm, ENOTSUP, "KVM has fewer than %u memslots",
				VMM_MAX_RANGES);
	return 0;
}

/* Open /dev/kvm and check API version 12 and the capabilities used. */
int vmm_kvm_open(struct cowvm *vm)
{
	int version;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return vmm_fail(vm, errno, "cannot open /dev/kvm: %m");
	version = vmm_ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION)
		return vmm_fail(vm, ENOTSUP,
				"KVM API version %d, cowvm needs %d", version,
				KVM_API_VERSION);
	return kvm_check_caps(vm);
}

/* Issue a VM ioctl that must succeed; 0 or -errno naming it. */
static int kvm_vm_ioctl(struct cowvm *vm, unsigned long req, unsigned long arg,
			const char *name)
{
	if (vmm_ioctl(vm->vm_fd, req, arg) < 0)
		return vmm_fail(vm, errno, "%s failed: %m", name);
	return 0;
}

/* Create the VM, its system pages in the hole, irqchip and PIT. */
int vmm_kvm_create_vm(struct cowvm *vm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t map_addr = VMM_IDENTITY_MAP_ADDR;
	int err;

	vm->vm_fd = vmm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return vmm_fail(vm, errno, "KVM_CREATE_VM failed: %m");
	if (vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
		      KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		err = kvm_vm_ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR,
				   (unsigned long)&map_addr,
				   "KVM_SET_IDENTITY_MAP_ADDR");
		if (err)
			return err;
	}
	err = kvm_vm_ioctl(vm, KVM_SET_TSS_ADDR, VMM_TSS_ADDR,
			   "KVM_SET_TSS_ADDR");
	if (!err)
		err = kvm_vm_ioctl(vm, KVM_CREATE_IRQCHIP, 0,
				   "KVM_CREATE_IRQCHIP");
	if (!err)
		err = kvm_vm_ioctl(vm, KVM_CREATE_PIT2, (unsigned long)&pit,
				   "KVM_CREATE_PIT2");
	return err;
}

#ifndef KVM_CAP_PRE_FAULT_MEMORY
#define KVM_CAP_PRE_FAULT_MEMORY 236
struct kvm_pre_fault_memory {
	__u64 gpa;
	__u64 size;
	__u64 flags;
	__u64 padding[5];
};
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

/* Whether KVM can map RAM into vm's page tables ahead of the guest. */
bool vmm_kvm_can_prefault(struct cowvm *vm)
{
	return vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
			 KVM_CAP_PRE_FAULT_MEMORY) > 0;
}

/* Map guest-physical [gpa, gpa + size) of vm's RAM into KVM's page
 * tables before the guest touches it; 0 or -errno. */
int vmm_kvm_prefault(struct cowvm *vm, uint64_t gpa, uint64_t size)
{
	struct kvm_pre_fault_memory pf = {.gpa = gpa, .size = size};

	/* KVM maps a part per call and says what is left. */
	while (pf.size)
		if (vmm_ioctl(vm->vcpu.fd, KVM_PRE_FAULT_MEMORY, &pf) < 0 &&
		    errno != EINTR && errno != EAGAIN)
			return -errno;
	return 0;
}
