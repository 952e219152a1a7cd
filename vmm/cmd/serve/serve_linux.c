/* `cowvm serve --exec`'s runtime: boot a static Linux program to its first
 * read of stdin and snapshot it there, serve each request as a VM's stdin
 * with its stdout as the response (checked against a native run when
 * asked), and generate the requests of a load. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowvm_linux_abi.h"
#include "serve_linux.h"

#define SL_BOOT_TIMEOUT_MS 120000
#define SL_DEFAULT_MEM	   (256ull << 20)
#define SL_GOLDEN	   0x9e3779b97f4a7c15ull

/* A new memfd (close-on-exec), or -1 with errno. */
static int sl_memfd(const char *name)
{
	return memfd_create(name, MFD_CLOEXEC);
}

/* Empty the memfd fd and rewind it; 0 or -errno. */
static int sl_clear(int fd)
{
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return 0;
}

/* Make the memfd fd hold data[0, len), its offset at 0; 0 or -errno. */
static int sl_put(int fd, const char *data, size_t len)
{
	size_t done = 0;
	int r = sl_clear(fd);

	while (!r && done < len) {
		ssize_t n = pwrite(fd, data + done, len - done, (off_t)done);

		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	return r;
}

/* Read all of fd (from offset 0) into *buf at offset at, growing it
 * (*cap bytes) and NUL-terminating it; its length into *len; 0 or
 * -errno. */
static int sl_slurp(int fd, char **buf, size_t *cap, size_t at, size_t *len)
{
	struct stat st;
	size_t size, done = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	size = (size_t)st.st_size;
	if (at + size + 1 > *cap) {
		char *b = realloc(*buf, at + size + 1);

		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = at + size + 1;
	}
	while (done < size) {
		ssize_t n =
			pread(fd, *buf + at + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	(*buf)[at + size] = 0;
	*len = size;
	return 0;
}

/* With --strace, copy what a run wrote to its stderr memfd fd (the trace
 * and the program's own lines) to cowvm's stderr. */
static void sl_echo_stderr(const struct serve_linux_cfg *c, int fd)
{
	char buf[16384];
	off_t at = 0;
	ssize_t n;

	if (!(c->flags & COWVM_LINUX_STRACE))
		return;
	while ((n = pread(fd, buf, sizeof(buf), at)) > 0) {
		for (ssize_t done = 0, w; done<n; done += w> 0 ? w : 0) {
			w = write(STDERR_FILENO, buf + done,
				  (size_t)(n - done));
			if (w < 0 && errno != EINTR)
				return;
		}
		at += n;
	}
}

/* Describe an exit of c's program before its first read of stdin. */
static void sl_init_error(const struct serve_linux_cfg *c,
			  const struct cowvm_exit *e, int console, int err_fd,
			  char *err)
{
	char tail[160];

	serve_fd_tail(err_fd, tail, sizeof(tail));
	if (!tail[0])
		serve_fd_tail(console, tail, sizeof(tail));
	if (e->reason == COWVM_EXIT_GUEST)
		snprintf(err, SERVE_ERR_MAX,
			 "%.60s exited with status %d before its first read "
			 "of stdin%s%.120s",
			 c->program, e->status, tail[0] ? ": " : "", tail);
	else if (e->reason == COWVM_EXIT_TIMEOUT)
		snprintf(err, SERVE_ERR_MAX,
			 "%.60s did not read stdin within %d s", c->program,
			 SL_BOOT_TIMEOUT_MS / 1000);
	else
		snprintf(err, SERVE_ERR_MAX,
			 "%.60s stopped before its first read of stdin: "
			 "%.80s%s%.50s",
			 c->program, e->detail, tail[0] ? ": " : "", tail);
}

/* Load c's program into t->vm with stdio in, out, err; 0 or -errno with
 * err (lx->load_err when the program was refused). */
static int sl_load(const struct serve_linux_cfg *c, struct serve_template *t,
		   struct serve_linux *lx, const int fds[3], char *err)
{
	static const char *const no_env[] = {NULL};
	struct cowvm_linux l = {
		.kernel = c->kernel,
		.program = c->program,
		.argv = c->argv,
		.envp = c->envp ? c->envp : no_env,
		.files = c->files,
		.nr_files = c->nr_files,
		.flags = c->flags | COWVM_LINUX_SNAPSHOT_STDIN |
			 COWVM_LINUX_BUFFER_OUTPUT,
	};
	int r;

	t->vm = cowvm_create(&t->cfg);
	if (!t->vm) {
		r = -errno;
		snprintf(err, SERVE_ERR_MAX, "cannot create the VM: %s",
			 cowvm_error(NULL));
		return r;
	}
	r = cowvm_load_linux(t->vm, &l);
	if (r)
		lx->load_err = -r;
	else
		r = cowvm_set_stdio(t->vm, fds[0], fds[1], fds[2]);
	if (r)
		snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(t->vm));
	return r;
}

/* Run t->vm to the snapshot at its first read of stdin (resuming past
 * other snapshot requests); 0 or -errno with err (-EIO: it ended). */
static int sl_run_to_stdin(const struct serve_linux_cfg *c,
			   struct serve_template *t, int err_fd, char *err)
{
	struct cowvm_exit e;

	for (;;) {
		if (cowvm_run(t->vm, &e)) {
			snprintf(err, SERVE_ERR_MAX, "%s", cowvm_error(t->vm));
			return -EIO;
		}
		if (e.reason == COWVM_EXIT_SNAPSHOT &&
		    e.tag == COWVM_LINUX_STDIN_TAG)
			return 0;
		if (e.reason != COWVM_EXIT_SNAPSHOT) {
			sl_init_error(c, &e, t->console, err_fd, err);
			return -EIO;
		}
	}
}

/* Snapshot the template at stdin and keep what it wrote to stdout; 0 or
 * -errno with err. */
static int sl_snapshot(const struct serve_linux_cfg *c,
		       struct serve_template *t, struct serve_linux *lx,
		       int out_fd, char *err)
{
	size_t cap = 0;
	int r;

	r = serve_template_snapshot(t, c->timeout_ms, err);
	if (r)
		return r;
	r = sl_slurp(out_fd, &lx->init_out, &cap, 0, &lx->init_len);
	if (r)
		snprintf(err, SERVE_ERR_MAX, "cannot read its stdout: %s",
			 strerror(-r));
	return r;
}

/* Boot c's template up to its first read of stdin. */
int serve_linux_boot(const struct serve_linux_cfg *c, struct serve_template *t,
		     struct serve_linux *lx, char *err)
{
	int fds[3] = {sl_memfd("serve-init-in"), sl_memfd("serve-init-out"),
		      sl_memfd("serve-init-err")};
	double t0 = serve_now_us();
	int r = 0;

	memset(t, 0, sizeof(*t));
	memset(lx, 0, sizeof(*lx));
	lx->cfg = c;
	t->console = sl_memfd("serve-console");
	if (t->console < 0 || fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
		r = -errno;
		snprintf(err, SERVE_ERR_MAX, "cannot set the VM up: %s",
			 strerror(-r));
		goto out;
	}
	cowvm_config_init(&t->cfg);
	t->cfg.mem_size = c->mem ? c->mem : SL_DEFAULT_MEM;
	t->cfg.mem_mode = c->mem_mode;
	t->cfg.console_fd = t->console;
	t->cfg.timeout_ms = SL_BOOT_TIMEOUT_MS;
	r = sl_load(c, t, lx, fds, err);
	if (!r) {
		r = sl_run_to_stdin(c, t, fds[2], err);
		sl_echo_stderr(c, fds[2]);
	}
	if (!r)
		r = sl_snapshot(c, t, lx, fds[1], err);
	t->boot_ms = (serve_now_us() - t0) / 1e3;
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r) {
		serve_template_free(t);
		free(lx->init_out);
		lx->init_out = NULL;
	}
	return r;
}

/* Release lx's copy of the init output. */
void serve_linux_free(struct serve_linux *lx)
{
	free(lx->init_out);
	lx->init_out = NULL;
	lx->init_len = 0;
}

/* One worker's descriptors and buffers. */
struct sl_worker {
	int in, out, err; /* memfds: the request, the VM's stdout, stderr */
	int nout, nerr;	  /* the native run's stdout and stderr, or -1 */
	char *buf, *nbuf; /* init_out + the VM's stdout; the native one */
	size_t cap, ncap;
	int signaled; /* the VM's program died of a signal */
};

/* Free a worker's state. */
static void sl_worker_free(void *arg)
{
	struct sl_worker *w = arg;
	int fds[] = {w->in, w->out, w->err, w->nout, w->nerr};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(w->buf);
	free(w->nbuf);
	free(w);
}

/* A worker: its memfds, and its response buffer starting with init_out. */
static void *sl_worker_new(const void *ctx, char *err)
{
	const struct serve_linux *lx = ctx;
	struct sl_worker *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, SERVE_ERR_MAX, "out of memory");
		return NULL;
	}
	w->in = sl_memfd("serve-stdin");
	w->out = sl_memfd("serve-stdout");
	w->err = sl_memfd("serve-stderr");
	w->nout = w->nerr = -1;
	if (lx->cfg->check) {
		w->nout = sl_memfd("serve-native-out");
		w->nerr = sl_memfd("serve-native-err");
	}
	w->cap = lx->init_len + 4096;
	w->buf = malloc(w->cap);
	if (w->in < 0 || w->out < 0 || w->err < 0 || !w->buf ||
	    (lx->cfg->check && (w->nout < 0 || w->nerr < 0))) {
		snprintf(err, SERVE_ERR_MAX, "cannot set a worker up: %s",
			 strerror(w->buf ? errno : ENOMEM));
		sl_worker_free(w);
		return NULL;
	}
	if (lx->init_len)
		memcpy(w->buf, lx->init_out, lx->init_len);
	return w;
}

