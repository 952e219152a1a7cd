/* cowvm fuzz's engine: boots a fuzz target, snapshots it after init and
 * runs each input from that snapshot through the public cowvm API (the
 * corpus is in fuzz_corpus.c, the fuzz loop in fuzz_loop.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cowvm_abi.h"
#include "cowvm_fuzz_abi.h"
#include "fuzz_internal.h"
#include "template.h"

/* Nanoseconds on the monotonic clock. */
uint64_t fuzz_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Seconds since f started. */
double fuzz_elapsed(const struct fuzz *f)
{
	return (double)(fuzz_now_ns() -
			((uint64_t)f->start.tv_sec * 1000000000ull +
			 (uint64_t)f->start.tv_nsec)) /
	       1e9;
}

/* Format one line into err; returns -e (e > 0). */
int fuzz_fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -e;
}

/* The short name of exception vector v, "" if none. */
static const char *vector_name(uint64_t v)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", "",    "#TS", "#NP", "#SS", "#GP", "#PF", "",
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};

	return v < sizeof(names) / sizeof(names[0]) ? names[v] : "";
}

/* Describe a finished run in res; 0, or -EIO for exits that mean the VMM
 * or the harness broke (detail in err). */
static int classify(struct fuzz *f, const struct cowvm_exit *e,
		    struct fuzz_result *res, char *err, size_t errlen)
{
	struct cowvm_fuzz_ctl ctl;

	res->sig = 0;
	res->what[0] = 0;
	switch (e->reason) {
	case COWVM_EXIT_GUEST:
		if (e->status == COWVM_FUZZ_EXIT_OK) {
			res->outcome = FUZZ_OK;
			return 0;
		}
		res->outcome = FUZZ_CRASH;
		if (cowvm_read(f->vm, COWVM_FUZZ_CTL, &ctl, sizeof(ctl)))
			memset(&ctl, 0, sizeof(ctl));
		if (e->status == COWVM_FUZZ_EXIT_RETURN) {
			snprintf(res->what, sizeof(res->what),
				 "crash: the target returned %lld",
				 (long long)ctl.crash_value);
			res->sig = 1ull << 62 | (uint64_t)ctl.crash_value;
		} else if (e->status == COWVM_FUZZ_EXIT_ABORT) {
			snprintf(res->what, sizeof(res->what),
				 "crash: cowvm_target_abort called from "
				 "rip=0x%llx",
				 (unsigned long long)ctl.crash_rip);
			res->sig = 2ull << 62 | ctl.crash_rip;
		} else {
			snprintf(res->what, sizeof(res->what),
				 "crash: the guest exited with status %d",
				 e->status);
			res->sig = 3ull << 62 | (uint64_t)e->status;
		}
		return 0;
	case COWVM_EXIT_FAULT:
		res->outcome = FUZZ_CRASH;
		snprintf(res->what, sizeof(res->what),
			 "crash: fault vector=%llu %s error=0x%llx rip=0x%llx "
			 "cr2=0x%llx rsp=0x%llx",
			 (unsigned long long)e->fault.vector,
			 vector_name(e->fault.vector),
			 (unsigned long long)e->fault.error_code,
			 (unsigned long long)e->fault.rip,
			 (unsigned long long)e->fault.cr2,
			 (unsigned long long)e->fault.rsp);
		res->sig = e->fault.vector << 48 ^ e->fault.rip;
		return 0;
	case COWVM_EXIT_SHUTDOWN:
		res->outcome = FUZZ_CRASH;
		snprintf(res->what, sizeof(res->what), "crash: shutdown: %s",
			 e->detail);
		res->sig = 3ull << 62 | 0xffff;
		return 0;
	case COWVM_EXIT_TIMEOUT:
		res->outcome = FUZZ_TIMEOUT;
		snprintf(res->what, sizeof(res->what),
			 "timeout: no exit within %llu ms (rip=0x%llx)",
			 (unsigned long long)f->o.timeout_ms,
			 (unsigned long long)e->rip);
		return 0;
	case COWVM_EXIT_SNAPSHOT:
		return fuzz_fail(err, errlen, EIO,
				 "the target requested a snapshot of its own "
				 "(tag 0x%llx)",
				 (unsigned long long)e->tag);
	default:
		return fuzz_fail(err, errlen, EIO, "VM error: %s", e->detail);
	}
}

/* Run one input from the snapshot and reset; 0 or -errno. The classified
 * trace is left in f->trace (zeroed with no_coverage). */
