/* `cowvm serve`'s worker processes: the template's snapshot saved to a file,
 * forked workers that open it and serve a share of a batch each on threads
 * of their own, and the merge of what they answered. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve.h"

#define SERVE_PROCS_MAX 256
#define SERVE_NO_TEXT	UINT64_MAX /* a response that was not kept */

/* What a worker sends when it is set up (ret only) and when it is done
 * (then its latencies, statuses and responses follow). */
struct serve_proc_hdr {
	int32_t ret;   /* 0, or the worker's -errno with msg */
	uint32_t kept; /* problems[] filled */
	uint64_t ok, failed, mismatched, nproblems;
	double end_us; /* serve_now_us() after its last request */
	char msg[SERVE_ERR_MAX];
	char problems[SERVE_PROBLEMS][SERVE_ERR_MAX];
};

/* The workers of one batch, as the parent sees them. */
struct serve_procs {
	unsigned n, started;
	pid_t pid[SERVE_PROCS_MAX];
	int sock[SERVE_PROCS_MAX];
	char path[PATH_MAX]; /* the snapshot file, as workers open it */
	int fd;
	double t0, end_us;
	/* Problems of every worker, merged by request number. */
	char (*problems)[SERVE_ERR_MAX];
	unsigned nproblems;
};

/* Move n bytes between buf and the socket fd (sending if out, without
 * SIGPIPE); 0, or -1 at EOF or on an error. */
