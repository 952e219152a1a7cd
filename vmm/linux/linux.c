/* Loading a Linux program into a VM whose personality kernel is booted:
 * the memory map of cowvm_linux_abi.h, then the program, file tree,
 * stack, boot block, NULL guard and CR4.FSGSBASE, in that order. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "linux.h"

/* Where the parts of a Linux VM go. */
struct linux_map {
	uint64_t top; /* the end of the RAM a Linux VM uses */
	uint64_t stack_lo, stack_top, files_lo;
};

/* The map for the program p and tree t in vm; 0 or -E2BIG. */
static int linux_map_plan(struct cowvm *vm, const struct linux_prog *p,
			  const struct linux_tree *t, struct linux_map *m)
{
	uint64_t mem = vm->cfg.mem_size;
	uint64_t files = t->meta + t->data;

	m->top = mem < COWVM_LOW_MEM_MAX ? mem : COWVM_LOW_MEM_MAX;
	m->stack_top = m->top;
	m->stack_lo = m->top - COWVM_LINUX_STACK_SIZE;
	m->files_lo = m->stack_lo - files;
	if (m->top < COWVM_LINUX_STACK_SIZE + p->brk_start ||
	    files > m->stack_lo - p->brk_start ||
	    m->files_lo - p->brk_start < LINUX_HEAP_MIN)
		return vmm_fail(vm, E2BIG,
				"%s: does not fit in %llu MiB of guest RAM: "
				"image up to %llu KiB, %llu MiB of heap, %llu "
				"KiB of files, %llu MiB of stack",
				p->f.path, (unsigned long long)(m->top >> 20),
				(unsigned long long)(p->brk_start >> 10),
				LINUX_HEAP_MIN >> 20,
				(unsigned long long)(files >> 10),
				COWVM_LINUX_STACK_SIZE >> 20);
	return 0;
}

/* Fill and write the boot block at COWVM_LINUX_BOOT. */
static int linux_boot_block(struct cowvm *vm, const struct cowvm_linux *lx,
			    const struct linux_prog *p,
			    const struct linux_tree *t,
			    const struct linux_map *m, uint64_t rsp)
{
	struct cowvm_linux_boot b = {
		.magic = COWVM_LINUX_MAGIC,
		.version = COWVM_LINUX_VERSION,
		.flags = lx->flags,
		.nr_files = (uint32_t)t->n,
		.entry = p->entry,
		.rsp = rsp,
		.brk_start = p->brk_start,
		.files_lo = m->files_lo,
		.stack_lo = m->stack_lo,
		.stack_top = m->stack_top,
		.files = t->lo,
		.exe = t->exe,
		.uid = getuid(),
		.gid = getgid(),
		.pid = 1,
	};
	struct timespec now;
	int khz = vmm_ioctl(vm->vcpu.fd, KVM_GET_TSC_KHZ, 0);
	void *dst = vmm_gpa_write(vm, COWVM_LINUX_BOOT, sizeof(b));

	b.tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	clock_gettime(CLOCK_REALTIME, &now);
	b.realtime_ns =
		(uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	if (!dst)
		return vmm_fail(vm, EFAULT, "the Linux boot block is not RAM");
	memcpy(dst, &b, sizeof(b));
	return 0;
}

/* Everything after the checks: copy, lay out, and set the vCPU up. */
static int linux_place(struct cowvm *vm, const struct cowvm_linux *lx,
		       const struct linux_prog *p, struct linux_tree *t,
		       const char *exe)
{
	struct linux_map m;
	uint64_t rsp;
	int err = linux_map_plan(vm, p, t, &m);

	if (!err)
		err = linux_prog_copy(vm, p);
	if (!err)
		err = linux_tree_write(vm, t, m.files_lo);
	if (!err)
		err = linux_stack_build(vm, lx, p, exe, m.stack_top, m.stack_lo,
					&rsp);
	if (!err)
		err = linux_boot_block(vm, lx, p, t, &m, rsp);
	if (!err)
		err = vmm_boot_null_guard(vm, COWVM_LINUX_PT0);
	if (!err)
		err = vmm_boot_fsgsbase(vm);
	return err;
}

/* Load lx into vm; 0 or -errno with vm->err. */
int vmm_linux_load(struct cowvm *vm, const struct cowvm_linux *lx)
{
	uint64_t mem = vm->cfg.mem_size;
	uint64_t top = mem < COWVM_LOW_MEM_MAX ? mem : COWVM_LOW_MEM_MAX;
	struct linux_prog p;
	struct linux_tree t = {0};
	char *exe = NULL;
	int err;

	if (!lx->program)
		return vmm_fail(vm, EINVAL, "no program given");
	if (lx->flags & ~(COWVM_LINUX_STRACE | COWVM_LINUX_SNAPSHOT_STDIN |
			  COWVM_LINUX_BUFFER_OUTPUT))
		return vmm_fail(vm, EINVAL, "unknown Linux flags 0x%x",
				lx->flags);
	err = linux_prog_open(vm, lx->program, top, &p);
	if (!err) {
		exe = realpath(lx->program, NULL);
		if (!exe)
			err = vmm_fail(vm, errno, "%s: %s", lx->program,
				       strerror(errno));
	}
	if (!err)
		err = linux_stack_check(vm, lx, exe);
	if (!err)
		err = linux_tree_build(vm, lx, exe, &t);
	if (!err)
		err = linux_place(vm, lx, &p, &t, exe);
	linux_tree_free(&t);
	linux_prog_close(&p);
	free(exe);
	return err;
}
