/* `cowvm serve`'s engine over the public API: boot the template, serve one
 * request on a VM, serve batches of any handler's requests on worker
 * threads in clone, spare or reset mode, and the handler of the built-in
 * workload that checks every response against the model (timing and
 * memory figures are in serve_stats.c). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"
#include "cowvm_serve_abi.h"
#include "template.h"

#define SERVE_BOOT_TIMEOUT_MS 120000
#define SERVE_POOL_WAIT_MS    30000

/* Guest RAM for the buffers and a state of state_mib, plus 4 MiB. */
uint64_t serve_default_mem(uint64_t state_mib)
{
	return COWVM_SERVE_STATE + (state_mib << 20) + (4ull << 20);
}

/* The last non-empty line of the file fd (a memfd), into out. */
void serve_fd_tail(int fd, char *out, size_t size)
{
	char buf[4096];
	struct stat st;
	off_t end = fstat(fd, &st) ? 0 : st.st_size;
	off_t from =
		end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = end ? pread(fd, buf, sizeof(buf) - 1, from) : 0;
	char *line;

	out[0] = 0;
	if (n <= 0)
		return;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	line = strrchr(buf, '\n');
	snprintf(out, size, "%.*s", (int)size - 1, line ? line + 1 : buf);
}

/* The guest command line for c, or NULL when it does not fit. */
static char *serve_cmdline(const struct serve_cfg *c)
{
	char *s = NULL;

	if (asprintf(&s, "serve state_mib=%llu seed=%llu%s%s",
		     (unsigned long long)c->state_mib,
		     (unsigned long long)c->seed, c->guest_extra ? " " : "",
		     c->guest_extra ? c->guest_extra : "") < 0)
		return NULL;
	if (strlen(s) >= COWVM_CMDLINE_MAX) {
		free(s);
		return NULL;
	}
	return s;
}

/* Describe a run that should have reached the template's snapshot. */
static void serve_init_error(const struct cowvm_exit *e, int console, char *err)
{
	char tail[160];

	serve_fd_tail(console, tail, sizeof(tail));
	switch (e->reason) {
	case COWVM_EXIT_GUEST:
		snprintf(err, SERVE_ERR_MAX,
			 "the guest exited with status %d during init, before "
			 "its snapshot%s%.150s",
			 e->status, tail[0] ? ": " : "", tail);
		break;
	case COWVM_EXIT_FAULT:
		snprintf(err, SERVE_ERR_MAX,
			 "the guest crashed during init (%.100s)%s%.100s",
			 e->detail, tail[0] ? ": " : "", tail);
		break;
	case COWVM_EXIT_TIMEOUT:
		snprintf(err, SERVE_ERR_MAX,
			 "the guest did not reach its snapshot within %d s",
			 SERVE_BOOT_TIMEOUT_MS / 1000);
		break;
	case COWVM_EXIT_SNAPSHOT:
		snprintf(err, SERVE_ERR_MAX,
			 "the guest asked for a snapshot with tag %llu, not "
			 "the serve template's %llu: is it the serve guest?",
			 (unsigned long long)e->tag, COWVM_SERVE_TAG);
		break;
	default:
		snprintf(err, SERVE_ERR_MAX,
			 "the guest stopped during init: %s", e->detail);
	}
}

/* Snapshot the booted template t->vm with the per-request time limit
 * timeout_ms, which its clones inherit; 0 or -errno with err. */
int serve_template_snapshot(struct serve_template *t, uint64_t timeout_ms,
			    char *err)
{
	cowvm_set_timeout(t->vm, timeout_ms);
	t->cfg.timeout_ms = timeout_ms;
	t->snap = cowvm_snapshot(t->vm);
	if (!t->snap) {
		int r = -errno;

		snprintf(err, SERVE_ERR_MAX, "cannot snapshot the template: %s",
			 cowvm_error(t->vm));
		return r;
	}
	return 0;
}

