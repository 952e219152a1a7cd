/* cowvm fuzz's engine: boots a fuzz target, snapshots it after init and
 * runs each input from that snapshot through the public cowvm API, keeping
 * the inputs that reach new coverage. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cowvm_abi.h"
#include "cowvm_fuzz_abi.h"
#include "fuzz.h"

#define ENERGY	      64 /* havoc runs per pick of an entry */
#define SWEEP_MAX     64 /* entries up to this long get the byte sweep */
#define SPLICE_ONE_IN 8	 /* one havoc run in 8 starts from a splice */

/* One corpus entry. */
struct entry {
	uint8_t *data;
	size_t len;
	uint64_t picked; /* times chosen for fuzzing */
};

struct fuzz {
	struct fuzz_opts o;
	struct cowvm *vm;
	struct cowvm_snapshot *snap;
	uint32_t guards;
	size_t map_len; /* bytes of the map read per run: guards + 1 */
	uint8_t *trace, *virgin;
	uint8_t *inbuf; /* struct cowvm_fuzz_input + data, as written */
	uint8_t *work;	/* the input being mutated */
	struct entry *queue;
	size_t nqueue, cap;
	size_t frontier; /* the newest entry that reached a new edge */
	size_t sweep;	 /* entry under the byte sweep, SIZE_MAX: none */
	size_t sweep_pos, sweep_k;
	uint64_t *sigs; /* crash signatures saved */
	struct fuzz_rng rng;
	struct fuzz_stats st;
	struct timespec start;
};

/* Nanoseconds on the monotonic clock. */
static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Seconds since f started. */
static double elapsed(const struct fuzz *f)
{
	return (double)(now_ns() - ((uint64_t)f->start.tv_sec * 1000000000ull +
				    (uint64_t)f->start.tv_nsec)) /
	       1e9;
}

/* Format one line into err; returns -e (e > 0). */
static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
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
		return fail(err, errlen, EIO,
			    "the target requested a snapshot of its own "
			    "(tag 0x%llx)",
			    (unsigned long long)e->tag);
	default:
		return fail(err, errlen, EIO, "VM error: %s", e->detail);
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
	t0 = now_ns();
	memcpy(f->inbuf, &hdr, sizeof(hdr));
	memcpy(f->inbuf + sizeof(hdr), data, len);
	r = cowvm_write(f->vm, COWVM_FUZZ_INPUT, f->inbuf, sizeof(hdr) + len);
	if (r)
		return fail(err, errlen, -r, "cannot write the input: %s",
			    cowvm_error(f->vm));
	t1 = now_ns();
	r = cowvm_run(f->vm, &e);
	if (r)
		return fail(err, errlen, -r, "cannot run the target: %s",
			    cowvm_error(f->vm));
	t2 = now_ns();
	r = classify(f, &e, res, err, errlen);
	if (r)
		return r;
	if (!f->o.no_coverage) {
		r = cowvm_read(f->vm, COWVM_FUZZ_MAP, f->trace, f->map_len);
		if (r)
			return fail(err, errlen, -r, "cannot read the map: %s",
				    cowvm_error(f->vm));
		f->trace[0] = 0;
		fuzz_classify(f->trace, f->map_len);
	}
	t3 = now_ns();
	r = cowvm_reset(f->vm, f->snap);
	if (r)
		return fail(err, errlen, -r, "cannot reset the VM: %s",
			    cowvm_error(f->vm));
	t4 = now_ns();
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

/* Boot, run to the harness snapshot and take it. */
struct fuzz *fuzz_open(const struct fuzz_opts *o, char *err, size_t errlen,
		       enum fuzz_open_error *why)
{
	struct cowvm_config cfg;
	struct cowvm_fuzz_ctl ctl;
	struct cowvm_exit e;
	struct fuzz *f = calloc(1, sizeof(*f));
	int r;