int fuzz_exec(struct fuzz *f, const uint8_t *data, size_t len,
	      struct fuzz_result *res, char *err, size_t errlen)
{
	struct cowvm_fuzz_input hdr = {len};
	struct cowvm_exit e;
	uint64_t t0, t1, t2, t3, t4;
	int r;

	if (len > COWVM_FUZZ_INPUT_MAX)
		len = hdr.len = COWVM_FUZZ_INPUT_MAX;
	t0 = fuzz_now_ns();
	memcpy(f->inbuf, &hdr, sizeof(hdr));
	memcpy(f->inbuf + sizeof(hdr), data, len);
	r = cowvm_write(f->vm, COWVM_FUZZ_INPUT, f->inbuf, sizeof(hdr) + len);
	if (r)
		return fuzz_fail(err, errlen, -r, "cannot write the input: %s",
				 cowvm_error(f->vm));
	t1 = fuzz_now_ns();
	r = cowvm_run(f->vm, &e);
	if (r)
		return fuzz_fail(err, errlen, -r, "cannot run the target: %s",
				 cowvm_error(f->vm));
	t2 = fuzz_now_ns();
	r = classify(f, &e, res, err, errlen);
	if (r)
		return r;
	if (!f->o.no_coverage) {
		r = cowvm_read(f->vm, COWVM_FUZZ_MAP, f->trace, f->map_len);
		if (r)
			return fuzz_fail(err, errlen, -r,
					 "cannot read the map: %s",
					 cowvm_error(f->vm));
		f->trace[0] = 0;
		fuzz_classify(f->trace, f->map_len);
	}
	t3 = fuzz_now_ns();
	r = cowvm_reset(f->vm, f->snap);
	if (r)
		return fuzz_fail(err, errlen, -r, "cannot reset the VM: %s",
				 cowvm_error(f->vm));
	t4 = fuzz_now_ns();
	f->st.prof.write_ns += t1 - t0;
	f->st.prof.run_ns += t2 - t1;
	f->st.prof.map_ns += t3 - t2;
	f->st.prof.reset_ns += t4 - t3;
	f->st.prof.execs++;
	f->st.runs++;
	return 0;
}

/* Why a run to the fuzz snapshot did not get there, as an open error. */
static enum fuzz_open_error init_error(const struct fuzz_opts *o,
				       const struct cowvm_exit *e, char *err,
				       size_t errlen)
{
	switch (e->reason) {
	case COWVM_EXIT_FAULT:
		snprintf(err, errlen,
			 "%s crashed during init: fault vector=%llu %s "
			 "rip=0x%llx cr2=0x%llx",
			 o->elf, (unsigned long long)e->fault.vector,
			 vector_name(e->fault.vector),
			 (unsigned long long)e->fault.rip,
			 (unsigned long long)e->fault.cr2);
		return FUZZ_ERR_INIT_CRASH;
	case COWVM_EXIT_TIMEOUT:
		snprintf(err, errlen,
			 "%s did not reach its snapshot within %llu ms "
			 "(stuck in init?)",
			 o->elf, (unsigned long long)o->timeout_ms * 100);
		return FUZZ_ERR_INIT_TIMEOUT;
	case COWVM_EXIT_GUEST:
		snprintf(err, errlen,
			 "%s is not a cowvm fuzz target: it exited with status "
			 "%d before the fuzz snapshot (build targets with "
			 "scripts/build-target.sh)",
			 o->elf, e->status);
		return FUZZ_ERR_HARNESS;
	case COWVM_EXIT_SNAPSHOT:
		snprintf(err, errlen,
			 "%s is not a cowvm fuzz target: snapshot tag 0x%llx "
			 "is not the harness's",
			 o->elf, (unsigned long long)e->tag);
		return FUZZ_ERR_HARNESS;
	default:
		snprintf(err, errlen, "%s: %s", o->elf, e->detail);
		return FUZZ_ERR_VMM;
	}
}

/* Why a boot did not reach the fuzz snapshot, as an open error (err
 * describes a wrong first exit). */
static enum fuzz_open_error boot_error(const struct fuzz_opts *o,
				       const struct cmd_boot *b, char *err,
				       size_t errlen)
{
	switch (b->step) {
	case CMD_BOOT_CREATE:
	case CMD_BOOT_LOAD:
		return FUZZ_ERR_LOAD;
	case CMD_BOOT_EXIT:
		return init_error(o, &b->exit, err, errlen);
	default:
		return FUZZ_ERR_VMM;
	}
}