/* Boot c's template up to its snapshot. */
int serve_template_boot(const struct serve_cfg *c, struct serve_template *t,
			char *err)
{
	int console = memfd_create("serve-console", MFD_CLOEXEC);
	char *cmdline = serve_cmdline(c);
	struct cmd_boot b = {
		.elf = c->elf, .cmdline = cmdline, .tag = COWVM_SERVE_TAG};
	double t0 = serve_now_us();
	int r = 0;

	memset(t, 0, sizeof(*t));
	t->console = console;
	if (console < 0 || !cmdline) {
		r = console < 0 ? -errno : -E2BIG;
		snprintf(err, SERVE_ERR_MAX, "cannot set the guest up: %s",
			 strerror(-r));
		goto out;
	}
	cowvm_config_init(&t->cfg);
	t->cfg.mem_size = c->mem ? c->mem : serve_default_mem(c->state_mib);
	t->cfg.mem_mode = c->mem_mode;
	t->cfg.console_fd = console;
	t->cfg.timeout_ms = SERVE_BOOT_TIMEOUT_MS;
	r = cmd_template_boot(&b, &t->cfg, err, SERVE_ERR_MAX);
	t->vm = b.vm;
	if (r && b.step == CMD_BOOT_EXIT)
		serve_init_error(&b.exit, console, err);
	if (r)
		goto out;
	r = serve_template_snapshot(t, c->timeout_ms, err);
	if (r)
		goto out;
	t->boot_ms = (serve_now_us() - t0) / 1e3;
out:
	free(cmdline);
	if (r)
		serve_template_free(t);
	return r;
}

/* Release the template (its console after every VM that used it). */
void serve_template_free(struct serve_template *t)
{
	cowvm_snapshot_put(t->snap);
	cowvm_destroy(t->vm);
	if (t->console >= 0)
		close(t->console);
	t->snap = NULL;
	t->vm = NULL;
	t->console = -1;
}

/* Run one request on vm. */
int serve_vm_request(struct cowvm *vm, const char *req, size_t len,
		     struct serve_resp *r, char *err)
{
	struct cowvm_serve_msg h = {COWVM_SERVE_REQ_MAGIC, COWVM_SERVE_VERSION,
				    (uint32_t)len, 0};
	struct cowvm_exit e;
	int ret;

	if (len > COWVM_SERVE_DATA_MAX) {
		snprintf(err, SERVE_ERR_MAX,
			 "request of %zu bytes exceeds the %u-byte buffer", len,
			 COWVM_SERVE_DATA_MAX);
		return -EMSGSIZE;
	}
	ret = cowvm_write(vm, COWVM_SERVE_REQ, &h, sizeof(h));
	if (!ret && len)
		ret = cowvm_write(vm, COWVM_SERVE_REQ + sizeof(h), req, len);
	if (!ret)
		ret = cowvm_run(vm, &e);
	if (ret) {
		snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(vm));
		return ret;
	}
	if (e.reason != COWVM_EXIT_GUEST) {
		snprintf(err, SERVE_ERR_MAX, "the guest %s: %s",
			 e.reason == COWVM_EXIT_FAULT	  ? "crashed"
			 : e.reason == COWVM_EXIT_TIMEOUT ? "timed out"
							  : "stopped",
			 e.detail);
		return -EIO;
	}
	ret = cowvm_read(vm, COWVM_SERVE_RESP, &h, sizeof(h));
	if (ret) {
		snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(vm));
		return ret;
	}
	if (h.magic != COWVM_SERVE_RESP_MAGIC ||
	    h.version != COWVM_SERVE_VERSION || h.len > COWVM_SERVE_DATA_MAX ||
	    h.status != (uint32_t)e.status) {
		snprintf(err, SERVE_ERR_MAX,
			 "the guest exited with status %d without a valid "
			 "response (magic 0x%x, len %u, status %u)",
			 e.status, h.magic, h.len, h.status);
		return -EIO;
	}
	r->status = e.status;
	r->len = h.len;
	ret = cowvm_read(vm, COWVM_SERVE_RESP + sizeof(h), r->data, h.len);
	if (ret) {
		snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(vm));
		return ret;
	}
	r->data[h.len] = 0;
	return 0;
}

