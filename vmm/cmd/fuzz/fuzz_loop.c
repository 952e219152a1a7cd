/* cowvm fuzz's loop: after the seeds, the comparison stage and byte sweep
 * of a new entry or a pick of an entry (half the time the frontier) and
 * ENERGY havoc runs on it, and every few seconds an import from the sync
 * folder, until the run or time budget is spent. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_internal.h"

#define ENERGY	      64 /* havoc runs per pick of an entry */
#define SPLICE_ONE_IN 8	 /* one havoc run in 8 starts from a splice */
#define DICT_ONE_IN   4	 /* one in 4 also gets a dictionary token */

/* The once-a-second callback of a loop and when it is due next. */
struct fuzz_ticker {
	void (*tick)(const struct fuzz_stats *, void *);
	void *arg;
	double next;
};

/* Nonzero once the run or time budget is spent. */
static int budget_spent(const struct fuzz *f)
{
	if (f->o.runs && f->st.runs >= f->o.runs)
		return 1;
	if (f->o.stop && atomic_load(f->o.stop))
		return 1;
	return f->o.seconds > 0 && f->st.elapsed_s >= f->o.seconds;
}

/* One run of the byte sweep: the next byte of the swept entry (the last,
 * then the first, second, ...) gets the next of its 255 other values; 1 on
 * a crash, 0, or -errno. */
static int sweep_step(struct fuzz *f, char *err, size_t errlen)
{
	const struct fuzz_entry *e = &f->queue[f->sweep];
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
	return fuzz_try_input(f, f->work, len, how, 0, err, errlen);
}

/* After one exec that returned r: -errno passes through, 1 when a crash
 * stops the loop (--stop-on-crash), else 0; calls the tick once a second. */
static int after_exec(struct fuzz *f, int r, struct fuzz_ticker *t)
{
	if (r < 0)
		return r;
	if (r && f->o.stop_on_crash) {
		if (f->o.stop)
			atomic_store(f->o.stop, 1);
		return 1;
	}
	if (t->tick && f->st.elapsed_s >= t->next) {
		t->next = f->st.elapsed_s + 1;
		t->tick(&f->st, t->arg);
	}
	return 0;
}

/* Run f->work[0..len) (made by how) and tick; as after_exec. */
static int try_work(struct fuzz *f, size_t len, const char *how,
		    struct fuzz_ticker *t, char *err, size_t errlen)
{
	return after_exec(
		f, fuzz_try_input(f, f->work, len, how, 0, err, errlen), t);
}

/* Mutate entry cur into f->work: a splice with another entry one time in
 * SPLICE_ONE_IN, then a havoc stack; returns the new length. (Callers keep
 * cur, not a pointer: the queue moves as inputs join it.) */
static size_t mutate(struct fuzz *f, size_t cur)
{
	const struct fuzz_entry *e = &f->queue[cur];
	uint64_t t0 = fuzz_now_ns();
	size_t len = e->len > FUZZ_MAX_LEN ? FUZZ_MAX_LEN : e->len;
	size_t tokens = f->dict.n + f->auto_dict.n;

	memcpy(f->work, e->data, len);
	if (f->nqueue > 1 && !fuzz_rng_below(&f->rng, SPLICE_ONE_IN)) {
		size_t o = fuzz_rng_below(&f->rng, f->nqueue);
		size_t n = fuzz_splice(&f->rng, e->data, len, f->queue[o].data,
				       f->queue[o].len, f->work, FUZZ_MAX_LEN);

		if (n)
			len = n;
	}
	fuzz_havoc(&f->rng, f->work, &len, FUZZ_MAX_LEN);
	if (tokens && !fuzz_rng_below(&f->rng, DICT_ONE_IN)) {
		/* every token as likely, -x or automatic */
		int user = fuzz_rng_below(&f->rng, tokens) < f->dict.n;

		fuzz_dict_mutate(user ? &f->dict : &f->auto_dict, &f->rng,
				 f->work, &len, FUZZ_MAX_LEN);
	}
	f->st.prof.mutate_ns += fuzz_now_ns() - t0;
	return len;
}

/* The comparison stage of entry cur, once: log its comparisons and run
 * each input-to-state candidate (nothing with --no-cmp or a harness
 * without a log); as after_exec. */
static int cmp_stage(struct fuzz *f, size_t cur, struct fuzz_ticker *t,
		     char *err, size_t errlen)
{
	char how[64];
	int n, r;

	f->queue[cur].cmp_done = 1;
	if (f->o.no_cmp || !f->cmp_gpa)
		return 0;
	n = fuzz_cmp_plan(f, cur, err, errlen);
	f->st.dict_tokens = (uint32_t)(f->dict.n + f->auto_dict.n);
	if (n < 0)
		return n;
	snprintf(how, sizeof(how), "src:%06zu,op:cmp", cur);
	for (int i = 0; i < n && !budget_spent(f); i++) {
		size_t len = fuzz_cmp_apply(f, cur, (size_t)i, f->work);

		f->st.cmp_tried++;
		r = try_work(f, len, how, t, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

/* Pick an entry, half the time the newest that reached a new edge (the
 * frontier), else any, and run up to ENERGY havoc mutations of it; as
 * after_exec. */
static int havoc_pick(struct fuzz *f, struct fuzz_ticker *t, char *err,
		      size_t errlen)
{
	size_t cur = fuzz_rng_below(&f->rng, 2)
			     ? f->frontier
			     : fuzz_rng_below(&f->rng, f->nqueue);
	char how[64];
	int r;

	f->queue[cur].picked++;
	if (!f->queue[cur].cmp_done) {
		r = cmp_stage(f, cur, t, err, errlen);
		if (r)
			return r;
	}
	snprintf(how, sizeof(how), "src:%06zu,op:havoc", cur);
	for (uint64_t i = 0; i < ENERGY && !budget_spent(f); i++) {
		r = try_work(f, mutate(f, cur), how, t, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

/* Fuzz until the budget is spent; see fuzz.h. */
int fuzz_loop(struct fuzz *f, void (*tick)(const struct fuzz_stats *, void *),
	      void *arg, char *err, size_t errlen, enum fuzz_open_error *why)
{
	struct fuzz_ticker t = {tick, arg, 1};
	int r;

	*why = FUZZ_ERR_NONE;
	r = fuzz_run_seeds(f, err, errlen, why);
	if (r > 0 && f->o.stop_on_crash && f->o.stop)
		atomic_store(f->o.stop, 1);
	if (r < 0 || (r && f->o.stop_on_crash))
		return r < 0 ? r : 0;
	while (!budget_spent(f)) {
		if (f->o.sync_dir && f->st.elapsed_s >= f->next_sync) {
			f->next_sync = f->st.elapsed_s + f->o.sync_s;
			r = after_exec(f, fuzz_sync(f, err, errlen), &t);
		} else if (f->sweep != SIZE_MAX && !f->queue[f->sweep].cmp_done)
			r = cmp_stage(f, f->sweep, &t, err, errlen);
		else if (f->sweep != SIZE_MAX)
			r = after_exec(f, sweep_step(f, err, errlen), &t);
		else
			r = havoc_pick(f, &t, err, errlen);
		if (r)
			return r < 0 ? r : 0;
	}
	return 0;
}