static int serve_io(int fd, void *buf, size_t n, int out)
{
	char *p = buf;

	while (n) {
		ssize_t k = out ? send(fd, p, n, MSG_NOSIGNAL) : read(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The folder the template file is written to. */
static const char *serve_procs_dir(void)
{
	const char *d = getenv("COWVM_SERVE_DIR");

	if (d && *d)
		return d;
	if (!access("/dev/shm", W_OK))
		return "/dev/shm";
	d = getenv("TMPDIR");
	return d && *d ? d : "/tmp";
}

/* Save t's snapshot to a new file (unless t came from one), keep it open
 * in p->fd and remove its name; 0 or -errno with err. */
static int serve_procs_save(struct serve_template *t, struct serve_procs *p,
			    char *err)
{
	char dir[PATH_MAX], file[PATH_MAX + 16];
	int r = 0;

	if (t->file) { /* opened from a file (its parents found by its
			* name): the workers open it too */
		snprintf(p->path, sizeof(p->path), "%s", t->file);
		return 0;
	}

	snprintf(dir, sizeof(dir), "%s/cowvm-serve-XXXXXX", serve_procs_dir());
	if (!mkdtemp(dir)) {
		r = -errno;
		snprintf(err, SERVE_ERR_MAX,
			 "cannot make a folder in %.180s: %s",
			 serve_procs_dir(), strerror(errno));
		return r;
	}
	snprintf(file, sizeof(file), "%s/template.cowvm", dir);
	r = cowvm_snapshot_save(t->snap, file);
	if (r)
		snprintf(err, SERVE_ERR_MAX, "cannot save the template: %s",
			 cowvm_error(NULL));
	p->fd = r ? -1 : open(file, O_RDONLY | O_CLOEXEC);
	if (!r && p->fd < 0) {
		r = -errno;
		snprintf(err, SERVE_ERR_MAX, "cannot open %.180s: %s", file,
			 strerror(errno));
	}
	unlink(file);
	rmdir(dir);
	snprintf(p->path, sizeof(p->path), "/proc/self/fd/%d", p->fd);
	return r;
}

/* A worker's batch hook: say it is set up, wait for the start. */
static void serve_proc_ready(void *arg)
{
	struct serve_proc_hdr hd = {0};
	int sock = *(int *)arg;
	char go;

	if (serve_io(sock, &hd, sizeof(hd), 1) || serve_io(sock, &go, 1, 0))
		_exit(1); /* the parent is gone */
}

/* Send a worker's outcome (hd, then b's n latencies, statuses and
 * responses) to sock; 0 or -1. */
static int serve_proc_send(int sock, struct serve_proc_hdr *hd,
			   const struct serve_batch *b,
			   const struct serve_stats *s)
{
	if (serve_io(sock, hd, sizeof(*hd), 1))
		return -1;
	if (hd->ret) /* the parent reports it */
		return 0;
	if (serve_io(sock, s->lat_us, b->n * sizeof(double), 1))
		return -1;
	if (b->statuses && serve_io(sock, b->statuses, b->n * sizeof(int), 1))
		return -1;
	for (uint64_t k = 0; b->responses && k < b->n; k++) {
		uint64_t len =
			b->responses[k] ? b->response_lens[k] : SERVE_NO_TEXT;

		if (serve_io(sock, &len, sizeof(len), 1) ||
		    (len != SERVE_NO_TEXT &&
		     serve_io(sock, b->responses[k], len, 1)))
			return -1;
	}
	return 0;
}

/* Worker w's share of b (of nproc) into lb, with arrays of its own;
 * 0 or -ENOMEM. */
static int serve_proc_share(const struct serve_batch *b, unsigned w,
			    unsigned nproc, struct serve_batch *lb, int *sock)
{
	uint64_t n = b->n > w ? (b->n - w + nproc - 1) / nproc : 0;
	const char **reqs = NULL;
	size_t *lens = NULL;

	*lb = (struct serve_batch){.mode = b->mode,
				   .concurrency = b->concurrency,
				   .n = n,
				   .first = serve_batch_index(b, w),
				   .stride =
					   (b->stride ? b->stride : 1) * nproc,
				   .ready = serve_proc_ready,
				   .ready_arg = sock};
	if (b->reqs) {
		reqs = calloc(n + 1, sizeof(*reqs));
		lens = calloc(n + 1, sizeof(*lens));
		for (uint64_t k = 0; reqs && lens && k < n; k++) {
			reqs[k] = b->reqs[w + k * nproc];
			lens[k] = b->lens[w + k * nproc];
		}
		lb->reqs = reqs;
		lb->lens = lens;
	}
	if (b->responses) {
		lb->responses = calloc(n + 1, sizeof(*lb->responses));
		lb->response_lens = calloc(n + 1, sizeof(size_t));
	}
	if (b->statuses)
		lb->statuses = calloc(n + 1, sizeof(int));
	if ((b->reqs && (!reqs || !lens)) ||
	    (b->responses && (!lb->responses || !lb->response_lens)) ||
	    (b->statuses && !lb->statuses))
		return -ENOMEM;
	return 0;
}

/* A worker process: open the file at path, serve its share of b on
 * threads, send the outcome; its exit status. */
static int serve_proc_main(const struct serve_template *t,
			   const struct serve_handler *h,
			   const struct serve_batch *b, const char *path,
			   unsigned w, int sock)
{
	struct serve_template wt = *t;
	struct serve_proc_hdr hd = {0};
	struct serve_stats s = {0};
	struct serve_batch lb;

	wt.vm = NULL;
	hd.ret = serve_proc_share(b, w, b->processes, &lb, &sock);
	if (hd.ret)
		snprintf(hd.msg, sizeof(hd.msg), "worker %u: out of memory", w);
	if (!hd.ret && !(wt.snap = cowvm_snapshot_open(path, &t->cfg))) {
		hd.ret = -errno;
		snprintf(hd.msg, sizeof(hd.msg), "worker %u: %s", w,
			 cowvm_error(NULL));
	}
	/* Part of the setup: the file's pages checked (and read ahead). */
	if (!hd.ret && (hd.ret = cowvm_snapshot_verify(wt.snap)))
		snprintf(hd.msg, sizeof(hd.msg), "worker %u: %s", w,
			 cowvm_error(NULL));
	if (!hd.ret)
		hd.ret = serve_batch_serve(&wt, h, &lb, &s, hd.msg);
	hd.end_us = serve_now_us();
	hd.ok = s.ok;
	hd.failed = s.failed;
	hd.mismatched = s.mismatched;
	hd.nproblems = s.nproblems;
	hd.kept = s.nproblems < SERVE_PROBLEMS ? (uint32_t)s.nproblems
					       : SERVE_PROBLEMS;
	memcpy(hd.problems, s.problems, sizeof(hd.problems));
	return serve_proc_send(sock, &hd, &lb, &s) ? 1 : 0;
}

/* Fork worker w of p; 0 or -errno with err. */
static int serve_procs_fork(struct serve_procs *p,
			    const struct serve_template *t,
			    const struct serve_handler *h,
			    const struct serve_batch *b, unsigned w, char *err)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		goto bad;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		goto bad;
	}
	if (!pid) {
		for (unsigned i = 0; i < w; i++)
			close(p->sock[i]);
		close(sv[0]);
		_exit(serve_proc_main(t, h, b, p->path, w, sv[1]));
	}
	close(sv[1]);
	p->pid[w] = pid;
	p->sock[w] = sv[0];
	p->started = w + 1;
	return 0;
bad:
	snprintf(err, SERVE_ERR_MAX, "cannot start worker process %u: %s", w,
		 strerror(errno));
	return -errno;
}

/* Read worker w's header into hd and check it; 0 or -errno with err. */
static int serve_procs_hdr(struct serve_procs *p, unsigned w,
			   struct serve_proc_hdr *hd, char *err)
{
	if (serve_io(p->sock[w], hd, sizeof(*hd), 0)) {
		snprintf(err, SERVE_ERR_MAX, "worker process %u (pid %d) died",
			 w, (int)p->pid[w]);
		return -EPIPE;
	}
	if (hd->ret)
		snprintf(err, SERVE_ERR_MAX, "%s", hd->msg);
	return hd->ret;
}

/* Merge worker w's outcome into b and s; 0 or -errno with err. */
static int serve_procs_merge(struct serve_procs *p, unsigned w,
			     const struct serve_batch *b, struct serve_stats *s,
			     char *err)
{
	struct serve_proc_hdr hd;
	int sock = p->sock[w], r = serve_procs_hdr(p, w, &hd, err);
	uint64_t n = b->n > w ? (b->n - w + p->n - 1) / p->n : 0;

	for (uint64_t k = 0; !r && k < n; k++)
		if (serve_io(sock, &s->lat_us[w + k * p->n], sizeof(double), 0))
			r = -EPIPE;
	for (uint64_t k = 0; !r && b->statuses && k < n; k++)
		if (serve_io(sock, &b->statuses[w + k * p->n], sizeof(int), 0))
			r = -EPIPE;
	for (uint64_t k = 0, len; !r && b->responses && k < n; k++) {
		char *text = NULL;

		if (serve_io(sock, &len, sizeof(len), 0) ||
		    (len != SERVE_NO_TEXT && (!(text = malloc(len + 1)) ||
					      serve_io(sock, text, len, 0))))
			r = -EPIPE;
		if (text)
			text[r ? 0 : len] = 0;
		b->responses[w + k * p->n] = text;
		if (b->response_lens)
			b->response_lens[w + k * p->n] = text ? len : 0;
	}
	if (r == -EPIPE)
		snprintf(err, SERVE_ERR_MAX, "worker process %u died", w);
	if (r)
		return r;
	s->ok += hd.ok;
	s->failed += hd.failed;
	s->mismatched += hd.mismatched;
	s->nproblems += hd.nproblems;
	for (uint32_t i = 0; i < hd.kept && i < SERVE_PROBLEMS; i++)
		memcpy(p->problems[p->nproblems++], hd.problems[i],
		       SERVE_ERR_MAX);
	p->end_us = hd.end_us > p->end_us ? hd.end_us : p->end_us;
	return 0;
}

/* The request number a problem line names. */
static unsigned long long serve_problem_number(const char *line)
{
	unsigned long long k = 0;

	sscanf(line, "request %llu", &k);
	return k;
}

/* qsort order of problem lines: by request number. */
static int serve_problem_cmp(const void *a, const void *b)
{
	unsigned long long x = serve_problem_number(a);
	unsigned long long y = serve_problem_number(b);

	return x < y ? -1 : x > y;
}

/* Keep the first problems of every worker's, by request number, in s. */
static void serve_procs_problems(struct serve_procs *p, struct serve_stats *s)
{
	qsort(p->problems, p->nproblems, SERVE_ERR_MAX, serve_problem_cmp);
	for (unsigned i = 0; i < p->nproblems && i < SERVE_PROBLEMS; i++)
		memcpy(s->problems[i], p->problems[i], SERVE_ERR_MAX);
	if (p->nproblems)
		snprintf(s->first_error, SERVE_ERR_MAX, "%s", s->problems[0]);
}

/* Start every worker, wait until each is set up, start them and merge
 * what they answer; 0 or -errno with err. */
static int serve_procs_run(struct serve_procs *p, struct serve_template *t,
			   const struct serve_handler *h,
			   const struct serve_batch *b, struct serve_stats *s,
			   char *err)
{
	struct serve_proc_hdr hd;
	int r = 0;

	for (unsigned w = 0; !r && w < p->n; w++)
		r = serve_procs_fork(p, t, h, b, w, err);
	for (unsigned w = 0; !r && w < p->n; w++)
		r = serve_procs_hdr(p, w, &hd, err);
	p->t0 = serve_now_us();
	p->end_us = p->t0;
	for (unsigned w = 0; !r && w < p->n; w++)
		if (serve_io(p->sock[w], "g", 1, 1))
			r = serve_procs_hdr(p, w, &hd, err);
	for (unsigned w = 0; !r && w < p->n; w++)
		r = serve_procs_merge(p, w, b, s, err);
	s->seconds = (p->end_us - p->t0) / 1e6;
	serve_procs_problems(p, s);
	return r;
}

/* Stop p's workers (killed when r says the batch failed) and reap them;
 * r, or -ECHILD with err when a worker exited badly. */
static int serve_procs_end(struct serve_procs *p, int r, char *err)
{
	for (unsigned w = 0; w < p->started; w++) {
		int st;

		if (r)
			kill(p->pid[w], SIGKILL);
		close(p->sock[w]);
		if (waitpid(p->pid[w], &st, 0) == p->pid[w] && !r &&
		    !(WIFEXITED(st) && !WEXITSTATUS(st))) {
			snprintf(err, SERVE_ERR_MAX,
				 "worker process %u ended badly (status 0x%x)",
				 w, st);
			r = -ECHILD;
		}
	}
	return r;
}

/* Serve b in b->processes worker processes. */
int serve_batch_procs(struct serve_template *t, const struct serve_handler *h,
		      const struct serve_batch *b, struct serve_stats *s,
		      char *err)
{
	struct serve_procs *p = calloc(1, sizeof(*p));
	int r;

	memset(s, 0, sizeof(*s));
	s->lat_us = calloc(b->n ? b->n : 1, sizeof(double));
	if (!p || !s->lat_us || b->processes > SERVE_PROCS_MAX ||
	    !(p->problems = calloc(b->processes, sizeof(s->problems)))) {
		free(p);
		snprintf(err, SERVE_ERR_MAX,
			 "out of memory (or more than %d "
			 "worker processes)",
			 SERVE_PROCS_MAX);
		return -ENOMEM;
	}
	p->n = b->processes;
	p->fd = -1;
	r = serve_procs_save(t, p, err);
	if (!r)
		r = serve_procs_run(p, t, h, b, s, err);
	r = serve_procs_end(p, r, err);
	if (p->fd >= 0)
		close(p->fd);
	free(p->problems);
	free(p);
	return r;
}
