/* Booting a guest for the cowvm command: create, load and, for a template,
 * run to the first snapshot request, with one set of error messages. */
#include <errno.h>
#include <stdio.h>

#include "cli.h"
#include "template.h"

/* Fail step of b: the VM's error (or create's) into err, the VM destroyed;
 * returns r. */
static int cmd_boot_fail(struct cmd_boot *b, enum cmd_boot_step step, int r,
			 char *err, size_t errlen)
{
	b->step = step;
	snprintf(err, errlen, "%s", cowvm_error(b->vm));
	cowvm_destroy(b->vm);
	b->vm = NULL;
	return r;
}

/* Create a VM of cfg and load the ELF or Linux program into it. */
int cmd_vm_load(struct cmd_boot *b, const struct cowvm_config *cfg, char *err,
		size_t errlen)
{
	double t0;
	int r;

	b->step = CMD_BOOT_DONE;
	b->vm = cowvm_create(cfg);
	if (!b->vm) {
		r = errno ? -errno : -EINVAL;
		b->step = CMD_BOOT_CREATE;
		snprintf(err, errlen, "cannot create the VM: %s",
			 cowvm_error(NULL));
		return r;
	}
	t0 = cli_now_us();
	r = b->linux ? cowvm_load_linux(b->vm, b->linux)
		     : cowvm_load_elf(b->vm, b->elf, b->cmdline);
	b->load_ms = (cli_now_us() - t0) / 1e3;
	if (r)
		return cmd_boot_fail(b, CMD_BOOT_LOAD, r, err, errlen);
	return 0;
}

/* Boot a template to its first snapshot request. */
int cmd_template_boot(struct cmd_boot *b, const struct cowvm_config *cfg,
		      char *err, size_t errlen)
{
	double t0;
	int r = cmd_vm_load(b, cfg, err, errlen);

	if (r)
		return r;
	t0 = cli_now_us();
	r = cowvm_run(b->vm, &b->exit);
	b->run_ms = (cli_now_us() - t0) / 1e3;
	if (r)
		return cmd_boot_fail(b, CMD_BOOT_RUN, r, err, errlen);
	if (b->exit.reason != COWVM_EXIT_SNAPSHOT ||
	    (!b->any_tag && b->exit.tag != b->tag))
		return cmd_boot_fail(b, CMD_BOOT_EXIT, -EIO, err, errlen);
	return 0;
}
