/* Helpers shared by the state and pool tests: VMs made through the internal
 * interfaces, RAM copies between VMs, console captures. */
#ifndef STATE_TEST_H
#define STATE_TEST_H

#include <dirent.h>
#include <inttypes.h>
#include <sys/ioctl.h>

#include "../vmm/vmm_test.h"
#include "pool.h"
#include "state.h"
#include "vmm.h"

#define MIB	 (1ull << 20)
#define TEST_MEM (32 * MIB)

/* A config of TEST_MEM bytes whose console is a fresh memfd. */
static inline struct cowvm_config st_cfg(int *console)
{
	struct cowvm_config cfg;

	*console = memfd_create("console", MFD_CLOEXEC);
	TEST_ASSERT(*console >= 0, "memfd_create");
	cowvm_config_init(&cfg);
	cfg.mem_size = TEST_MEM;
	cfg.console_fd = *console;
	return cfg;
}

/* A new pristine VM with zero RAM and a memfd console, from vmm_vm_new. */
static inline struct tvm st_new_vm(void)
{
	struct tvm t;
	struct cowvm_config cfg = st_cfg(&t.console);
	int r = vmm_vm_new(&cfg, false, &t.vm);

	TEST_ASSERT(r == 0, "vmm_vm_new: %s", vmm_vm_error());
	return t;
}

/* Copy all of src's RAM into dst (same size), skipping zero pages. */
static inline void st_copy_ram(struct cowvm *dst, struct cowvm *src)
{
	static const uint8_t zero[4096];
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(src->cfg.mem_size, r);
	uint8_t page[4096];

	for (unsigned i = 0; i < n; i++)
		for (uint64_t off = 0; off < r[i].size; off += 4096) {
			TEST_OK(cowvm_read(src, r[i].gpa + off, page, 4096));
			if (!memcmp(page, zero, 4096))
				continue;
			TEST_OK(cowvm_write(dst, r[i].gpa + off, page, 4096));
		}
}

/* Bytes written to t's console so far. */
static inline size_t st_console_len(struct tvm *t)
{
	off_t n = lseek(t->console, 0, SEEK_END);

	TEST_ASSERT(n >= 0, "lseek");
	return (size_t)n;
}

/* Open file descriptors of this process. */
static inline int st_count_fds(void)
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
static inline uint64_t st_get_msr(struct cowvm *vm, uint32_t index)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h = {.nmsrs = 1}, .e = {.index = index}};

	TEST_ASSERT(ioctl(vm->vcpu.fd, KVM_GET_MSRS, &m) == 1, "GET_MSRS %x",
		    index);
	return m.e.data;
}

/* Microseconds between two test_now() readings. */
static inline double st_us(double t0, double t1)
{
	return (t1 - t0) * 1e6;
}

#endif
