/* `cowvm fuzz -j N`: N workers in one process, each a thread fuzzing its
 * own clone of one booted target's snapshot, sharing the corpus as AFL++
 * instances do (worker 0 is the main instance "main" of the -o sync
 * folder, the others secondaries "wK"), with one status line for all. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_cli.h"

struct fuzz_jobs;

struct fuzz_worker {
	struct fuzz_jobs *jobs;
	struct fuzz_opts o;
	char name[16], out[4200];
	struct fuzz *f;
	struct fuzz_afl afl;
	pthread_t thread;
	int r, started;
	char err[1024];
	struct fuzz_stats st; /* the last tick's copy, under lock */
};

struct fuzz_jobs {
	pthread_mutex_t lock;
	struct fuzz_worker *w;
	unsigned n;
	_Atomic int stop, running;
};

/* The tick of one worker: keep a copy of its statistics for the status
 * line, rewrite its fuzzer_stats. */
static void worker_tick(const struct fuzz_stats *st, void *arg)
{
	struct fuzz_worker *w = arg;
	struct fuzz_jobs *j = w->jobs;

	pthread_mutex_lock(&j->lock);
	w->st = *st;
	pthread_mutex_unlock(&j->lock);
	(void)fuzz_afl_tick(&w->afl, st);
}

/* One worker thread: its fuzz loop. */
static void *worker_main(void *arg)
{
	struct fuzz_worker *w = arg;
	struct fuzz_jobs *j = w->jobs;
	enum fuzz_open_error why;

	fuzz_afl_init(&w->afl, w->o.out_dir, w->o.elf ? w->o.elf : w->o.from,
		      w->o.timeout_ms);
	w->r = fuzz_loop(w->f, worker_tick, w, w->err, sizeof(w->err), &why);
	worker_tick(fuzz_stats(w->f), w);
	atomic_fetch_sub(&j->running, 1);
	return NULL;
}

/* The sum of every worker's last statistics into *t. */
static void total(struct fuzz_jobs *j, struct fuzz_stats *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&j->lock);
	for (unsigned i = 0; i < j->n; i++) {
		const struct fuzz_stats *s = &j->w[i].st;

		t->runs += s->runs;
		t->crashes += s->crashes;
		t->crashes_saved += s->crashes_saved;
		t->timeouts += s->timeouts;
		t->import_runs += s->import_runs;
		t->cmp_logged += s->cmp_logged;
		t->cmp_tried += s->cmp_tried;
		if (s->dict_tokens > t->dict_tokens)
			t->dict_tokens = s->dict_tokens;
		t->imported += s->imported;
		t->elapsed_s = s->elapsed_s > t->elapsed_s ? s->elapsed_s
							   : t->elapsed_s;
		if (s->edges > t->edges || !i) {
			t->edges = s->edges;
			t->corpus = s->corpus;
		}
		t->guards = s->guards;
		if (s->first_crash_run &&
		    (!t->first_crash_run ||
		     s->first_crash_s < t->first_crash_s)) {
			t->first_crash_run = s->first_crash_run;
			t->first_crash_s = s->first_crash_s;
			memcpy(t->first_crash, s->first_crash,
			       sizeof(t->first_crash));
		}
	}
	pthread_mutex_unlock(&j->lock);
}

/* Worker i's options and folder: c's, another seed, -o/NAME. */
static void worker_opts(struct fuzz_cli *c, struct fuzz_jobs *j, unsigned i)
{
	struct fuzz_worker *w = &j->w[i];

	w->jobs = j;
	w->o = c->o;
	w->o.seed = c->o.seed + i;
	w->o.stop = &j->stop;
	w->o.sync_dir = c->o.out_dir;
	w->o.sync_main = i == 0;
	w->o.sync_s = c->o.sync_s ? c->o.sync_s : 2;
	snprintf(w->name, sizeof(w->name), i ? "w%u" : "main", i);
	w->o.sync_name = w->name;
	snprintf(w->out, sizeof(w->out), "%s/%s", c->o.out_dir, w->name);
	w->o.out_dir = w->out;
}

/* Boot worker 0, clone the others; 0 or a status after one line. */
static int start(struct fuzz_cli *c, struct fuzz_jobs *j)
{
	enum fuzz_open_error why;

	for (unsigned i = 0; i < j->n; i++) {
		struct fuzz_worker *w = &j->w[i];
		int r;

		worker_opts(c, j, i);
		r = fuzz_cli_prepare_dirs(&w->o);
		if (r)
			return r;
		w->f = i ? fuzz_open_clone(j->w[0].f, &w->o, w->err,
					   sizeof(w->err))
			 : fuzz_open(&w->o, w->err, sizeof(w->err), &why);
		if (!w->f) {
			fprintf(stderr, "cowvm fuzz: worker %s: %s\n", w->name,
				w->err);
			return i ? FZ_VMM : fuzz_cli_status_of(why);
		}
	}
	for (unsigned i = 0; i < j->n; i++) {
		atomic_fetch_add(&j->running, 1);
		if (pthread_create(&j->w[i].thread, NULL, worker_main,
				   &j->w[i])) {
			atomic_fetch_sub(&j->running, 1);
			fprintf(stderr, "cowvm fuzz: cannot start worker %u\n",
				i);
			atomic_store(&j->stop, 1);
			return FZ_VMM;
		}
		j->w[i].started = 1;
	}
	return 0;
}

/* Wait for the workers, a status line for all of them every second. */
static void watch(struct fuzz_cli *c, struct fuzz_jobs *j)
{
	struct timespec tick = {0, 100 * 1000 * 1000};
	struct fuzz_stats t;
	unsigned n = 0;
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "%u workers ", j->n);
	while (atomic_load(&j->running)) {
		nanosleep(&tick, NULL);
		if (++n % 10 || c->quiet)
			continue;
		total(j, &t);
		fuzz_cli_status(&t, prefix);
	}
}

/* Join the workers and report; the exit status. */
static int finish(struct fuzz_jobs *j, int r)
{
	struct fuzz_stats t;
	char prefix[48];

	for (unsigned i = 0; i < j->n; i++)
		if (j->w[i].started)
			pthread_join(j->w[i].thread, NULL);
	for (unsigned i = 0; !r && i < j->n; i++)
		if (j->w[i].r) {
			fprintf(stderr, "cowvm fuzz: worker %s: %s\n",
				j->w[i].name, j->w[i].err);
			r = FZ_VMM;
		}
	total(j, &t);
	if (!r) {
		snprintf(prefix, sizeof(prefix), "done: %u workers ", j->n);
		fuzz_cli_summary(&t, prefix, 1);
		r = t.crashes ? FZ_CRASH : FZ_OK;
	}
	for (unsigned i = j->n; i-- > 0;)
		fuzz_close(j->w[i].f);
	return r;
}

/* -j N (see fuzz_cli.h). */
int fuzz_cli_jobs(struct fuzz_cli *c)
{
	struct fuzz_jobs j = {.n = c->jobs};
	int r;

	j.w = calloc(j.n, sizeof(*j.w));
	if (!j.w || pthread_mutex_init(&j.lock, NULL)) {
		free(j.w);
		fprintf(stderr, "cowvm fuzz: out of memory\n");
		return FZ_VMM;
	}
	r = start(c, &j);
	if (!r)
		watch(c, &j);
	else
		atomic_store(&j.stop, 1);
	r = finish(&j, r);
	pthread_mutex_destroy(&j.lock);
	free(j.w);
	return r;
}