/* Compare r with m's prediction for req. */
int serve_check(const struct serve_model *m, const char *req, size_t len,
		const struct serve_resp *r, char *err)
{
	static _Thread_local char want[COWVM_SERVE_DATA_MAX + 1];
	size_t wlen;
	int status = serve_model_respond(m, req, len, want, &wlen);

	want[wlen] = 0;
	if (status == r->status && wlen == r->len &&
	    !memcmp(want, r->data, wlen))
		return 1;
	snprintf(err, SERVE_ERR_MAX,
		 "response mismatch: got status %d '%.80s', expected status "
		 "%d '%.80s'",
		 r->status, r->data, status, want);
	return 0;
}

/* The model handler's worker state: one response buffer. */
static void *serve_model_worker_new(const void *ctx, char *err)
{
	struct serve_resp *r = malloc(sizeof(*r));

	(void)ctx;
	if (!r)
		snprintf(err, SERVE_ERR_MAX, "out of memory");
	return r;
}

/* Free a model worker's state. */
static void serve_model_worker_free(void *w)
{
	free(w);
}

/* Generated request k of the model's load. */
static size_t serve_model_gen(const void *ctx, uint64_t k, char *buf,
			      size_t cap)
{
	return serve_gen_request(ctx, k, buf, cap);
}

/* Serve req on vm through the workload's request buffer. */
static void serve_model_serve(const void *ctx, void *w, struct cowvm *vm,
			      const char *req, size_t len,
			      struct serve_outcome *o)
{
	struct serve_resp *r = w;

	(void)ctx;
	o->ret = serve_vm_request(vm, req, len, r, o->msg);
	if (o->ret)
		return;
	o->status = r->status;
	o->data = r->data;
	o->len = r->len;
}

/* Compare the answer with the model's. */
static void serve_model_check(const void *ctx, void *w, const char *req,
			      size_t len, struct serve_outcome *o)
{
	if (!serve_check(ctx, req, len, w, o->msg))
		o->mismatched = 1;
}

/* The built-in workload's handler. */
void serve_model_handler(const struct serve_model *m, struct serve_handler *h)
{
	*h = (struct serve_handler){
		.ctx = m,
		.worker_new = serve_model_worker_new,
		.worker_free = serve_model_worker_free,
		.gen = serve_model_gen,
		.serve = serve_model_serve,
		.check = serve_model_check,
	};
}

/* Shared state of one batch's workers. */
struct serve_job {
	struct serve_template *t;
	const struct serve_handler *h;
	const struct serve_batch *b;
	struct serve_stats *s;
	atomic_uint_fast64_t next;
	pthread_mutex_t lock; /* counters, problems and the start */
	pthread_cond_t cv;
	unsigned ready; /* workers done with their setup */
	int go;		/* set once every worker is ready */
	int setup_err;
	char setup_msg[SERVE_ERR_MAX];
};

/* Keep request k's response (or "failed: WHY") in the batch if asked. */
static void serve_keep_response(const struct serve_batch *b, uint64_t k,
				const struct serve_outcome *o, int bad)
{
	char *text = NULL;

	if (!b->responses)
		return;
	if (!bad && (text = malloc(o->len + 1))) {
		memcpy(text, o->data, o->len);
		text[o->len] = 0;
	} else if (bad && asprintf(&text, "failed: %s", o->msg) < 0) {
		text = NULL;
	}
	b->responses[k] = text;
	if (b->response_lens)
		b->response_lens[k] = !text ? 0 : bad ? strlen(text) : o->len;
}