	*why = FUZZ_ERR_VMM;
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->o = *o;
	f->sweep = SIZE_MAX;
	clock_gettime(CLOCK_MONOTONIC, &f->start);
	fuzz_rng_seed(&f->rng, o->seed);
	cowvm_config_init(&cfg);
	cfg.mem_size = o->mem;
	cfg.console_fd = -1;
	/* Init may take much longer than one input. */
	cfg.timeout_ms = o->timeout_ms * 100;
	f->vm = cowvm_create(&cfg);
	if (!f->vm) {
		snprintf(err, errlen, "cannot create the VM: %s",
			 cowvm_error(NULL));
		*why = FUZZ_ERR_LOAD;
		goto fail;
	}
	r = cowvm_load_elf(f->vm, o->elf, NULL);
	if (r) {
		snprintf(err, errlen, "%s", cowvm_error(f->vm));
		*why = FUZZ_ERR_LOAD;
		goto fail;
	}
	r = cowvm_run(f->vm, &e);
	if (r) {
		snprintf(err, errlen, "%s", cowvm_error(f->vm));
		goto fail;
	}
	if (e.reason != COWVM_EXIT_SNAPSHOT ||
	    e.tag != COWVM_FUZZ_SNAPSHOT_TAG) {
		*why = init_error(o, &e, err, errlen);
		goto fail;
	}
	r = cowvm_read(f->vm, COWVM_FUZZ_CTL, &ctl, sizeof(ctl));
	if (r || ctl.magic != COWVM_FUZZ_MAGIC ||
	    ctl.version != COWVM_FUZZ_VERSION ||
	    ctl.guards >= COWVM_FUZZ_MAP_SIZE) {
		snprintf(err, errlen,
			 "%s: no fuzz harness of version %u at 0x%llx "
			 "(rebuild it with scripts/build-target.sh)",
			 o->elf, COWVM_FUZZ_VERSION,
			 (unsigned long long)COWVM_FUZZ_CTL);
		*why = FUZZ_ERR_HARNESS;
		goto fail;
	}
	f->guards = f->st.guards = ctl.guards;
	f->map_len = (size_t)ctl.guards + 1;
	f->snap = cowvm_snapshot(f->vm);
	if (!f->snap) {
		snprintf(err, errlen, "cannot snapshot: %s",
			 cowvm_error(f->vm));
		goto fail;
	}
	if (ctl.flags & COWVM_FUZZ_F_FXRSTOR) /* else resets restore it */
		(void)cowvm_snapshot_guest_fpu(f->snap);
	r = cowvm_set_timeout(f->vm, o->timeout_ms);
	f->trace = calloc(1, f->map_len);
	f->virgin = calloc(1, f->map_len);
	f->inbuf =
		malloc(sizeof(struct cowvm_fuzz_input) + COWVM_FUZZ_INPUT_MAX);
	f->work = malloc(FUZZ_MAX_LEN);
	f->sigs = calloc(FUZZ_MAX_SAVED, sizeof(*f->sigs));
	if (r || !f->trace || !f->virgin || !f->inbuf || !f->work || !f->sigs) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*why = FUZZ_ERR_NONE;
	return f;
fail:
	fuzz_close(f);
	return NULL;
}

/* Write len bytes to dir/name (created or replaced); 0 or -errno. */
static int write_file(const char *dir, const char *name, const void *data,
		      size_t len)
{
	char path[4096];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? errno : EIO;

		close(fd);
		return -e;
	}
	return close(fd) ? -errno : 0;
}

/* Save an input in out/sub as name, and the reason in name.txt when
 * what is set; 0 or -errno (err filled). */
static int save(struct fuzz *f, const char *sub, const char *name,
		const uint8_t *data, size_t len, const char *what, char *err,
		size_t errlen)
{
	char dir[4096], txt[512], line[512];
	int r, n;

	if (!f->o.out_dir)
		return 0;
	snprintf(dir, sizeof(dir), "%s/%s", f->o.out_dir, sub);
	r = write_file(dir, name, data, len);
	if (!r && what) {
		snprintf(txt, sizeof(txt), "%s.txt", name);
		n = snprintf(line, sizeof(line),
			     "%s\nrun=%llu seconds=%.3f seed=%llu len=%zu\n",
			     what, (unsigned long long)f->st.runs,
			     f->st.elapsed_s, (unsigned long long)f->o.seed,
			     len);
		r = write_file(dir, txt, line, (size_t)n);
	}
	if (r)
		return fail(err, errlen, -r, "cannot write %s/%s: %s", dir,
			    name, strerror(-r));
	return 0;
}

/* Add an input to the corpus (and out/queue); 0 or -errno. */
static int add_entry(struct fuzz *f, const uint8_t *data, size_t len,
		     const char *how, char *err, size_t errlen)
{
	char name[256];
	struct entry *q;

	if (f->nqueue == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;

		q = realloc(f->queue, cap * sizeof(*q));
		if (!q)
			return fail(err, errlen, ENOMEM, "out of memory");
		f->queue = q;
		f->cap = cap;
	}
	q = &f->queue[f->nqueue];
	q->data = malloc(len ? len : 1);
	if (!q->data)
		return fail(err, errlen, ENOMEM, "out of memory");
	memcpy(q->data, data, len);
	q->len = len;
	q->picked = 0;
	snprintf(name, sizeof(name), "id:%06zu,%s", f->nqueue, how);
	f->nqueue++;
	f->st.corpus = f->nqueue;
	return save(f, "queue", name, data, len, NULL, err, errlen);
}

