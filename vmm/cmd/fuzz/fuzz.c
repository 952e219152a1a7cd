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
#include "fuzz_sym.h"
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

/* Run one input from the snapshot and reset; 0 or -errno. The classified
 * trace is left in f->trace (zeroed with no_coverage), and with
 * COWVM_FUZZ_IN_CMPLOG in f->in_flags the comparison log in f->cmplog. */
int fuzz_exec(struct fuzz *f, const uint8_t *data, size_t len,
	      struct fuzz_result *res, char *err, size_t errlen)
{
	struct cowvm_fuzz_input hdr = {len, f->in_flags};
	struct cowvm_exit e;
	uint64_t t0, t1, t2, t3, t4;
	int r;

	if (len > COWVM_FUZZ_INPUT_MAX)
		len = hdr.len = COWVM_FUZZ_INPUT_MAX;
	t0 = fuzz_now_ns();
	memcpy(f->inbuf, &hdr, sizeof(hdr));
	memcpy(f->inbuf + sizeof(hdr), data, len);
	r = cowvm_write(f->vm, f->input_gpa, f->inbuf, sizeof(hdr) + len);
	if (r)
		return fuzz_fail(err, errlen, -r, "cannot write the input: %s",
				 cowvm_error(f->vm));
	t1 = fuzz_now_ns();
	r = cowvm_run(f->vm, &e);
	if (r)
		return fuzz_fail(err, errlen, -r, "cannot run the target: %s",
				 cowvm_error(f->vm));
	t2 = fuzz_now_ns();
	r = fuzz_classify_exit(f, &e, res, err, errlen);
	if (r)
		return r;
	if (!f->o.no_coverage) {
		r = cowvm_read(f->vm, f->map_gpa, f->trace, f->map_len);
		if (r)
			return fuzz_fail(err, errlen, -r,
					 "cannot read the map: %s",
					 cowvm_error(f->vm));
		f->trace[0] = 0;
		if (!f->o.raw_map)
			fuzz_classify(f->trace, f->map_len);
	}
	if ((f->in_flags & COWVM_FUZZ_IN_CMPLOG) &&
	    (r = cowvm_read(f->vm, f->cmp_gpa, f->cmplog, sizeof(*f->cmplog))))
		return fuzz_fail(err, errlen, -r, "cannot read the cmp log: %s",
				 cowvm_error(f->vm));
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

/* The build script for targets of o's kind, for error lines. */
static const char *build_script(const struct fuzz_opts *o)
{
	return o->linux ? "scripts/build-harness.sh"
			: "scripts/build-target.sh";
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
			 fuzz_vector_name(e->fault.vector),
			 (unsigned long long)e->fault.rip,
			 (unsigned long long)e->fault.cr2);
		return FUZZ_ERR_INIT_CRASH;
	case COWVM_EXIT_SIGNAL:
		snprintf(err, errlen,
			 "%s crashed during init (before its fuzz snapshot): "
			 "signal %d %s rip=0x%llx addr=0x%llx",
			 o->elf, e->status, fuzz_signal_name(e->status),
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
			 "%d before the fuzz snapshot (build targets with %s)",
			 o->elf, e->status, build_script(o));
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

/* The address of the harness's control block, from the tag of its
 * snapshot request; 0 when the tag is not the harness's. */
static uint64_t ctl_of_tag(const struct fuzz_opts *o, uint64_t tag)
{
	if (!o->linux)
		return tag == COWVM_FUZZ_SNAPSHOT_TAG ? COWVM_FUZZ_CTL : 0;
	if ((tag & ~0xffffffffull) != COWVM_FUZZ_LINUX_TAG ||
	    !(tag & 0xffffffffull) || (tag & 0xfff))
		return 0;
	return tag & 0xffffffffull;
}

/* Whether ctl is one this engine speaks, its areas all guest RAM. */
static int ctl_usable(struct fuzz *f, const struct cowvm_fuzz_ctl *ctl)
{
	uint8_t b;

	return ctl->magic == COWVM_FUZZ_MAGIC &&
	       ctl->version == COWVM_FUZZ_VERSION &&
	       ctl->guards < COWVM_FUZZ_MAP_SIZE &&
	       !cowvm_read(f->vm, ctl->map + COWVM_FUZZ_MAP_SIZE - 1, &b, 1) &&
	       !cowvm_read(f->vm,
			   ctl->input + sizeof(struct cowvm_fuzz_input) +
				   COWVM_FUZZ_INPUT_MAX - 1,
			   &b, 1) &&
	       (!ctl->cmp ||
		!cowvm_read(f->vm,
			    ctl->cmp + sizeof(struct cowvm_fuzz_cmp_log) - 1,
			    &b, 1));
}

/* Read and check the harness's control block at f->ctl_gpa; 0 or -1 with
 * err. */
static int fuzz_read_ctl(struct fuzz *f, const struct fuzz_opts *o,
			 struct cowvm_fuzz_ctl *ctl, char *err, size_t errlen)
{
	if (f->ctl_gpa && !cowvm_read(f->vm, f->ctl_gpa, ctl, sizeof(*ctl)) &&
	    ctl_usable(f, ctl))
		return 0;
	if (o->from) {
		snprintf(err, errlen,
			 "%s: not a snapshot of a cowvm fuzz target of version "
			 "%u (save one with cowvm fuzz --save-snapshot)",
			 o->from, COWVM_FUZZ_VERSION);
		return -1;
	}
	snprintf(err, errlen,
		 "%s: no fuzz harness of version %u at 0x%llx (rebuild it "
		 "with %s)",
		 o->elf, COWVM_FUZZ_VERSION, (unsigned long long)f->ctl_gpa,
		 build_script(o));
	return -1;
}

/* Boot o->elf (or the Linux program o->linux) into f->vm, run it to the
 * harness snapshot request and read the harness's control block into
 * *ctl; 0, or -1 with err and *why. */
static int fuzz_boot(struct fuzz *f, const struct fuzz_opts *o,
		     struct cowvm_fuzz_ctl *ctl, char *err, size_t errlen,
		     enum fuzz_open_error *why)
{
	struct cmd_boot b = {.elf = o->elf,
			     .linux = o->linux,
			     .tag = COWVM_FUZZ_SNAPSHOT_TAG,
			     .any_tag = o->linux != NULL};
	struct cowvm_config cfg;

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
	f->ctl_gpa = ctl_of_tag(o, b.exit.tag);
	*why = FUZZ_ERR_HARNESS;
	if (!f->ctl_gpa) {
		init_error(o, &b.exit, err, errlen);
		return -1;
	}
	if (fuzz_read_ctl(f, o, ctl, err, errlen))
		return -1;
	*why = FUZZ_ERR_VMM;
	return 0;
}

/* Open the snapshot file o->from into f->snap and a clone of it into f->vm
 * and read the harness's control block into *ctl; 0, or -1 with err and
 * *why. */
static int fuzz_from(struct fuzz *f, const struct fuzz_opts *o,
		     struct cowvm_fuzz_ctl *ctl, char *err, size_t errlen,
		     enum fuzz_open_error *why)
{
	struct cowvm_config cfg;