/* Record request k's outcome o. */
static void serve_record(struct serve_job *j, uint64_t k,
			 const struct serve_outcome *o)
{
	int bad = o->ret || o->failed, good = !bad && !o->mismatched;
	struct serve_stats *s = j->s;

	serve_keep_response(j->b, k, o, bad);
	if (j->b->statuses)
		j->b->statuses[k] = o->ret ? o->ret : o->status;
	pthread_mutex_lock(&j->lock);
	s->ok += good;
	s->failed += bad;
	s->mismatched += !!o->mismatched;
	if (!good && s->nproblems < SERVE_PROBLEMS)
		snprintf(s->problems[s->nproblems], SERVE_ERR_MAX,
			 "request %llu: %.200s",
			 (unsigned long long)serve_batch_index(j->b, k) + 1,
			 o->msg);
	if (!good && !s->nproblems++)
		snprintf(s->first_error, SERVE_ERR_MAX, "%s", s->problems[0]);
	pthread_mutex_unlock(&j->lock);
}

/* The request data of request k (generated into buf when not given). */
static const char *serve_req_of(struct serve_job *j, uint64_t k, char *buf,
				size_t *len)
{
	if (j->b->reqs) {
		*len = j->b->lens[k];
		return j->b->reqs[k];
	}
	*len = j->h->gen(j->h->ctx, serve_batch_index(j->b, k), buf,
			 SERVE_REQ_GEN_MAX);
	return buf;
}

/* Note a setup failure of a worker (the first one wins). */
static void serve_setup_fail(struct serve_job *j, int err, const char *msg)
{
	pthread_mutex_lock(&j->lock);
	if (!j->setup_err) {
		j->setup_err = err;
		snprintf(j->setup_msg, SERVE_ERR_MAX, "%s", msg);
	}
	pthread_mutex_unlock(&j->lock);
}

/* Serve request k on vm (own, or a new clone when NULL) and record it. */
static void serve_one(struct serve_job *j, void *w, struct cowvm *vm,
		      uint64_t k)
{
	const struct serve_handler *h = j->h;
	char buf[SERVE_REQ_GEN_MAX];
	struct serve_outcome o = {0};
	size_t len;
	const char *req = serve_req_of(j, k, buf, &len);
	double t0 = serve_now_us();
	struct cowvm *own = vm;

	if (!vm && !(vm = cowvm_clone(j->t->snap))) {
		o.ret = -errno;
		snprintf(o.msg, sizeof(o.msg), "clone: %s", cowvm_error(NULL));
	} else {
		h->serve(h->ctx, w, vm, req, len, &o);
	}
	j->s->lat_us[k] = serve_now_us() - t0;
	if (!o.ret && h->check)
		h->check(h->ctx, w, req, len, &o);
	serve_record(j, k, &o);
	if (own && cowvm_reset(own, j->t->snap)) {
		snprintf(o.msg, sizeof(o.msg), "reset: %s", cowvm_error(own));
		serve_setup_fail(j, -EIO, o.msg);
	} else if (!own) {
		cowvm_destroy(vm);
	}
}

/* A worker: take request numbers until none is left and serve each on a
 * new clone (SERVE_CLONE, SERVE_SPARE) or on its own clone, reset after
 * each request (SERVE_RESET). */
static void *serve_worker(void *arg)
{
	struct serve_job *j = arg;
	char msg[SERVE_ERR_MAX];
	void *w = j->h->worker_new(j->h->ctx, msg);
	struct cowvm *own = NULL;
	uint64_t k;

	if (!w)
		serve_setup_fail(j, -ENOMEM, msg);
	else if (j->b->mode == SERVE_RESET && !(own = cowvm_clone(j->t->snap)))
		serve_setup_fail(j, -errno, cowvm_error(NULL));
	pthread_mutex_lock(&j->lock);
	j->ready++;
	pthread_cond_broadcast(&j->cv);
	while (!j->go)
		pthread_cond_wait(&j->cv, &j->lock);
	pthread_mutex_unlock(&j->lock);
	while (!j->setup_err && (k = atomic_fetch_add(&j->next, 1)) < j->b->n)
		serve_one(j, w, own, k);
	cowvm_destroy(own);
	if (w)
		j->h->worker_free(w);
	return NULL;
}