/* Run one input and act on the result: count, save crashes and timeouts,
 * keep it in the corpus if it found coverage (how names its origin).
 * Returns 1 on a crash, 0 otherwise, -errno on failure. */
static int try_input(struct fuzz *f, const uint8_t *data, size_t len,
		     const char *how, int seed, char *err, size_t errlen)
{
	struct fuzz_result res;
	char name[64];
	uint32_t edges = f->st.edges;
	int r = fuzz_exec(f, data, len, &res, err, errlen), fresh;

	if (r)
		return r;
	f->st.elapsed_s = elapsed(f);
	if (res.outcome == FUZZ_TIMEOUT) {
		f->st.timeouts++;
		if (f->st.timeouts_saved >= FUZZ_MAX_SAVED)
			return 0;
		snprintf(name, sizeof(name), "id:%06llu",
			 (unsigned long long)f->st.timeouts_saved++);
		return save(f, "timeouts", name, data, len, res.what, err,
			    errlen);
	}
	if (res.outcome == FUZZ_CRASH) {
		f->st.crashes++;
		if (!f->st.first_crash_run) {
			f->st.first_crash_run = f->st.runs;
			f->st.first_crash_s = f->st.elapsed_s;
			snprintf(f->st.first_crash, sizeof(f->st.first_crash),
				 "%s", res.what);
		}
		fresh = 1;
		for (uint64_t i = 0; i < f->st.crashes_saved; i++)
			if (f->sigs[i] == res.sig)
				fresh = 0;
		if (!fresh || f->st.crashes_saved >= FUZZ_MAX_SAVED)
			return 1;
		f->sigs[f->st.crashes_saved] = res.sig;
		snprintf(name, sizeof(name), "id:%06llu",
			 (unsigned long long)f->st.crashes_saved++);
		r = save(f, "crashes", name, data, len, res.what, err, errlen);
		return r ? r : 1;
	}
	if (f->o.no_coverage) {
		if (seed)
			return add_entry(f, data, len, how, err, errlen);
		return 0;
	}
	r = fuzz_merge(f->virgin, f->trace, f->map_len, &f->st.edges);
	if (r || seed) {
		char label[160];

		if (f->st.edges > edges) {
			f->frontier = f->nqueue;
			/* a new edge restarts the sweep on the new entry */
			f->sweep = len <= SWEEP_MAX ? f->nqueue : SIZE_MAX;
			f->sweep_pos = 0;
			f->sweep_k = 1;
		}

		snprintf(label, sizeof(label), "%s%s", how,
			 f->st.edges > edges ? ",+cov" : "");
		return add_entry(f, data, len, label, err, errlen);
	}
	return 0;
}

/* Compare directory entries by name, for a stable seed order. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Read a whole file of at most max bytes into buf; its length or -errno. */
static ssize_t read_file(const char *path, uint8_t *buf, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (got < max && (n = read(fd, buf + got, max - got)) > 0)
		got += (size_t)n;
	n = n < 0 ? -errno : (ssize_t)got;
	close(fd);
	return n;
}

/* Run the seeds: every regular file of in_dir in name order, or the
 * built-in seed; 1 if one crashed, 0, or -errno. */
static int run_seeds(struct fuzz *f, char *err, size_t errlen,
		     enum fuzz_open_error *why)
{
	struct dirent **names = NULL;
	int n = 0, r = 0, crashed = 0;

	if (f->o.in_dir) {
		n = scandir(f->o.in_dir, &names, NULL, by_name);
		if (n < 0) {
			*why = FUZZ_ERR_DIR;
			return fail(err, errlen, errno,
				    "cannot read corpus folder %s: %s",
				    f->o.in_dir, strerror(errno));
		}
	}
	for (int i = 0; i < n && r >= 0; i++) {
		char path[4096], how[300];
		struct stat sb;
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", f->o.in_dir,
			 names[i]->d_name);
		if (stat(path, &sb) || !S_ISREG(sb.st_mode))
			continue;
		len = read_file(path, f->work, FUZZ_MAX_LEN);
		if (len < 0) {
			*why = FUZZ_ERR_DIR;
			r = fail(err, errlen, (int)-len, "cannot read %s: %s",
				 path, strerror((int)-len));
			break;
		}
		snprintf(how, sizeof(how), "orig:%.200s", names[i]->d_name);
		r = try_input(f, f->work, (size_t)len, how, 1, err, errlen);
		crashed |= r == 1;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (r >= 0 && !f->nqueue) {
		memset(f->work, 0, FUZZ_SEED_LEN);
		r = try_input(f, f->work, FUZZ_SEED_LEN, "orig:builtin", 1, err,
			      errlen);
		crashed |= r == 1;
	}
	if (r >= 0 && !f->nqueue) {
		/* every seed crashed or timed out: start from the built-in */
		memset(f->work, 0, FUZZ_SEED_LEN);
		r = add_entry(f, f->work, FUZZ_SEED_LEN, "orig:builtin", err,
			      errlen);
	}
	return r < 0 ? r : crashed;
}

