/* `cowvm serve`'s engine over the public API: boot the template, serve one
 * request on a VM, serve batches on worker threads in clone or reset mode,
 * check every response against the model, measure memory per live clone. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"
#include "cowvm_serve_abi.h"

#define SERVE_BOOT_TIMEOUT_MS 120000
#define SERVE_POOL_WAIT_MS    30000
#define SERVE_REQ_GEN_MAX     512

/* Microseconds on the monotonic clock. */
double serve_now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Ascending order of doubles for qsort. */
static int serve_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Percentile p of n samples by nearest rank (sorts v); 0 if n is 0. */
double serve_percentile(double *v, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), serve_cmp);
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	return v[(rank > n ? n : rank) - 1];
}

/* Median of n doubles (sorts v); 0 if n is 0. */
double serve_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), serve_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Sum of the kB values of the lines of path starting with key; -1 if the
 * file cannot be read. */
static long serve_kib(const char *path, const char *key)
{
	char line[256];
	long sum = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			sum += strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return sum;
}

/* KiB allocated to the memfds this process holds open (cowvm's frame
 * store keeps guest pages in one; anonymous counters do not see them). */
static long serve_memfd_kib(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long kib = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], target[64];
		struct stat st;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 7 || memcmp(target, "/memfd:", 7) || stat(path, &st))
			continue;
		kib += (long)(st.st_blocks / 2);
	}
	closedir(d);
	return kib;
}

/* Anonymous memory (or, private_only, Private_Dirty + Private_Clean: what
 * no other process maps) plus page tables of pid (0: this process, whose
 * figure also adds its memfds' allocated memory). */
long serve_proc_kib(int pid, int private_only)
{
	char rollup[64], status[64];
	long a, b = 0, pte;

	if (pid)
		snprintf(rollup, sizeof(rollup), "/proc/%d/smaps_rollup", pid);
	else
		snprintf(rollup, sizeof(rollup), "/proc/self/smaps_rollup");
	snprintf(status, sizeof(status), "%.*s/status",
		 (int)(strlen(rollup) - strlen("/smaps_rollup")), rollup);
	if (private_only) {
		a = serve_kib(rollup, "Private_Dirty:");
		b = serve_kib(rollup, "Private_Clean:");
	} else {
		a = serve_kib(rollup, "Anonymous:");
	}
	if (!pid)
		b = serve_memfd_kib();
	pte = serve_kib(status, "VmPTE:");
	if (a < 0 || b < 0 || pte < 0)
		return -1;
	return a + b + pte;
}

/* Guest RAM for the buffers and a state of state_mib, plus 4 MiB. */
uint64_t serve_default_mem(uint64_t state_mib)
{
	return COWVM_SERVE_STATE + (state_mib << 20) + (4ull << 20);
}

/* The last non-empty line of the console memfd fd, into out. */
static void serve_console_tail(int fd, char *out, size_t size)
{
	char buf[4096];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from =
		end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
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

	serve_console_tail(console, tail, sizeof(tail));
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

/* Boot c's template up to its snapshot. */
int serve_template_boot(const struct serve_cfg *c, struct serve_template *t,
			char *err)
{
	int console = memfd_create("serve-console", MFD_CLOEXEC);
	char *cmdline = serve_cmdline(c);
	struct cowvm_exit e;
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
	t->vm = cowvm_create(&t->cfg);
	if (!t->vm) {
		r = -errno;
		snprintf(err, SERVE_ERR_MAX, "cannot create the VM: %s",
			 cowvm_error(NULL));
		goto out;
	}
	r = cowvm_load_elf(t->vm, c->elf, cmdline);
	if (r) {
		snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(t->vm));
		goto out;
	}
	r = cowvm_run(t->vm, &e);
	if (r) {
		snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(t->vm));
		goto out;
	}
	if (e.reason != COWVM_EXIT_SNAPSHOT || e.tag != COWVM_SERVE_TAG) {
		serve_init_error(&e, console, err);
		r = -EIO;
		goto out;
	}
	/* Clones inherit the config: the per-request time limit. */
	cowvm_set_timeout(t->vm, c->timeout_ms);
	t->cfg.timeout_ms = c->timeout_ms;
	t->snap = cowvm_snapshot(t->vm);
	if (!t->snap) {
		r = -errno;
		snprintf(err, SERVE_ERR_MAX, "cannot snapshot the template: %s",
			 cowvm_error(t->vm));
		goto out;
	}
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

