/* Hypercalls of cowvm_abi.h and cowvm_linux_abi.h (hc_linux.c): a table
 * indexed by number; every argument is copied out of guest RAM through
 * vmm_gpa and validated before use. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "cowvm_linux_abi.h"
#include "vmm.h"

typedef int (*vmm_hc_fn)(struct cowvm *vm, void *arg, struct cowvm_exit *exit);

struct vmm_hc {
	const char *name;
	size_t size; /* of the argument struct */
	vmm_hc_fn fn;
};

/* INFO: fill in the ABI identification and RAM size. */
static int hc_info(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_info *a = arg;

	(void)exit;
	a->magic = COWVM_ABI_MAGIC;
	a->version = COWVM_ABI_VERSION;
	a->mem_size = vm->cfg.mem_size;
	return VMM_CONTINUE;
}

/* PUTS: write guest bytes to the console. */
static int hc_puts(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_puts *a = arg;
	const void *p;

	if (a->len > COWVM_PUTS_MAX)
		return VMM_HC_BAD(exit, COWVM_HC_PUTS, "len %llu > %u",
				  (unsigned long long)a->len, COWVM_PUTS_MAX);
	p = vmm_gpa(vm, a->data, a->len);
	if (!p)
		return VMM_HC_BAD(exit, COWVM_HC_PUTS,
				  "data [0x%llx, +%llu) is not guest RAM",
				  (unsigned long long)a->data,
				  (unsigned long long)a->len);
	vmm_console_write(vm, p, a->len);
	return VMM_CONTINUE;
}

/* EXIT: the guest is done. */
static int hc_exit(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_exit *a = arg;

	(void)vm;
	if (a->status > 255)
		return VMM_HC_BAD(exit, COWVM_HC_EXIT, "status %u > 255",
				  a->status);
	exit->reason = COWVM_EXIT_GUEST;
	exit->status = (int)a->status;
	snprintf(exit->detail, sizeof(exit->detail), "guest exited with %u",
		 a->status);
	return VMM_STOP;
}

/* The mnemonic of exception vector v ("#??" when unknown). */
static const char *hc_vector_name(uint64_t v)
{
	static const char *const names[] = {
		"#DE", "#DB",  "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
		"#MF", "#AC",  "#MC", "#XM", "#VE", "#CP",
	};

	return v < sizeof(names) / sizeof(names[0]) ? names[v] : "#??";
}

/* FAULT: an exception the guest could not handle. */
static int hc_fault(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_fault *a = arg;

	(void)vm;
	if (a->vector > 255)
		return VMM_HC_BAD(exit, COWVM_HC_FAULT, "vector %llu > 255",
				  (unsigned long long)a->vector);
	exit->reason = COWVM_EXIT_FAULT;
	exit->fault.vector = a->vector;
	exit->fault.error_code = a->error_code;
	exit->fault.rip = a->rip;
	exit->fault.cr2 = a->cr2;
	exit->fault.rsp = a->rsp;
	exit->fault.cs = a->cs;
	snprintf(exit->detail, sizeof(exit->detail),
		 "guest fault: vector %llu (%s) error 0x%llx at rip 0x%llx "
		 "cr2 0x%llx",
		 (unsigned long long)a->vector, hc_vector_name(a->vector),
		 (unsigned long long)a->error_code, (unsigned long long)a->rip,
		 (unsigned long long)a->cr2);
	return VMM_STOP;
}

/* SNAPSHOT: return to the caller; ret is written when the guest resumes. */
static int hc_snapshot(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_snapshot *a = arg;

	vm->snap_pending = true;
	vm->snap_io = false;
	vm->snap_ret = 0;
	exit->reason = COWVM_EXIT_SNAPSHOT;
	exit->tag = a->tag;
	snprintf(exit->detail, sizeof(exit->detail), "guest snapshot tag %llu",
		 (unsigned long long)a->tag);
	return VMM_STOP;
}

/* CMDLINE: copy the host's copy of the command line into the guest. */
static int hc_cmdline(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_cmdline *a = arg;
	size_t n;
	char *dst;

	a->len = vm->cmdline_len;
	if (a->size == 0)
		return VMM_CONTINUE;
	n = a->size - 1 < vm->cmdline_len ? (size_t)a->size - 1
					  : vm->cmdline_len;
	dst = vmm_gpa_write(vm, a->buf, n + 1);
	if (!dst)
		return VMM_HC_BAD(exit, COWVM_HC_CMDLINE,
				  "buf [0x%llx, +%llu) is not guest RAM",
				  (unsigned long long)a->buf,
				  (unsigned long long)a->size);
	if (n)
		memcpy(dst, vm->cmdline, n);
	dst[n] = 0;
	return VMM_CONTINUE;
}

/* GENID: this generation's id, drawn from the host's entropy when first
 * asked (a clone that never asks costs no draw), and its counter. */
static int hc_genid(struct cowvm *vm, void *arg, struct cowvm_exit *exit)
{
	struct cowvm_hc_genid *a = arg;

	if (!vm->gen_drawn && getrandom(vm->gen_id, sizeof(vm->gen_id), 0) !=
				      (ssize_t)sizeof(vm->gen_id))
		return vmm_stop_error(exit, "GENID: getrandom: %s",
				      strerror(errno));
	vm->gen_drawn = true;
	memcpy(a->id, vm->gen_id, sizeof(a->id));
	a->counter = vm->gen_counter;
	a->reserved = 0;
	return VMM_CONTINUE;
}

