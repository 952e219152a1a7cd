/* Boot protocol of cowvm_abi.h: boot structures in RAM and long-mode vCPU. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm.h"

#define BOOT_CR0_PE	    (1ull << 0)
#define BOOT_CR0_MP	    (1ull << 1)
#define BOOT_CR0_ET	    (1ull << 4)
#define BOOT_CR0_NE	    (1ull << 5)
#define BOOT_CR0_PG	    (1ull << 31)
#define BOOT_CR4_PAE	    (1ull << 5)
#define BOOT_CR4_OSFXSR	    (1ull << 9)
#define BOOT_CR4_OSXMMEXCPT (1ull << 10)
#define BOOT_EFER_LME	    (1ull << 8)
#define BOOT_EFER_LMA	    (1ull << 10)
#define BOOT_EFER_NXE	    (1ull << 11)

#define BOOT_PTE_P  (1ull << 0)
#define BOOT_PTE_RW (1ull << 1)
#define BOOT_PTE_US (1ull << 2)
#define BOOT_PTE_A  (1ull << 5)
#define BOOT_PTE_D  (1ull << 6)
#define BOOT_PTE_PS (1ull << 7)
/* Accessed and dirty are set ahead, so that the CPU never writes a table
 * entry: a clone's first touch of a page then keeps the boot tables shared
 * (and proves nothing about CPL, state_r3.c). D is ignored above leaves. */
#define BOOT_PTE_FLAGS                                                         \
	(BOOT_PTE_P | BOOT_PTE_RW | BOOT_PTE_US | BOOT_PTE_A | BOOT_PTE_D)
#define BOOT_PAGE	4096ull
#define BOOT_1G		(1ull << 30)
#define BOOT_2M		(2ull << 20)
#define BOOT_TABLES_END 0x60000ull

#define BOOT_SEL_CODE 0x08
#define BOOT_SEL_DATA 0x10

/* GDT: null, 64-bit code (0x08), flat data (0x10). */
static const uint64_t boot_gdt[] = {
	0,
	0x00af9b000000ffffull,
	0x00cf93000000ffffull,
};

/* Copy len bytes to guest-physical gpa; 0 or -EFAULT via vm->err. */
static int boot_put(struct cowvm *vm, uint64_t gpa, const void *src, size_t len)
{
	void *dst = vmm_gpa_write(vm, gpa, len);

	if (!dst)
		return vmm_fail(vm, EFAULT,
				"boot data at 0x%llx does not fit in RAM",
				(unsigned long long)gpa);
	memcpy(dst, src, len);
	return 0;
}

/* Whether the 2 MiB page at gpa starts in RAM (the layout's ranges start
 * 2 MiB aligned). */
static bool boot_is_ram(uint64_t mem_size, uint64_t gpa)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(mem_size, r);

	for (unsigned i = 0; i < n; i++)
		if (gpa >= r[i].gpa && gpa - r[i].gpa < r[i].size)
			return true;
	return false;
}

/* Identity-map guest RAM (not the hole below 4 GiB, where the LAPIC and
 * IOAPIC live) with 2 MiB pages at COWVM_BOOT_PML4. */
static int boot_page_tables(struct cowvm *vm)
{
	uint64_t top = vmm_mem_top(vm->cfg.mem_size);
	uint64_t nr_pd = (top + BOOT_1G - 1) / BOOT_1G;
	uint64_t pdpt = COWVM_BOOT_PML4 + BOOT_PAGE;
	uint64_t pd = pdpt + BOOT_PAGE;
	uint64_t *p;

	if (pd + nr_pd * BOOT_PAGE > BOOT_TABLES_END)
		return vmm_fail(vm, EINVAL, "boot page tables do not fit");
	p = vmm_gpa_write(vm, COWVM_BOOT_PML4,
			  BOOT_TABLES_END - COWVM_BOOT_PML4);
	if (!p)
		return vmm_fail(vm, EFAULT, "boot page tables outside RAM");
	memset(p, 0, BOOT_TABLES_END - COWVM_BOOT_PML4);
	p[0] = pdpt | BOOT_PTE_FLAGS;
	p = vmm_gpa_write(vm, pdpt, BOOT_PAGE);
	for (uint64_t i = 0; i < nr_pd; i++)
		p[i] = (pd + i * BOOT_PAGE) | BOOT_PTE_FLAGS;
	p = vmm_gpa_write(vm, pd, nr_pd * BOOT_PAGE);
	for (uint64_t i = 0; i * BOOT_2M < top; i++)
		if (boot_is_ram(vm->cfg.mem_size, i * BOOT_2M))
			p[i] = (i * BOOT_2M) | BOOT_PTE_FLAGS | BOOT_PTE_PS;
	return 0;
}