/* The name of mode. */
const char *serve_mode_name(enum serve_mode mode)
{
	return mode == SERVE_RESET   ? "reset"
	       : mode == SERVE_AHEAD ? "ahead"
	       : mode == SERVE_SPARE ? "spare"
				     : "clone";
}

/* Serve batch b of the built-in workload. */
int serve_batch_run(struct serve_template *t, const struct serve_model *m,
		    const struct serve_batch *b, struct serve_stats *s,
		    char *err)
{
	struct serve_handler h;

	serve_model_handler(m, &h);
	return serve_batch_serve(t, &h, b, s, err);
}

/* Set t's spares up for mode on c threads (c = 0: drop them); 0 or
 * -errno. The modes that reuse clones start with c clones made ahead,
 * warmed for the pages the template holds, so that no thread begins cold;
 * only ahead mode goes on making them. */
static int serve_spares(struct serve_template *t, enum serve_mode mode,
			unsigned c)
{
	int r;

	if (!c || mode == SERVE_CLONE) {
		cowvm_snapshot_ahead(t->snap, 0);
		return cowvm_snapshot_keep(t->snap, 0);
	}
	/* ahead: room for c more in flight, so takes rarely go below c */
	r = cowvm_snapshot_keep(t->snap, mode == SERVE_AHEAD ? 2 * c : c);
	if (!r)
		r = cowvm_snapshot_ahead(t->snap, c);
	if (mode != SERVE_AHEAD)
		cowvm_snapshot_ahead(t->snap, 0);
	return r;
}

/* Serve batch b of h's requests on threads of this process. */
static int serve_batch_threads(struct serve_template *t,
			       const struct serve_handler *h,
			       const struct serve_batch *b,
			       struct serve_stats *s, char *err)
{
	struct serve_job j = {.t = t, .h = h, .b = b, .s = s};
	unsigned c = b->concurrency ? b->concurrency : 1;
	pthread_t *th = calloc(c, sizeof(*th));
	unsigned started = 0;
	double t0;
	int r;

	memset(s, 0, sizeof(*s));
	s->lat_us = calloc(b->n ? b->n : 1, sizeof(double));
	if (!th || !s->lat_us) {
		free(th);
		snprintf(err, SERVE_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	/* The pool keeps a VM ready for each worker plus one being reaped. */
	r = cowvm_pool_reserve(&t->cfg, c + 1);
	if (!r)
		cowvm_pool_wait(&t->cfg, SERVE_POOL_WAIT_MS);
	atomic_init(&j.next, 0);
	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.cv, NULL);
	r = serve_spares(t, b->mode, c);
	if (r)
		serve_setup_fail(&j, r, "cannot make clones ahead");
	for (; started < c; started++)
		if (pthread_create(&th[started], NULL, serve_worker, &j)) {
			serve_setup_fail(&j, -EAGAIN, "cannot start a worker");
			break;
		}
	pthread_mutex_lock(&j.lock);
	while (j.ready < started)
		pthread_cond_wait(&j.cv, &j.lock);
	if (b->ready)
		b->ready(b->ready_arg);
	j.go = 1;
	pthread_cond_broadcast(&j.cv);
	pthread_mutex_unlock(&j.lock);
	t0 = serve_now_us();
	for (unsigned k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	s->seconds = (serve_now_us() - t0) / 1e6;
	serve_spares(t, b->mode, 0);
	pthread_cond_destroy(&j.cv);
	pthread_mutex_destroy(&j.lock);
	free(th);
	if (j.setup_err) {
		snprintf(err, SERVE_ERR_MAX, "%s", j.setup_msg);
		return j.setup_err;
	}
	return 0;
}

/* Serve batch b of h's requests. */
int serve_batch_serve(struct serve_template *t, const struct serve_handler *h,
		      const struct serve_batch *b, struct serve_stats *s,
		      char *err)
{
	return b->processes > 1 ? serve_batch_procs(t, h, b, s, err)
				: serve_batch_threads(t, h, b, s, err);
}