/* Boot o->elf into f->vm, run it to the harness snapshot request and read
 * the harness's control block into *ctl; 0, or -1 with err and *why. */
static int fuzz_boot(struct fuzz *f, const struct fuzz_opts *o,
		     struct cowvm_fuzz_ctl *ctl, char *err, size_t errlen,
		     enum fuzz_open_error *why)
{
	struct cmd_boot b = {.elf = o->elf, .tag = COWVM_FUZZ_SNAPSHOT_TAG};
	struct cowvm_config cfg;
	int r;

	cowvm_config_init(&cfg);
	cfg.mem_size = o->mem;
	cfg.console_fd = -1;
	/* Init may take much longer than one input. */
	cfg.timeout_ms = o->timeout_ms * 100;
	if (cmd_template_boot(&b, &cfg, err, errlen)) {
		*why = boot_error(o, &b, err, errlen);
		return -1;
	}
	f->vm = b.vm;
	r = cowvm_read(f->vm, COWVM_FUZZ_CTL, ctl, sizeof(*ctl));
	if (r || ctl->magic != COWVM_FUZZ_MAGIC ||
	    ctl->version != COWVM_FUZZ_VERSION ||
	    ctl->guards >= COWVM_FUZZ_MAP_SIZE) {
		snprintf(err, errlen,
			 "%s: no fuzz harness of version %u at 0x%llx "
			 "(rebuild it with scripts/build-target.sh)",
			 o->elf, COWVM_FUZZ_VERSION,
			 (unsigned long long)COWVM_FUZZ_CTL);
		*why = FUZZ_ERR_HARNESS;
		return -1;
	}
	return 0;
}

/* Snapshot the booted target at its harness point, set the per-input
 * timeout and allocate the buffers; 0, or -1 with err. */
static int fuzz_arm(struct fuzz *f, const struct cowvm_fuzz_ctl *ctl, char *err,
		    size_t errlen)
{
	int r;

	f->guards = f->st.guards = ctl->guards;
	f->map_len = (size_t)ctl->guards + 1;
	f->snap = cowvm_snapshot(f->vm);
	if (!f->snap) {
		snprintf(err, errlen, "cannot snapshot: %s",
			 cowvm_error(f->vm));
		return -1;
	}
	if (ctl->flags & COWVM_FUZZ_F_FXRSTOR) /* else resets restore it */
		(void)cowvm_snapshot_guest_fpu(f->snap);
	r = cowvm_set_timeout(f->vm, f->o.timeout_ms);
	f->trace = calloc(1, f->map_len);
	f->virgin = calloc(1, f->map_len);
	f->inbuf =
		malloc(sizeof(struct cowvm_fuzz_input) + COWVM_FUZZ_INPUT_MAX);
	f->work = malloc(FUZZ_MAX_LEN);
	f->sigs = calloc(FUZZ_MAX_SAVED, sizeof(*f->sigs));
	if (r || !f->trace || !f->virgin || !f->inbuf || !f->work || !f->sigs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Boot, run to the harness snapshot and take it. */
struct fuzz *fuzz_open(const struct fuzz_opts *o, char *err, size_t errlen,
		       enum fuzz_open_error *why)
{
	struct cowvm_fuzz_ctl ctl;
	struct fuzz *f = calloc(1, sizeof(*f));

	*why = FUZZ_ERR_VMM;
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->o = *o;
	f->sweep = SIZE_MAX;
	clock_gettime(CLOCK_MONOTONIC, &f->start);
	fuzz_rng_seed(&f->rng, o->seed);
	if (fuzz_boot(f, o, &ctl, err, errlen, why) ||
	    fuzz_arm(f, &ctl, err, errlen)) {
		fuzz_close(f);
		return NULL;
	}
	*why = FUZZ_ERR_NONE;
	return f;
}

/* The statistics so far. */
const struct fuzz_stats *fuzz_stats(const struct fuzz *f)
{
	return &f->st;
}

/* Destroy the VM and free everything. */
void fuzz_close(struct fuzz *f)
{
	if (!f)
		return;
	cowvm_snapshot_put(f->snap);
	cowvm_destroy(f->vm);
	for (size_t i = 0; i < f->nqueue; i++)
		free(f->queue[i].data);
	free(f->queue);
	free(f->trace);
	free(f->virgin);
	free(f->inbuf);
	free(f->work);
	free(f->sigs);
	free(f);
}