/* Write the start info, memory map and command line. */
static int boot_start_info(struct cowvm *vm, const char *cmdline)
{
	struct cowvm_memmap_entry map[VMM_MAX_RANGES];
	struct cowvm_start_info si = {
		.magic = COWVM_START_MAGIC,
		.version = 1,
		.memmap_paddr = COWVM_BOOT_MEMMAP,
	};
	struct vmm_range r[VMM_MAX_RANGES];
	int err;

	si.memmap_entries = vmm_mem_layout(vm->cfg.mem_size, r);
	memset(map, 0, sizeof(map));
	for (unsigned i = 0; i < si.memmap_entries; i++) {
		map[i].addr = r[i].gpa;
		map[i].size = r[i].size;
		map[i].type = 1;
	}
	if (cmdline) {
		si.cmdline_paddr = COWVM_BOOT_CMDLINE;
		err = boot_put(vm, COWVM_BOOT_CMDLINE, cmdline,
			       strlen(cmdline) + 1);
		if (err)
			return err;
	}
	err = boot_put(vm, COWVM_BOOT_MEMMAP, map,
		       si.memmap_entries * sizeof(map[0]));
	if (!err)
		err = boot_put(vm, COWVM_BOOT_INFO, &si, sizeof(si));
	return err;
}

/* Write the boot structures of cowvm_abi.h into RAM; 0 or -errno. */
int vmm_boot_memory(struct cowvm *vm, const char *cmdline)
{
	int err = boot_start_info(vm, cmdline);

	if (!err)
		err = boot_put(vm, COWVM_BOOT_GDT, boot_gdt, sizeof(boot_gdt));
	if (!err)
		err = boot_page_tables(vm);
	return err;
}

/* A flat segment with selector sel: 64-bit code or data. */
static struct kvm_segment boot_segment(uint16_t sel, int code)
{
	struct kvm_segment s = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = code ? 11 : 3,
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};

	return s;
}

/* Long-mode control registers and segments per the boot protocol. */
static int boot_sregs(struct cowvm *vm)
{
	struct kvm_sregs s;

	if (vmm_ioctl(vm->vcpu.fd, KVM_GET_SREGS, &s) < 0)
		return vmm_fail(vm, errno, "KVM_GET_SREGS failed: %m");
	s.cr0 = BOOT_CR0_PE | BOOT_CR0_MP | BOOT_CR0_ET | BOOT_CR0_NE |
		BOOT_CR0_PG;
	s.cr3 = COWVM_BOOT_PML4;
	s.cr4 = BOOT_CR4_PAE | BOOT_CR4_OSFXSR | BOOT_CR4_OSXMMEXCPT;
	s.efer = BOOT_EFER_LME | BOOT_EFER_LMA;
	if (vm->vcpu.nx)
		s.efer |= BOOT_EFER_NXE;
	s.cs = boot_segment(BOOT_SEL_CODE, 1);
	s.ds = s.es = s.fs = s.gs = s.ss = boot_segment(BOOT_SEL_DATA, 0);
	s.gdt.base = COWVM_BOOT_GDT;
	s.gdt.limit = sizeof(boot_gdt) - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.tr.type = 11; /* busy 64-bit TSS, as VM entry in long mode wants */
	s.tr.present = 1;
	if (vmm_ioctl(vm->vcpu.fd, KVM_SET_SREGS, &s) < 0)
		return vmm_fail(vm, errno, "KVM_SET_SREGS failed: %m");
	return 0;
}

