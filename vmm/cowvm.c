/* The public lifecycle API: configure, create, load (a cowvm guest or a
 * Linux program), run, memory access, stdio, the snapshot ret, errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "linux.h"

/* Defaults: 64 MiB, 1 vCPU, no timeout, console on stdout. */
void cowvm_config_init(struct cowvm_config *cfg)
{
	vmm_config_default(cfg);
}

/* Create a VM with zeroed RAM and one vCPU; NULL and errno on failure. */
struct cowvm *cowvm_create(const struct cowvm_config *cfg)
{
	struct cowvm *vm;
	int err = vmm_vm_new(cfg, false, &vm);

	if (err) {
		errno = -err;
		return NULL;
	}
	return vm;
}

/* Load the kernel at path with cmdline and set the vCPU up to enter it;
 * 0 or -errno. */
static int vm_boot_kernel(struct cowvm *vm, const char *path,
			  const char *cmdline)
{
	uint64_t entry;
	int err;

	if (cmdline && strlen(cmdline) >= COWVM_CMDLINE_MAX)
		return vmm_fail(vm, E2BIG,
				"command line of %zu bytes exceeds %u",
				strlen(cmdline), COWVM_CMDLINE_MAX - 1);
	err = vmm_elf_load(vm, path, &entry);
	if (!err)
		err = vmm_boot_memory(vm, cmdline);
	if (!err)
		err = vmm_boot_vcpu(vm, entry);
	if (!err && cmdline) {
		free(vm->cmdline); /* from a load that failed later */
		vm->cmdline = strdup(cmdline);
		if (!vm->cmdline)
			err = vmm_fail(vm, ENOMEM, "out of memory");
		vm->cmdline_len = cmdline ? strlen(cmdline) : 0;
	}
	return err;
}

/* Whether vm may be loaded now; 0 or -errno. */
static int vm_loadable(struct cowvm *vm)
{
	if (vmm_inherited(vm))
		return vmm_fail_inherited(vm);
	if (vm->state != VMM_CREATED)
		return vmm_fail(vm, EBUSY, "a guest is already loaded");
	vm->pristine = false;
	return 0;
}

/* Load the kernel and prepare the boot state, once per VM; 0 or -errno. */
int cowvm_load_elf(struct cowvm *vm, const char *path, const char *cmdline)
{
	int err = vm_loadable(vm);

	if (!err)
		err = vm_boot_kernel(vm, path, cmdline);
	if (!err)
		vm->state = VMM_READY;
	return err;
}

/* Boot the Linux personality kernel and load a static Linux program,
 * once per VM; 0 or -errno. A kernel that cannot be loaded is -EINVAL
 * (the errors the header lists are the program's). */
int cowvm_load_linux(struct cowvm *vm, const struct cowvm_linux *lx)
{
	int err = vm_loadable(vm);

	if (!err && (!lx || !lx->kernel))
		err = vmm_fail(vm, EINVAL, "no Linux kernel given");
	if (!err) {
		err = vm_boot_kernel(vm, lx->kernel, "linux");
		if (err) {
			char why[sizeof(vm->err)];

			snprintf(why, sizeof(why), "%s", vm->err);
			err = vmm_fail(vm, EINVAL, "Linux kernel: %s", why);
		}
	}
	if (!err)
		err = vmm_linux_load(vm, lx);
	if (!err)
		vm->state = VMM_READY;
	return err;
}

/* Choose the host fds of a Linux program's 0, 1 and 2 in vm; 0 or
 * -errno. */
int cowvm_set_stdio(struct cowvm *vm, int in_fd, int out_fd, int err_fd)
{
	if (vmm_inherited(vm))
		return vmm_fail_inherited(vm);
	if (in_fd < -1 || out_fd < -1 || err_fd < -1)
		return vmm_fail(vm, EBADF, "stdio fds %d, %d, %d: below -1",
				in_fd, out_fd, err_fd);
	vm->stdio[0] = in_fd;
	vm->stdio[1] = out_fd;
	vm->stdio[2] = err_fd;
	return 0;
}