static const struct vmm_hc vmm_hcs[COWVM_HC_MAX] = {
	[COWVM_HC_INFO] = {"INFO", sizeof(struct cowvm_hc_info), hc_info},
	[COWVM_HC_PUTS] = {"PUTS", sizeof(struct cowvm_hc_puts), hc_puts},
	[COWVM_HC_EXIT] = {"EXIT", sizeof(struct cowvm_hc_exit), hc_exit},
	[COWVM_HC_FAULT] = {"FAULT", sizeof(struct cowvm_hc_fault), hc_fault},
	[COWVM_HC_SNAPSHOT] = {"SNAPSHOT", sizeof(struct cowvm_hc_snapshot),
			       hc_snapshot},
	[COWVM_HC_CMDLINE] = {"CMDLINE", sizeof(struct cowvm_hc_cmdline),
			      hc_cmdline},
	[COWVM_HC_GENID] = {"GENID", sizeof(struct cowvm_hc_genid), hc_genid},
	[COWVM_HC_LINUX_IO] = {"LINUX_IO", sizeof(struct cowvm_hc_linux_io),
			       vmm_hc_linux_io},
	[COWVM_HC_LINUX_RANDOM] = {"LINUX_RANDOM",
				   sizeof(struct cowvm_hc_linux_buf),
				   vmm_hc_linux_random},
	[COWVM_HC_LINUX_SLEEP] = {"LINUX_SLEEP",
				  sizeof(struct cowvm_hc_linux_sleep),
				  vmm_hc_linux_sleep},
	[COWVM_HC_LINUX_SIGNAL] = {"LINUX_SIGNAL",
				   sizeof(struct cowvm_hc_linux_signal),
				   vmm_hc_linux_signal},
	[COWVM_HC_LINUX_EXIT] = {"LINUX_EXIT",
				 sizeof(struct cowvm_hc_linux_exit),
				 vmm_hc_linux_exit},
};

/* Largest argument struct, for the local copy. */
union vmm_hc_arg {
	struct cowvm_hc_info info;
	struct cowvm_hc_puts puts;
	struct cowvm_hc_exit exit;
	struct cowvm_hc_fault fault;
	struct cowvm_hc_snapshot snapshot;
	struct cowvm_hc_cmdline cmdline;
	struct cowvm_hc_genid genid;
	struct cowvm_hc_linux_io linux_io;
	struct cowvm_hc_linux_buf linux_buf;
	struct cowvm_hc_linux_sleep linux_sleep;
	struct cowvm_hc_linux_signal linux_signal;
	struct cowvm_hc_linux_exit linux_exit;
};

/* Copy in, validate, perform and copy back hypercall nr at gpa. */
int vmm_hypercall(struct cowvm *vm, unsigned nr, uint64_t gpa,
		  struct cowvm_exit *exit)
{
	const struct vmm_hc *hc = nr < COWVM_HC_MAX ? &vmm_hcs[nr] : NULL;
	union vmm_hc_arg arg;
	void *p;
	int r;

	if (!hc || !hc->fn)
		return vmm_stop_error(exit, "unknown hypercall %u", nr);
	p = vmm_gpa(vm, gpa, hc->size);
	if (!p)
		return VMM_HC_BAD(exit, nr,
				  "%s struct at 0x%llx is not guest RAM",
				  hc->name, (unsigned long long)gpa);
	memcpy(&arg, p, hc->size);
	r = hc->fn(vm, &arg, exit);
	if (r == VMM_CONTINUE) {
		p = vmm_gpa_write(vm, gpa, hc->size);
		if (!p)
			return vmm_stop_error(exit,
					      "hypercall %u: cannot write its "
					      "results to 0x%llx",
					      nr, (unsigned long long)gpa);
		memcpy(p, &arg, hc->size);
	}
	if (r == VMM_STOP && exit->reason == COWVM_EXIT_SNAPSHOT)
		vm->snap_gpa = gpa;
	return r;
}

/* Before resuming after a snapshot request: write the chosen ret into its
 * struct, or perform the stdin read it carried (COWVM_LINUX_IO_SNAPSHOT)
 * on vm's stdin now, as the same request without the flag. */
int vmm_hypercall_resume(struct cowvm *vm, struct cowvm_exit *exit)
{
	struct cowvm_hc_snapshot *a;

	if (!vm->snap_pending)
		return VMM_CONTINUE;
	vm->snap_pending = false;
	if (vm->snap_io) {
		struct cowvm_hc_linux_io *io =
			vmm_gpa_write(vm, vm->snap_gpa, sizeof(*io));

		if (!io)
			return vmm_stop_error(exit, "snapshot read vanished");
		io->flags = 0;
		return vmm_hypercall(vm, COWVM_HC_LINUX_IO, vm->snap_gpa, exit);
	}
	a = vmm_gpa_write(vm, vm->snap_gpa, sizeof(*a));
	if (!a)
		return vmm_stop_error(exit, "snapshot struct vanished");
	memcpy(&a->ret, &vm->snap_ret, sizeof(a->ret));
	return VMM_CONTINUE;
}