/* Shared state of one batch's workers. */
struct serve_job {
	struct serve_template *t;
	const struct serve_model *m;
	const struct serve_batch *b;
	struct serve_stats *s;
	atomic_uint_fast64_t next;
	pthread_mutex_t lock; /* counters, first_error and the start */
	pthread_cond_t cv;
	unsigned ready; /* workers done with their setup */
	int go;		/* set once every worker is ready */
	int setup_err;
	char setup_msg[SERVE_ERR_MAX];
};

/* Record request k's outcome: ret (0 or -errno), its response. */
static void serve_record(struct serve_job *j, uint64_t k, int ret,
			 const char *req, size_t len,
			 const struct serve_resp *r, const char *msg)
{
	char why[SERVE_ERR_MAX];
	int good = !ret && serve_check(j->m, req, len, r, why);

	if (j->b->responses && (ret || !(j->b->responses[k] = strdup(r->data))))
		if (asprintf(&j->b->responses[k], "failed: %s", msg) < 0)
			j->b->responses[k] = NULL;
	if (j->b->statuses)
		j->b->statuses[k] = ret ? ret : r->status;
	pthread_mutex_lock(&j->lock);
	if (good)
		j->s->ok++;
	else if (ret)
		j->s->failed++;
	else
		j->s->mismatched++;
	if (!good && !j->s->first_error[0])
		snprintf(j->s->first_error, SERVE_ERR_MAX,
			 "request %llu: %.200s", (unsigned long long)k + 1,
			 ret ? msg : why);
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
	*len = serve_gen_request(j->m, k, buf, SERVE_REQ_GEN_MAX);
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

/* A worker: take request numbers until none is left and serve each on a
 * new clone (SERVE_CLONE) or on its own clone, reset after each request
 * (SERVE_RESET). */
static void *serve_worker(void *arg)
{
	struct serve_job *j = arg;
	struct serve_resp *r = malloc(sizeof(*r));
	struct cowvm *own = NULL;
	char buf[SERVE_REQ_GEN_MAX], msg[SERVE_ERR_MAX];
	uint64_t k;

	if (!r)
		serve_setup_fail(j, -ENOMEM, "out of memory");
	else if (j->b->mode == SERVE_RESET && !(own = cowvm_clone(j->t->snap)))
		serve_setup_fail(j, -errno, cowvm_error(NULL));
	pthread_mutex_lock(&j->lock);
	j->ready++;
	pthread_cond_broadcast(&j->cv);
	while (!j->go)
		pthread_cond_wait(&j->cv, &j->lock);
	pthread_mutex_unlock(&j->lock);
	while (!j->setup_err && (k = atomic_fetch_add(&j->next, 1)) < j->b->n) {
		size_t len;
		const char *req = serve_req_of(j, k, buf, &len);
		double t0 = serve_now_us();
		struct cowvm *vm = own ? own : cowvm_clone(j->t->snap);
		int ret;

		if (!vm) {
			ret = -errno;
			snprintf(msg, sizeof(msg), "clone: %s",
				 cowvm_error(NULL));
		} else {
			ret = serve_vm_request(vm, req, len, r, msg);
		}
		j->s->lat_us[k] = serve_now_us() - t0;
		serve_record(j, k, ret, req, len, r, msg);
		if (own && cowvm_reset(own, j->t->snap)) {
			snprintf(msg, sizeof(msg), "reset: %s",
				 cowvm_error(own));
			serve_setup_fail(j, -EIO, msg);
		} else if (!own) {
			cowvm_destroy(vm);
		}
	}
	cowvm_destroy(own);
	free(r);
	return NULL;
}

/* The name of mode. */
const char *serve_mode_name(enum serve_mode mode)
{
	return mode == SERVE_RESET   ? "reset"
	       : mode == SERVE_SPARE ? "spare"
				     : "clone";
}

/* Serve batch b. */
int serve_batch_run(struct serve_template *t, const struct serve_model *m,
		    const struct serve_batch *b, struct serve_stats *s,
		    char *err)
{
	struct serve_job j = {.t = t, .m = m, .b = b, .s = s};
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
	cowvm_snapshot_keep(t->snap, b->mode == SERVE_SPARE ? c : 0);
	atomic_init(&j.next, 0);
	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.cv, NULL);
	for (; started < c; started++)
		if (pthread_create(&th[started], NULL, serve_worker, &j)) {
			serve_setup_fail(&j, -EAGAIN, "cannot start a worker");
			break;
		}
	pthread_mutex_lock(&j.lock);
	while (j.ready < started)
		pthread_cond_wait(&j.cv, &j.lock);
	j.go = 1;
	pthread_cond_broadcast(&j.cv);
	pthread_mutex_unlock(&j.lock);
	t0 = serve_now_us();
	for (unsigned k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	s->seconds = (serve_now_us() - t0) / 1e6;
	cowvm_snapshot_keep(t->snap, 0);
	pthread_cond_destroy(&j.cv);
	pthread_mutex_destroy(&j.lock);
	free(th);
	if (j.setup_err) {
		snprintf(err, SERVE_ERR_MAX, "%s", j.setup_msg);
		return j.setup_err;
	}
	return 0;
}

/* Wait until this process's memory stops shrinking (the pool's reaper
 * frees discarded VMs in the background): up to 2 s. */
static long serve_settled_kib(void)
{
	long prev = serve_proc_kib(0, 0), cur = prev;

	for (int i = 0; i < 40; i++) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		nanosleep(&ts, NULL);
		cur = serve_proc_kib(0, 0);
		if (cur >= prev)
			break;
		prev = cur;
	}
	return cur;
}