/* Nonzero once the run or time budget is spent. */
static int budget_spent(const struct fuzz *f)
{
	if (f->o.runs && f->st.runs >= f->o.runs)
		return 1;
	return f->o.seconds > 0 && f->st.elapsed_s >= f->o.seconds;
}

/* One run of the byte sweep: the next byte of the swept entry (the last,
 * then the first, second, ...) gets the next of its 255 other values; 1 on
 * a crash, 0, or -errno. */
static int sweep_step(struct fuzz *f, char *err, size_t errlen)
{
	const struct entry *e = &f->queue[f->sweep];
	size_t len = e->len;
	/* the last byte first (trailers: checksums), then from the start */
	size_t pos = f->sweep_pos ? f->sweep_pos - 1 : len - 1;
	char how[64];

	memcpy(f->work, e->data, len);
	f->work[pos] = (uint8_t)(f->work[pos] + f->sweep_k);
	snprintf(how, sizeof(how), "src:%06zu,op:sweep", f->sweep);
	if (++f->sweep_k == 256) {
		f->sweep_k = 1;
		if (++f->sweep_pos == len)
			f->sweep = SIZE_MAX; /* position len - 1 came first */
	}
	return try_input(f, f->work, len, how, 0, err, errlen);
}

/* After one exec that returned r: -errno passes through, 1 when a crash
 * stops the loop (--stop-on-crash), else 0; calls tick once a second. */
static int after_exec(struct fuzz *f, int r,
		      void (*tick)(const struct fuzz_stats *, void *),
		      void *arg, double *next_tick)
{
	if (r < 0)
		return r;
	if (r && f->o.stop_on_crash)
		return 1;
	if (tick && f->st.elapsed_s >= *next_tick) {
		*next_tick = f->st.elapsed_s + 1;
		tick(&f->st, arg);
	}
	return 0;
}

/* Fuzz until the budget is spent; see fuzz.h. */
int fuzz_loop(struct fuzz *f, void (*tick)(const struct fuzz_stats *, void *),
	      void *arg, char *err, size_t errlen, enum fuzz_open_error *why)
{
	double next_tick = 1;
	size_t cur = 0;
	int r;

	*why = FUZZ_ERR_NONE;
	r = run_seeds(f, err, errlen, why);
	if (r < 0 || (r && f->o.stop_on_crash))
		return r < 0 ? r : 0;
	while (!budget_spent(f)) {
		struct entry *e;
		char how[64];

		if (f->sweep != SIZE_MAX) {
			r = after_exec(f, sweep_step(f, err, errlen), tick, arg,
				       &next_tick);
			if (r)
				return r < 0 ? r : 0;
			continue;
		}

		/* Half the picks go to the newest entry that reached a new
		 * edge (the frontier), the rest uniformly to any entry. */
		cur = fuzz_rng_below(&f->rng, 2)
			      ? f->frontier
			      : fuzz_rng_below(&f->rng, f->nqueue);
		e = &f->queue[cur];
		e->picked++;
		snprintf(how, sizeof(how), "src:%06zu,op:havoc", cur);
		for (uint64_t i = 0; i < ENERGY && !budget_spent(f); i++) {
			uint64_t t0 = now_ns();
			size_t len =
				e->len > FUZZ_MAX_LEN ? FUZZ_MAX_LEN : e->len;

			memcpy(f->work, e->data, len);
			if (f->nqueue > 1 &&
			    !fuzz_rng_below(&f->rng, SPLICE_ONE_IN)) {
				size_t o = fuzz_rng_below(&f->rng, f->nqueue);
				size_t n = fuzz_splice(
					&f->rng, e->data, len, f->queue[o].data,
					f->queue[o].len, f->work, FUZZ_MAX_LEN);

				if (n)
					len = n;
			}
			fuzz_havoc(&f->rng, f->work, &len, FUZZ_MAX_LEN);
			f->st.prof.mutate_ns += now_ns() - t0;
			r = after_exec(
				f,
				try_input(f, f->work, len, how, 0, err, errlen),
				tick, arg, &next_tick);
			e = &f->queue[cur]; /* the queue may have moved */
			if (r)
				return r < 0 ? r : 0;
		}
	}
	return 0;
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