/* Generated request k. */
static size_t sl_gen(const void *ctx, uint64_t k, char *buf, size_t cap)
{
	const struct serve_linux *lx = ctx;

	return serve_linux_gen_request(lx->cfg->seed, k, buf, cap);
}

/* Map the run's exit e to o: an answer (exit status, or death by a
 * signal: failed) or none (-ETIMEDOUT, -EIO). */
static void sl_outcome(const struct cowvm_exit *e, struct sl_worker *w,
		       struct serve_outcome *o)
{
	w->signaled = e->reason == COWVM_EXIT_SIGNAL;
	switch (e->reason) {
	case COWVM_EXIT_GUEST:
		o->status = e->status;
		break;
	case COWVM_EXIT_SIGNAL:
		o->status = 128 + (e->status & 127);
		snprintf(o->msg, sizeof(o->msg), "%.120s", e->detail);
		break;
	case COWVM_EXIT_TIMEOUT:
		o->ret = -ETIMEDOUT;
		snprintf(o->msg, sizeof(o->msg), "timed out");
		break;
	default:
		o->ret = -EIO;
		snprintf(o->msg, sizeof(o->msg), "the VM %s: %.120s",
			 e->reason == COWVM_EXIT_FAULT ? "crashed" : "stopped",
			 e->detail);
	}
}