/* Set the wall-clock limit of later runs (0 = none); 0 or -ECHILD. */
int cowvm_set_timeout(struct cowvm *vm, uint64_t timeout_ms)
{
	if (vmm_inherited(vm))
		return vmm_fail_inherited(vm);
	vm->cfg.timeout_ms = timeout_ms;
	return 0;
}

/* Fail vm's access to [gpa, gpa + len), which is not guest RAM. */
static int not_ram(struct cowvm *vm, uint64_t gpa, size_t len)
{
	return vmm_fail(vm, EFAULT, "[0x%llx, +%zu) is not guest RAM",
			(unsigned long long)gpa, len);
}

/* Copy guest RAM [gpa, gpa + len) to buf; 0 or -EFAULT. */
int cowvm_read(struct cowvm *vm, uint64_t gpa, void *buf, size_t len)
{
	if (vmm_inherited(vm))
		return vmm_fail_inherited(vm);
	return vmm_read(vm, gpa, buf, len) < 0 ? not_ram(vm, gpa, len) : 0;
}

/* Copy buf to guest RAM [gpa, gpa + len); 0 or -EFAULT. */
int cowvm_write(struct cowvm *vm, uint64_t gpa, const void *buf, size_t len)
{
	void *p;

	if (vmm_inherited(vm))
		return vmm_fail_inherited(vm);
	p = vmm_gpa_write(vm, gpa, len);
	if (!p)
		return not_ram(vm, gpa, len);
	memcpy(p, buf, len);
	return 0;
}

/* The last failure recorded for vm (or this thread's cowvm_create). */
const char *cowvm_error(const struct cowvm *vm)
{
	return vm ? vm->err : vmm_vm_error();
}

/* Choose the ret the guest's pending SNAPSHOT request sees when vm resumes;
 * -EINVAL when no request is pending. */
int cowvm_set_snapshot_ret(struct cowvm *vm, int64_t ret)
{
	if (vmm_inherited(vm))
		return vmm_fail_inherited(vm);
	if (!vm->snap_pending)
		return vmm_fail(vm, EINVAL, "no snapshot request is pending");
	if (vm->snap_io)
		return vmm_fail(vm, EINVAL,
				"the pending snapshot is a stdin read: the "
				"guest sees the read's result");
	vm->snap_ret = ret;
	return 0;
}

/* Run vm until a stop; 0 with *exit, or -errno. A VM whose RAM is mapped
 * from a snapshot file reports only once the file's pages passed their
 * check: a failed check (or a file changed in place) stops it for good
 * with the cause instead. */
int cowvm_run(struct cowvm *vm, struct cowvm_exit *exit)
{
	char why[400];
	int err, r;

	if (vmm_inherited(vm)) {
		memset(exit, 0, sizeof(*exit));
		return vmm_fail_inherited(vm);
	}
	vm->ran = true;
	err = vmm_vm_run(vm, exit);
	if (!vm->verify)
		return err;
	r = vmm_verify_wait(vm->verify, why, sizeof(why));
	if (!r)
		return err;
	err = r;
	vmm_fail(vm, -err, "%s", why);
	vm->state = VMM_STOPPED;
	memset(exit, 0, sizeof(*exit));
	exit->reason = COWVM_EXIT_ERROR;
	snprintf(exit->detail, sizeof(exit->detail), "%.*s",
		 (int)sizeof(exit->detail) - 1, vm->err);
	vm->stop_exit = *exit;
	return err;
}

/* Memory accounting of vm from its guest page table; 0 or -errno. */
int cowvm_mem_stats(struct cowvm *vm, struct cowvm_mem_stats *st)
{
	int err;

	if (vmm_inherited(vm))
		return vmm_fail_inherited(vm);
	err = vmm_mem_stats(vm->mem, st);
	if (!err)
		st->pages_prefaulted = vm->prefaulted;
	return err;
}
