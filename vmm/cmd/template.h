/* Booting a guest for the cowvm command: create a VM and load the ELF, and
 * for a template also run it to its first snapshot request; shared by run,
 * demo, fuzz and serve so that they fail with the same messages. */
#ifndef VMM_CMD_TEMPLATE_H
#define VMM_CMD_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "cowvm.h"

/* The step of a boot that failed. */
enum cmd_boot_step {
	CMD_BOOT_DONE,	 /* no failure */
	CMD_BOOT_CREATE, /* cowvm_create */
	CMD_BOOT_LOAD,	 /* cowvm_load_elf or cowvm_load_linux */
	CMD_BOOT_RUN,	 /* cowvm_run returned an error */
	CMD_BOOT_EXIT,	 /* the first exit was not the snapshot request */
};

/* One boot: what to boot (set by the caller) and what happened. */
struct cmd_boot {
	const char *elf;
	const char *cmdline; /* the guest command line, NULL: none */
	const struct cowvm_linux *linux; /* a Linux program instead of elf */
	uint64_t tag; /* the snapshot request's tag to stop at */
	int any_tag;  /* stop at the first request, whatever its tag */

	struct cowvm *vm;	 /* the booted VM, NULL after a failure */
	struct cowvm_exit exit;	 /* cmd_template_boot: the first exit */
	enum cmd_boot_step step; /* CMD_BOOT_DONE or the step that failed */
	double load_ms, run_ms;	 /* how long the load and the run took */
};

/* Create a VM of cfg and load b->elf with b->cmdline (or the Linux program
 * b->linux) into b->vm; 0, or
 * -errno with b->vm NULL, b->step set and one line in err: "cannot create
 * the VM: WHY" or the load's error. */
int cmd_vm_load(struct cmd_boot *b, const struct cowvm_config *cfg, char *err,
		size_t errlen);

/* cmd_vm_load, then run b->vm to its first exit (into b->exit); 0 when that
 * is a snapshot request with b->tag (any tag with b->any_tag), b->vm stopped
 * there. Else -errno (-EIO for another exit, step CMD_BOOT_EXIT) with the
 * VM destroyed and one line in err: as cmd_vm_load's, or the VM's last
 * error (cowvm_error) for the run and for another exit, which callers
 * describe from b->exit themselves. */
int cmd_template_boot(struct cmd_boot *b, const struct cowvm_config *cfg,
		      char *err, size_t errlen);

#endif
