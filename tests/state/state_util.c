/* Helpers of the state and pool tests: pristine VMs from vmm_vm_new, console
 * lengths, fd counts and direct MSR reads. */
#include <dirent.h>
#include <sys/mman.h>

#include "state_util.h"

/* A new pristine VM with zero RAM and a memfd console, from vmm_vm_new. */
struct tvm st_new_vm(void)
{
	struct cowvm_config cfg;
	struct tvm t;
	int r;

	t.console = memfd_create("console", MFD_CLOEXEC);
	TEST_ASSERT_GE(t.console, 0, "memfd_create");
	cowvm_config_init(&cfg);
	cfg.mem_size = TEST_MEM;
	cfg.console_fd = t.console;
	r = vmm_vm_new(&cfg, false, &t.vm);
	TEST_ASSERT_EQ(r, 0, "vmm_vm_new: %s", vmm_vm_error());
	return t;
}

/* Bytes written to t's console so far. */
size_t st_console_len(struct tvm *t)
{
	off_t n = lseek(t->console, 0, SEEK_END);

	TEST_ASSERT_GE(n, 0, "lseek");
	return (size_t)n;
}

/* Open file descriptors of this process. */
int st_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	TEST_ASSERT(d, "opendir /proc/self/fd");
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* Read one MSR of vm's vCPU directly. */
uint64_t st_get_msr(struct cowvm *vm, uint32_t index)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h = {.nmsrs = 1}, .e = {.index = index}};

	TEST_ASSERT_EQ(ioctl(vm->vcpu.fd, KVM_GET_MSRS, &m), 1, "GET_MSRS %x",
		       index);
	return m.e.data;
}