/* Put the vCPU in long mode at entry per the boot protocol; 0 or -errno. */
int vmm_boot_vcpu(struct cowvm *vm, uint64_t entry)
{
	struct kvm_regs regs = {
		.rip = entry,
		.rdi = COWVM_BOOT_INFO,
		.rbx = COWVM_BOOT_INFO,
		.rflags = 2,
	};
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	int err = boot_sregs(vm);

	if (err)
		return err;
	if (vmm_ioctl(vm->vcpu.fd, KVM_SET_REGS, &regs) < 0)
		return vmm_fail(vm, errno, "KVM_SET_REGS failed: %m");
	if (vmm_ioctl(vm->vcpu.fd, KVM_SET_FPU, &fpu) < 0)
		return vmm_fail(vm, errno, "KVM_SET_FPU failed: %m");
	return 0;
}

#define BOOT_CR4_FSGSBASE (1ull << 16)

/* Map [0, 2 MiB) with 4 KiB pages from a table at pt (a page after the
 * boot PDs, below the kernel), page 0 absent, and point the first entry
 * of the boot PD at it; 0 or -errno. */
int vmm_boot_null_guard(struct cowvm *vm, uint64_t pt)
{
	uint64_t nr_pd =
		(vmm_mem_top(vm->cfg.mem_size) + BOOT_1G - 1) / BOOT_1G;
	uint64_t pd = COWVM_BOOT_PML4 + 2 * BOOT_PAGE;
	uint64_t *t, *d;

	if (pt % BOOT_PAGE || pt < pd + nr_pd * BOOT_PAGE ||
	    pt + BOOT_PAGE > COWVM_LOAD_MIN)
		return vmm_fail(vm, EINVAL,
				"null guard table at 0x%llx is not a free page "
				"below the kernel",
				(unsigned long long)pt);
	t = vmm_gpa_write(vm, pt, BOOT_PAGE);
	d = vmm_gpa_write(vm, pd, BOOT_PAGE);
	if (!t || !d)
		return vmm_fail(vm, EFAULT, "null guard table outside RAM");
	t[0] = 0;
	for (uint64_t i = 1; i < BOOT_PAGE / sizeof(*t); i++)
		t[i] = (i * BOOT_PAGE) | BOOT_PTE_FLAGS;
	d[0] = pt | BOOT_PTE_FLAGS;
	return 0;
}

/* Set CR4.FSGSBASE in the vCPU so that ring 3 may write the FS and GS
 * bases; -EOPNOTSUPP when KVM refuses or drops the bit. */
int vmm_boot_fsgsbase(struct cowvm *vm)
{
	struct kvm_sregs s;
	bool refused = false;

	if (vmm_ioctl(vm->vcpu.fd, KVM_GET_SREGS, &s) < 0)
		return vmm_fail(vm, errno, "KVM_GET_SREGS failed: %m");
	s.cr4 |= BOOT_CR4_FSGSBASE;
	if (vmm_ioctl(vm->vcpu.fd, KVM_SET_SREGS, &s) < 0) {
		if (errno != EINVAL)
			return vmm_fail(vm, errno, "KVM_SET_SREGS failed: %m");
		refused = true;
	} else if (vmm_ioctl(vm->vcpu.fd, KVM_GET_SREGS, &s) < 0) {
		return vmm_fail(vm, errno, "KVM_GET_SREGS failed: %m");
	}
	if (refused || !(s.cr4 & BOOT_CR4_FSGSBASE))
		return vmm_fail(vm, EOPNOTSUPP,
				"this host's CPU lacks FSGSBASE (KVM refuses "
				"CR4.FSGSBASE)");
	return 0;
}
