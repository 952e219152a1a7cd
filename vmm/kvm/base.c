/* Helpers every layer above mem/ shares: a VM's one-line failure reason
 * (cowvm_error), an exit that stops the VM with an error, and the one
 * bounds-checked translation of guest-physical addresses. */
#include <stdio.h>

#include "vmm.h"

/* Format a one-line failure into vm->err; returns -err. */
int vmm_fail(struct cowvm *vm, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
	va_end(ap);
	return -err;
}

/* The one bounds-checked guest-physical translation: NULL unless RAM. */
void *vmm_gpa(struct cowvm *vm, uint64_t gpa, uint64_t len)
{
	return vmm_mem_gpa(vm->mem, gpa, len);
}

/* Copy guest RAM to buf without filling lazy pages; 0 or -EFAULT. */
int vmm_read(struct cowvm *vm, uint64_t gpa, void *buf, uint64_t len)
{
	return vmm_mem_read(vm->mem, gpa, buf, len);
}

/* The same translation for host writes: records the pages as written. */
void *vmm_gpa_write(struct cowvm *vm, uint64_t gpa, uint64_t len)
{
	return vmm_mem_gpa_write(vm->mem, gpa, len);
}

/* Fill exit as COWVM_EXIT_ERROR with a formatted detail; VMM_STOP. */
int vmm_stop_error(struct cowvm_exit *exit, const char *fmt, ...)
{
	va_list ap;

	exit->reason = COWVM_EXIT_ERROR;
	va_start(ap, fmt);
	vsnprintf(exit->detail, sizeof(exit->detail), fmt, ap);
	va_end(ap);
	return VMM_STOP;
}