/* Say why an answer is not OK: its status and the tail of its stderr. */
static void sl_not_ok(struct sl_worker *w, struct serve_outcome *o)
{
	char tail[160], what[SERVE_ERR_MAX];

	serve_fd_tail(w->err, tail, sizeof(tail));
	if (w->signaled)
		snprintf(what, sizeof(what), "%s", o->msg);
	else
		snprintf(what, sizeof(what), "exit status %d", o->status);
	snprintf(o->msg, sizeof(o->msg), "%.120s%s%.120s", what,
		 tail[0] ? "; stderr: " : "", tail);
	o->failed = 1;
}

/* Serve req on vm: stdin = req, then run it to its end. */
static void sl_serve(const void *ctx, void *arg, struct cowvm *vm,
		     const char *req, size_t len, struct serve_outcome *o)
{
	const struct serve_linux *lx = ctx;
	struct sl_worker *w = arg;
	struct cowvm_exit e;
	size_t n = 0;
	int r = sl_put(w->in, req, len);

	if (!r)
		r = sl_clear(w->out);
	if (!r)
		r = sl_clear(w->err);
	if (r) {
		o->ret = r;
		snprintf(o->msg, sizeof(o->msg), "stdio: %s", strerror(-r));
		return;
	}
	if ((r = cowvm_set_stdio(vm, w->in, w->out, w->err)) ||
	    (r = cowvm_run(vm, &e))) {
		o->ret = r;
		snprintf(o->msg, sizeof(o->msg), "%s", cowvm_error(vm));
		return;
	}
	sl_outcome(&e, w, o);
	sl_echo_stderr(lx->cfg, w->err);
	if (!o->ret &&
	    (r = sl_slurp(w->out, &w->buf, &w->cap, lx->init_len, &n))) {
		o->ret = r;
		snprintf(o->msg, sizeof(o->msg), "cannot read its stdout: %s",
			 strerror(-r));
	}
	o->data = w->buf;
	o->len = lx->init_len + n;
	if (!o->ret && (o->status || w->signaled))
		sl_not_ok(w, o);
}