/* Measure memory per live clone. */
int serve_measure_mem(struct serve_template *t, const struct serve_model *m,
		      enum serve_mode mode, unsigned k, struct serve_mem *out,
		      char *err)
{
	struct cowvm **vms = calloc(k ? k : 1, sizeof(*vms));
	struct serve_resp *r = malloc(sizeof(*r));
	char buf[SERVE_REQ_GEN_MAX], why[SERVE_ERR_MAX];
	double priv = 0, table = 0;
	long base, live, idle;
	unsigned n = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->k = k;
	out->idle_kib = -1;
	if (!vms || !r || !k) {
		free(vms);
		free(r);
		snprintf(err, SERVE_ERR_MAX, "%s",
			 k ? "out of memory" : "no clones to measure");
		return k ? -ENOMEM : -EINVAL;
	}
	cowvm_pool_reserve(&t->cfg, 0);
	cowvm_snapshot_keep(t->snap, mode == SERVE_SPARE ? k : 0);
	base = serve_settled_kib();
	for (; n < k && !ret; n++) {
		size_t len = serve_gen_request(m, n, buf, sizeof(buf));
		struct cowvm_mem_stats st;

		vms[n] = cowvm_clone(t->snap);
		if (!vms[n]) {
			ret = -errno;
			snprintf(err, SERVE_ERR_MAX, "clone: %s",
				 cowvm_error(NULL));
			break;
		}
		ret = serve_vm_request(vms[n], buf, len, r, why);
		if (!ret && !serve_check(m, buf, len, r, why))
			ret = -EIO;
		if (!ret)
			ret = cowvm_mem_stats(vms[n], &st);
		if (ret) {
			snprintf(err, SERVE_ERR_MAX, "%s", why);
			n++;
			break;
		}
		priv += (double)st.pages_private * 4.0;
		table += (double)st.table_private_bytes / 1024.0;
	}
	live = serve_proc_kib(0, 0);
	for (unsigned i = 0; !ret && mode == SERVE_RESET && i < n; i++)
		if (cowvm_reset(vms[i], t->snap)) {
			ret = -EIO;
			snprintf(err, SERVE_ERR_MAX, "reset: %s",
				 cowvm_error(vms[i]));
		}
	while (mode == SERVE_SPARE && n)
		cowvm_destroy(vms[--n]);
	idle = serve_proc_kib(0, 0);
	while (n--)
		cowvm_destroy(vms[n]);
	cowvm_snapshot_keep(t->snap, 0);
	free(vms);
	free(r);
	if (ret)
		return ret;
	if (base < 0 || live < 0 || idle < 0) {
		snprintf(err, SERVE_ERR_MAX, "cannot read /proc/self: %s",
			 strerror(errno));
		return -EIO;
	}
	out->host_kib = (double)(live - base) / k;
	out->private_kib = priv / k;
	out->table_kib = table / k;
	if (mode != SERVE_CLONE)
		out->idle_kib = (double)(idle - base) / k;
	return 0;
}
