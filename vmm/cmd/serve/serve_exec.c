/* `cowvm serve --exec`: check the Linux program, boot its template at its
 * first read of stdin, serve stdin's lines or a generated load on clones
 * of it, print the responses, the requests that were not OK and the
 * summary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve_linux.h"
#include "serve_opts.h"

/* The exit status of serve for a load problem of class c. */
static int se_status_of_class(enum exec_load_class c)
{
	static const int status[] = {
		[EXEC_LOAD_NOENT] = SERVE_EXIT_NOENT,
		[EXEC_LOAD_NOEXEC] = SERVE_EXIT_NOEXEC,
		[EXEC_LOAD_FAIL] = SERVE_EXIT_LOAD,
	};

	return status[c];
}

/* The exit status of a failed boot r. */
static int se_boot_status(int r, const struct serve_linux *lx)
{
	if (!lx->load_err)
		return r == -EIO ? SERVE_EXIT_INIT : SERVE_EXIT_LOAD;
	return se_status_of_class(exec_load_class(lx->load_err));
}

/* The stdin requests' responses, in order: verbatim, or the failure line
 * of a request that was not OK. */
static void se_print_responses(const struct serve_batch *b)
{
	for (uint64_t k = 0; k < b->n; k++) {
		const char *r = b->responses[k];

		if (!r)
			printf("failed: no memory for its response\n");
		else if (b->statuses[k])
			printf("%s\n", r);
		else
			fwrite(r, 1, b->response_lens[k], stdout);
	}
	fflush(stdout);
}

/* One stderr line per request that was not OK (the first few). */
static void se_print_problems(const struct serve_stats *s)
{
	uint64_t shown =
		s->nproblems < SERVE_PROBLEMS ? s->nproblems : SERVE_PROBLEMS;

	for (uint64_t i = 0; i < shown; i++)
		fprintf(stderr, "cowvm serve: %s\n", s->problems[i]);
	if (s->nproblems > shown)
		fprintf(stderr, "cowvm serve: ... and %llu more\n",
			(unsigned long long)(s->nproblems - shown));
}

/* The summary to f. */
static void se_summary(FILE *f, const struct serve_opts *o,
		       const struct serve_template *t,
		       const struct serve_linux *lx,
		       const struct serve_stats *s, uint64_t n,
		       const struct serve_mem *mem)
{
	fprintf(f,
		"cowvm serve --exec: %s, guest RAM %llu MiB, template boot "
		"%.1f ms (at its first read of stdin; %zu bytes of stdout "
		"before it)\n",
		o->argv[0], (unsigned long long)(t->cfg.mem_size >> 20),
		t->boot_ms, lx->init_len);
	serve_cmd_table(f, o, s, n, mem);
	fprintf(f,
		"latency: clone (a spare's take in spare mode, nothing in "
		"reset mode) + stdin write + run to the program's exit + "
		"stdout read; destroy (a spare's reset) or reset after it%s\n",
		o->check ? "; each response compared with a native run (not "
			   "timed)"
			 : "; responses not compared (no --check)");
}

/* Allocate the stdin batch's response arrays; 0 or -1. */
static int se_batch_arrays(struct serve_batch *b)
{
	b->responses = calloc(b->n + 1, sizeof(*b->responses));
	b->response_lens = calloc(b->n + 1, sizeof(*b->response_lens));
	b->statuses = calloc(b->n + 1, sizeof(*b->statuses));
	return b->responses && b->response_lens && b->statuses ? 0 : -1;
}

/* Serve b on lx's template t and report; the exit status. */
static int se_serve(struct serve_opts *o, struct serve_template *t,
		    const struct serve_linux *lx, struct serve_batch *b)
{
	struct serve_stats s = {0};
	struct serve_mem mem = {0};
	struct serve_handler h;
	char err[SERVE_ERR_MAX];
	int r, status;

	serve_linux_handler(lx, &h);
	r = serve_batch_serve(t, &h, b, &s, err);
	if (!r && o->live)
		r = serve_measure_handler_mem(t, &h, o->mode, (unsigned)o->live,
					      &mem, err);
	status = r			    ? SERVE_EXIT_VMM
		 : s.failed || s.mismatched ? SERVE_EXIT_REQUESTS
					    : SERVE_EXIT_OK;
	if (r)
		fprintf(stderr, "cowvm serve: %s\n", err);
	if (!r && b->responses)
		se_print_responses(b);
	if (!r) {
		se_print_problems(&s);
		se_summary(o->requests ? stdout : stderr, o, t, lx, &s, b->n,
			   &mem);
	}
	free(s.lat_us);
	return status;
}

/* Serve with --exec. */
int serve_exec_run(struct serve_opts *o)
{
	struct serve_linux_cfg c = {
		.kernel = exec_prog_kernel(&o->prog),
		.program = o->argv[0],
		.argv = (const char *const *)o->argv,
		.envp = o->prog.env,
		.files = o->prog.files,
		.nr_files = o->prog.nr_files,
		.flags = o->linux_flags,
		.mem = o->cfg.mem,
		.mem_mode = o->cfg.mem_mode,
		.timeout_ms = (uint64_t)(o->timeout_s * 1e3),
		.seed = o->cfg.seed,
		.check = o->check,
	};
	struct serve_batch b = {.mode = o->mode, .concurrency = o->concurrency};
	struct serve_template t;
	struct serve_linux lx;
	char err[SERVE_ERR_MAX];
	int r = exec_precheck("cowvm serve", c.kernel, c.program);

	if (r >= 0)
		return se_status_of_class(r);
	if (!o->requests &&
	    (serve_cmd_read_stdin(&b, 1) || se_batch_arrays(&b))) {
		fprintf(stderr, "cowvm serve: cannot read stdin: %s\n",
			strerror(errno));
		serve_cmd_free_batch(&b);
		return SERVE_EXIT_USAGE;
	}
	b.n = o->requests ? o->requests : b.n;
	r = serve_linux_boot(&c, &t, &lx, err);
	if (r) {
		fprintf(stderr, "cowvm serve: %s\n", err);
		serve_cmd_free_batch(&b);
		return se_boot_status(r, &lx);
	}
	r = se_serve(o, &t, &lx, &b);
	serve_template_free(&t);
	serve_linux_free(&lx);
	serve_cmd_free_batch(&b);
	return r;
}