	cowvm_config_init(&cfg);
	cfg.mem_size = 0; /* the file's */
	cfg.console_fd = -1;
	*why = FUZZ_ERR_LOAD;
	f->snap = cowvm_snapshot_open(o->from, &cfg);
	if (!f->snap) {
		snprintf(err, errlen, "%s", cowvm_error(NULL));
		return -1;
	}
	*why = FUZZ_ERR_VMM;
	f->vm = cowvm_clone(f->snap);
	if (!f->vm) {
		snprintf(err, errlen, "cannot clone %s: %s", o->from,
			 cowvm_error(NULL));
		return -1;
	}
	f->ctl_gpa = COWVM_FUZZ_CTL;
	*why = FUZZ_ERR_LOAD;
	if (fuzz_read_ctl(f, o, ctl, err, errlen))
		return -1;
	*why = FUZZ_ERR_VMM;
	return 0;
}

/* Take the harness's areas from ctl, load the target's symbols, drop a
 * Linux target's output, snapshot the booted target at its harness point
 * (unless f->snap is set: a worker cloned from it), set the per-input
 * timeout and allocate the buffers; 0, or -1 with err. */
static int fuzz_arm(struct fuzz *f, const struct cowvm_fuzz_ctl *ctl, char *err,
		    size_t errlen)
{
	int r;

	f->guards = f->st.guards = ctl->guards;
	f->map_len = (size_t)ctl->guards + 1;
	f->ctl = *ctl;
	f->map_gpa = ctl->map;
	f->input_gpa = ctl->input;
	f->cmp_gpa = ctl->cmp;
	f->sym = f->o.elf ? fuzz_sym_load(f->o.elf, 0) : NULL;
	/* a Linux target's output is dropped while fuzzing */
	if (f->o.linux && cowvm_set_stdio(f->vm, -1, f->o.show_output ? 1 : -1,
					  f->o.show_output ? 2 : -1)) {
		snprintf(err, errlen, "%s", cowvm_error(f->vm));
		return -1;
	}
	if (!f->snap)
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
	f->cmplog = malloc(sizeof(*f->cmplog));
	f->plan = calloc(FUZZ_CMP_CANDS, sizeof(*f->plan));
	if (r || !f->trace || !f->virgin || !f->inbuf || !f->work || !f->sigs ||
	    !f->cmplog || !f->plan) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* A new engine for o with its dictionaries loaded, no VM yet; NULL with
 * err and *why. */
static struct fuzz *fuzz_new(const struct fuzz_opts *o, char *err,
			     size_t errlen, enum fuzz_open_error *why)
{
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
	for (size_t i = 0; o->dicts && o->dicts[i]; i++)
		if (fuzz_dict_load(&f->dict, o->dicts[i], err, errlen)) {
			*why = FUZZ_ERR_DIR;
			fuzz_close(f);
			return NULL;
		}
	f->st.dict_tokens = (uint32_t)f->dict.n;
	return f;
}

/* A worker fuzzing like parent from its snapshot in a clone of it. */
struct fuzz *fuzz_open_clone(struct fuzz *parent, const struct fuzz_opts *o,
			     char *err, size_t errlen)
{
	enum fuzz_open_error why;
	struct fuzz *f = fuzz_new(o, err, errlen, &why);

	if (!f)
		return NULL;
	f->vm = cowvm_clone(parent->snap);
	if (!f->vm) {
		snprintf(err, errlen, "cannot clone the target: %s",
			 cowvm_error(NULL));
		fuzz_close(f);
		return NULL;
	}
	f->snap = cowvm_snapshot_get(parent->snap);
	f->ctl_gpa = parent->ctl_gpa;
	if (fuzz_arm(f, &parent->ctl, err, errlen)) {
		fuzz_close(f);
		return NULL;
	}
	return f;
}

/* Boot, run to the harness snapshot and take it (or open it from
 * o->from); then save it to o->save if asked. */
struct fuzz *fuzz_open(const struct fuzz_opts *o, char *err, size_t errlen,
		       enum fuzz_open_error *why)
{
	struct cowvm_fuzz_ctl ctl;
	struct fuzz *f = fuzz_new(o, err, errlen, why);

	if (!f)
		return NULL;
	if ((o->from ? fuzz_from(f, o, &ctl, err, errlen, why)
		     : fuzz_boot(f, o, &ctl, err, errlen, why)) ||
	    fuzz_arm(f, &ctl, err, errlen)) {
		fuzz_close(f);
		return NULL;
	}
	if (o->save && cowvm_snapshot_save(f->snap, o->save)) {
		snprintf(err, errlen, "cannot save the snapshot: %s",
			 cowvm_error(NULL));
		*why = FUZZ_ERR_DIR;
		fuzz_close(f);
		return NULL;
	}
	*why = FUZZ_ERR_NONE;
	return f;
}

/* The last run's coverage map. */
const uint8_t *fuzz_trace(const struct fuzz *f, size_t *len)
{
	*len = f->map_len;
	return f->trace;
}

/* Change the per-input timeout. */
int fuzz_set_timeout(struct fuzz *f, uint64_t timeout_ms)
{
	f->o.timeout_ms = timeout_ms;
	return cowvm_set_timeout(f->vm, timeout_ms);
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
	fuzz_sym_free(f->sym);
	for (size_t i = 0; i < f->nqueue; i++)
		free(f->queue[i].data);
	free(f->queue);
	free(f->trace);
	free(f->virgin);
	free(f->inbuf);
	free(f->work);
	free(f->sigs);
	free(f->cmplog);
	free(f->plan);
	free(f->peers);
	fuzz_dict_free(&f->dict);
	fuzz_dict_free(&f->auto_dict);
	free(f);
}
