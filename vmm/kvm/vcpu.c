/* Creation of the single vCPU: kvm_run mapping and CPUID. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm.h"

#define VCPU_CPUID_MAX_ENTRIES 256u
#define VCPU_CPUID_HYPERVISOR  (1u << 31) /* leaf 1 ecx */
#define VCPU_CPUID_NX	       (1u << 20) /* leaf 0x80000001 edx */

/* Minimal fixups of the supported CPUID for vCPU 0; notes NX support. */
static void vcpu_fix_cpuid(struct vmm_vcpu *vcpu, struct kvm_cpuid2 *cpuid)
{
	uint32_t *f = vcpu->features;

	for (unsigned i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 1) {
			e->ebx &= 0x00ffffffu; /* initial APIC id 0 */
			e->ecx |= VCPU_CPUID_HYPERVISOR;
			f[VMM_CPU_1_ECX] = e->ecx, f[VMM_CPU_1_EDX] = e->edx;
		}
		if (e->function == 7 && e->index == 0) {
			f[VMM_CPU_7_EBX] = e->ebx, f[VMM_CPU_7_ECX] = e->ecx;
			f[VMM_CPU_7_EDX] = e->edx;
		}
		if (e->function == 0xd && e->index == 0)
			f[VMM_CPU_D_EAX] = e->eax;
		if (e->function == 0x80000001u) {
			vcpu->nx = (e->edx & VCPU_CPUID_NX) != 0;
			f[VMM_CPU_81_ECX] = e->ecx, f[VMM_CPU_81_EDX] = e->edx;
		}
	}
}

/* The feature words of the last vCPU made in this process (all get the
 * same CPUID), once one was. */
static uint32_t vcpu_features[VMM_CPU_WORDS];
static atomic_bool vcpu_features_known;

/* Copy the CPUID feature words this process's vCPUs get into out; false
 * before the first vCPU. */
bool vmm_cpu_features(uint32_t out[VMM_CPU_WORDS])
{
	if (!atomic_load(&vcpu_features_known))
		return false;
	memcpy(out, vcpu_features, sizeof(vcpu_features));
	return true;
}

/* The feature words vCPUs of this process get, asking /dev/kvm when no
 * vCPU was made yet; 0 or -errno. */
int vmm_cpu_features_probe(uint32_t out[VMM_CPU_WORDS])
{
	struct kvm_cpuid2 *cpuid;
	struct vmm_vcpu vcpu = {0};
	int fd, err = 0;

	if (vmm_cpu_features(out))
		return 0;
	cpuid = vmm_calloc(1,
			   sizeof(*cpuid) + VCPU_CPUID_MAX_ENTRIES *
						    sizeof(cpuid->entries[0]));
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (!cpuid || fd < 0)
		err = cpuid ? -errno : -ENOMEM;
	if (!err) {
		cpuid->nent = VCPU_CPUID_MAX_ENTRIES;
		if (vmm_ioctl(fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
			err = -errno;
	}
	if (!err) {
		vcpu_fix_cpuid(&vcpu, cpuid);
		memcpy(out, vcpu.features, sizeof(vcpu.features));
	}
	if (fd >= 0)
		close(fd);
	free(cpuid);
	return err;
}

/* Set the vCPU's CPUID to what KVM supports (fixed up); 0 or -errno. */
static int vcpu_set_cpuid(struct cowvm *vm)
{
	struct kvm_cpuid2 *cpuid;
	int err = 0;

	cpuid = vmm_calloc(1,
			   sizeof(*cpuid) + VCPU_CPUID_MAX_ENTRIES *
						    sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = VCPU_CPUID_MAX_ENTRIES;
	if (vmm_ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		err = vmm_fail(vm, errno, "KVM_GET_SUPPORTED_CPUID failed: %m");
	if (!err) {
		vcpu_fix_cpuid(&vm->vcpu, cpuid);
		memcpy(vcpu_features, vm->vcpu.features, sizeof(vcpu_features));
		atomic_store(&vcpu_features_known, true);
		if (vmm_ioctl(vm->vcpu.fd, KVM_SET_CPUID2, cpuid) < 0)
			err = vmm_fail(vm, errno, "KVM_SET_CPUID2 failed: %m");
	}
	free(cpuid);
	return err;
}

/* Create vCPU 0, map kvm_run, enable sync regs, set CPUID; 0 or -errno. */
int vcpu_create(struct cowvm *vm)
{
	struct vmm_vcpu *vcpu = &vm->vcpu;
	int size;
	void *p;

	vcpu->fd = vmm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu->fd < 0)
		return vmm_fail(vm, errno, "KVM_CREATE_VCPU failed: %m");
	size = vmm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return vmm_fail(vm, size < 0 ? errno : EINVAL,
				"KVM_GET_VCPU_MMAP_SIZE failed");
	p = vmm_mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     vcpu->fd, 0);
	if (p == MAP_FAILED)
		return vmm_fail(vm, errno, "mmap of kvm_run failed: %m");
	vcpu->run = p;
	vcpu->run_size = (size_t)size;
	if (vmm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) > 0) {
		vcpu->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
		vcpu->sync_regs = true;
	}
	return vcpu_set_cpuid(vm);
}

/* Unmap kvm_run and close the vCPU; safe on a partial one. */
void vcpu_destroy(struct vmm_vcpu *vcpu)
{
	if (vcpu->run)
		vmm_munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

/* One KVM_RUN; it runs whatever completion KVM held. */
int vcpu_kvm_run(struct vmm_vcpu *vcpu)
{
	vcpu->out_pending = false;
	return vmm_ioctl(vcpu->fd, KVM_RUN, 0);
}

/* The vCPU's rip as of the last exit (0 if unreadable). */
uint64_t vcpu_rip(struct cowvm *vm)
{
	struct kvm_regs regs;

	if (vm->vcpu.sync_regs)
		return vm->vcpu.run->s.regs.regs.rip;
	if (vmm_ioctl(vm->vcpu.fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	return regs.rip;
}