/* Why the VM's answer o differs from native run n (its stdout nlen bytes
 * in w->nbuf), into why; 0 when they agree. */
static int sl_differs(const struct sl_worker *w, const struct serve_outcome *o,
		      const struct serve_native *n, size_t nlen, char *why)
{
	size_t at = 0;

	if (n->timed_out) {
		snprintf(why, SERVE_ERR_MAX, "the native run timed out");
		return 1;
	}
	if (o->status != n->status || w->signaled != n->signaled) {
		snprintf(why, SERVE_ERR_MAX,
			 "%s %d differs from the native run's %s %d",
			 w->signaled ? "death by signal" : "status",
			 w->signaled ? o->status - 128 : o->status,
			 n->signaled ? "death by signal" : "status",
			 n->signaled ? n->status - 128 : n->status);
		return 1;
	}
	while (at < o->len && at < nlen && o->data[at] == w->nbuf[at])
		at++;
	if (at == o->len && at == nlen)
		return 0;
	snprintf(why, SERVE_ERR_MAX,
		 "stdout differs from the native run's at byte %zu (%zu "
		 "bytes, native %zu)",
		 at, o->len, nlen);
	return 1;
}

/* Run the request natively on the same stdin and compare. */
static void sl_check(const void *ctx, void *arg, const char *req, size_t len,
		     struct serve_outcome *o)
{
	const struct serve_linux *lx = ctx;
	struct sl_worker *w = arg;
	struct serve_native n;
	char why[SERVE_ERR_MAX], prev[SERVE_ERR_MAX];
	size_t nlen = 0;
	int r;

	(void)req;
	(void)len;
	r = sl_clear(w->nout);
	if (!r)
		r = sl_clear(w->nerr);
	if (!r)
		r = serve_native_run(lx->cfg, w->in, w->nout, w->nerr,
				     lx->cfg->timeout_ms, &n, why);
	else
		snprintf(why, sizeof(why), "%s", strerror(-r));
	if (!r && (r = sl_slurp(w->nout, &w->nbuf, &w->ncap, 0, &nlen)))
		snprintf(why, sizeof(why), "%s", strerror(-r));
	if (!r && !sl_differs(w, o, &n, nlen, why))
		return;
	o->mismatched = 1;
	snprintf(prev, sizeof(prev), "%s", o->msg);
	snprintf(o->msg, sizeof(o->msg), "%.110s%s%s%.120s",
		 o->failed ? prev : "", o->failed ? "; " : "",
		 r ? "native run: " : "", why);
}

/* The handler of lx's program. */
void serve_linux_handler(const struct serve_linux *lx, struct serve_handler *h)
{
	*h = (struct serve_handler){
		.ctx = lx,
		.worker_new = sl_worker_new,
		.worker_free = sl_worker_free,
		.gen = sl_gen,
		.serve = sl_serve,
		.check = lx->cfg->check ? sl_check : NULL,
	};
}

/* The next output of the splitmix64 stream at *x. */
static uint64_t sl_next(uint64_t *x)
{
	uint64_t z = (*x += SL_GOLDEN);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Generated request k for seed. */
size_t serve_linux_gen_request(uint64_t seed, uint64_t k, char *buf, size_t cap)
{
	static const char *const words[16] = {
		"alpha", "bravo",    "charlie", "delta",  "echo", "foxtrot",
		"golf",	 "hotel",    "india",	"juliet", "kilo", "lima",
		"mike",	 "november", "oscar",	"papa"};
	uint64_t x = seed * SL_GOLDEN ^ (k + 1);
	int n = snprintf(buf, cap, "%llu\n", (unsigned long long)k + 1);
	unsigned lines = 1 + (unsigned)(sl_next(&x) % 3);

	for (unsigned l = 0; l < lines && n > 0 && (size_t)n < cap; l++) {
		unsigned toks = 2 + (unsigned)(sl_next(&x) % 7);

		for (unsigned i = 0; i < toks && (size_t)n < cap; i++) {
			uint64_t r = sl_next(&x);
			const char *sep = i ? " " : "";

			if (r % 4 == 0)
				n += snprintf(buf + n, cap - (size_t)n, "%s%u",
					      sep, (unsigned)((r >> 8) % 1000));
			else
				n += snprintf(buf + n, cap - (size_t)n, "%s%s",
					      sep, words[(r >> 8) % 16]);
		}
		if ((size_t)n < cap)
			n += snprintf(buf + n, cap - (size_t)n, "\n");
	}
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
