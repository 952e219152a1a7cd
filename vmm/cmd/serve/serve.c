/* `cowvm serve`: parse its options, boot the serve template, serve requests
 * from stdin or a generated load, print responses and a summary table
 * (with --exec, serve_exec.c serves them with a Linux program). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cowvm_linux_abi.h"
#include "serve.h"
#include "serve_cmd.h"
#include "serve_opts.h"

const char serve_help_text[] =
	"\n"
	"cowvm serve boots GUEST.elf's serve workload once (a runtime state:\n"
	"a hash table of --state-mib MiB), snapshots it and serves every\n"
	"request on a clone of that snapshot, checking each response against\n"
	"a host model. Requests are stdin's lines (responses on stdout, one\n"
	"line each, the summary on stderr) or a generated load (--requests).\n"
	"  --state-mib M      runtime state size, 1..65536 (default 64)\n"
	"  --seed S           state seed (default 1)\n"
	"  --mem SIZE         guest RAM (default: 12 MiB + the state)\n"
	"  --mode clone|spare|ahead|reset\n"
	"                     clone: a new clone per request, destroyed after\n"
	"                     it; spare: the same, the snapshot keeping a\n"
	"                     destroyed clone per worker, reset, for the next\n"
	"                     (cowvm_snapshot_keep); ahead: as spare, more\n"
	"                     clones made ahead in the background as spares\n"
	"                     run short (cowvm_snapshot_ahead); reset: one\n"
	"                     clone per worker, cowvm_reset to the snapshot\n"
	"                     after each request (default clone). In spare,\n"
	"                     ahead and reset modes each worker's first clone\n"
	"                     is made before the first request and warmed for\n"
	"                     the pages the template holds\n"
	"  --concurrency C    worker threads, 1..256 (default 1)\n"
	"  --workers N|cores  worker processes, 1..256 or one per online\n"
	"                     core (default 1: this process). The template\n"
	"                     is saved to a snapshot file (in\n"
	"                     $COWVM_SERVE_DIR, else /dev/shm) that each\n"
	"                     worker opens, sharing its pages; requests are\n"
	"                     dealt round robin, each worker running\n"
	"                     --concurrency threads\n"
	"  --requests N       serve N generated requests instead of stdin\n"
	"  --live K           then measure memory with K clones alive\n"
	"                     (default 16 with --requests, else 0)\n"
	"  --timeout SECONDS  limit per request (default 10, 0: none)\n"
	"  --save-snapshot FILE  save the booted template to FILE (a cowvm\n"
	"                     snapshot file), then serve\n"
	"  --from FILE        serve from the template saved in FILE instead\n"
	"                     of booting GUEST.elf (no GUEST.elf, "
	"--state-mib,\n"
	"                     --seed, --mem or guest words: the state's size\n"
	"                     and seed come from the file)\n"
	"  -- WORDS...        extra words for the guest's serve command line\n"
	"\n"
	"cowvm serve --exec [SERVE OPTIONS] PROGRAM [ARGS...] serves with an\n"
	"unmodified static x86-64 Linux program instead (as cowvm exec runs\n"
	"it): booted once up to its first read of stdin, snapshotted there,\n"
	"then every request is a clone's stdin and the response is what it\n"
	"writes to stdout until it exits (after what it wrote before that\n"
	"read). A response is OK when the program exits 0. Options end at\n"
	"PROGRAM or after --; --mode, --concurrency, --requests, --live,\n"
	"--timeout, --mem (default 256M) and --seed apply, and:\n"
	"  --check            also run PROGRAM natively per request (same\n"
	"                     argv, only the --env environment, the request\n"
	"                     on stdin) and compare stdout and exit status\n"
	"                     byte for byte; a difference is a mismatch\n"
	"  --env K=V, --file HOST[:GUEST], --dir HOSTDIR:GUESTDIR,\n"
	"  --kernel LINUX.elf, --strace   as for cowvm exec (--strace: each\n"
	"                     VM's stderr, the trace with it, is copied to\n"
	"                     cowvm's stderr after its run)\n"
	"A stdin line is one request, with its newline. Generated request K\n"
	"(--requests N, K = 1..N) is the line \"K\" and one to three lines of\n"
	"two to eight words (alpha, bravo, ... papa: sixteen) and numbers\n"
	"below 1000, drawn from --seed and K. Responses go to stdout in\n"
	"request order, verbatim; a request that failed (status not 0,\n"
	"signal, timeout) prints one line \"failed: WHY\" (with the end of\n"
	"its stderr) instead; every request not OK is named on stderr.\n"
	"exit status of cowvm serve:\n"
	"  0      every response was correct (--exec: OK, and with --check\n"
	"         equal to the native run's)\n"
	"  1      some request failed (guest crash, timeout; --exec: status\n"
	"         not 0) or was wrong (--exec --check: a mismatch)\n"
	"  120    usage error\n"
	"  121    cannot boot: KVM unavailable, bad or unreadable guest ELF\n"
	"         (--exec: no personality kernel)\n"
	"  122    the guest exited or crashed during init (before its\n"
	"         snapshot; --exec: before its first read of stdin)\n"
	"  124    VMM error while serving\n"
	"  126    --exec: PROGRAM cannot run (not a static x86-64 Linux\n"
	"         executable, unreadable, too large for --mem)\n"
	"  127    --exec: PROGRAM was not found\n";

/* Print one usage error line; returns SERVE_EXIT_USAGE. */
static int serve_usage(const char *fmt, const char *arg)
{
	cli_usage("cowvm serve", fmt, arg);
	return SERVE_EXIT_USAGE;
}

/* Parse one option with value v into o; 0 or SERVE_EXIT_USAGE. */
static int serve_option(const char *a, char *v, struct serve_opts *o)
{
	uint64_t x;

	if (exec_prog_is_option(a)) {
		o->exec_only = o->exec_only ? o->exec_only : a;
		if (exec_prog_option(&o->prog, a, v))
			return SERVE_EXIT_USAGE;
	} else if (!strcmp(a, "--from") || !strcmp(a, "--save-snapshot")) {
		o->workload_only = o->workload_only ? o->workload_only : a;
		*(a[2] == 'f' ? &o->from : &o->save) = v;
	} else if (!strcmp(a, "--state-mib")) {
		o->workload_only = "--state-mib";
		o->boot_only = "--state-mib";
		if (cli_parse_range(v, 1, 65536, &o->cfg.state_mib))
			return serve_usage("--state-mib '%s' is not 1..65536",
					   v);
	} else if (!strcmp(a, "--seed")) {
		o->boot_only = o->boot_only ? o->boot_only : "--seed";
		if (cli_parse_range(v, 0, UINT64_MAX, &o->cfg.seed))
			return serve_usage("--seed '%s' is not a number", v);
	} else if (!strcmp(a, "--mem")) {
		o->boot_only = o->boot_only ? o->boot_only : "--mem";
		if (cli_parse_mem(v, &o->cfg.mem))
			return serve_usage("--mem '%s' is not a multiple of 4K "
					   "in 4M..64G",
					   v);
	} else if (!strcmp(a, "--mode")) {
		if (!strcmp(v, "clone"))
			o->mode = SERVE_CLONE;
		else if (!strcmp(v, "spare"))
			o->mode = SERVE_SPARE;
		else if (!strcmp(v, "reset"))
			o->mode = SERVE_RESET;
		else if (!strcmp(v, "ahead"))
			o->mode = SERVE_AHEAD;
		else
			return serve_usage("--mode '%s' is not clone, spare or "
					   "reset (or ahead)",
					   v);
	} else if (!strcmp(a, "--concurrency")) {
		if (cli_parse_range(v, 1, 256, &x))
			return serve_usage("--concurrency '%s' is not 1..256",
					   v);
		o->concurrency = (unsigned)x;
	} else if (!strcmp(a, "--workers")) {
		o->workload_only =
			o->workload_only ? o->workload_only : "--workers";
		if (!strcmp(v, "cores"))
			x = (uint64_t)sysconf(_SC_NPROCESSORS_ONLN);
		else if (cli_parse_range(v, 1, 256, &x))
			return serve_usage("--workers '%s' is not 1..256 or "
					   "cores",
					   v);
		o->workers = x < 1 ? 1 : x > 256 ? 256 : (unsigned)x;
	} else if (!strcmp(a, "--requests")) {
		if (cli_parse_range(v, 1, 100000000, &o->requests))
			return serve_usage("--requests '%s' is not 1..1e8", v);
	} else if (!strcmp(a, "--live")) {
		if (cli_parse_range(v, 0, 4096, &x))
			return serve_usage("--live '%s' is not 0..4096", v);
		o->live = (long)x;
	} else if (!strcmp(a, "--timeout")) {
		if (cli_parse_seconds(v, 1e6, &o->timeout_s))
			return serve_usage("--timeout '%s' is not 0..1e6 "
					   "seconds",
					   v);
	} else {
		return serve_usage("unknown option '%s'", a);
	}
	return 0;
}

/* A flag (an option without a value) into o; 1 if a is one, else 0. */
static int serve_flag(const char *a, struct serve_opts *o)
{
	if (!strcmp(a, "--exec"))
		o->exec = 1;
	else if (!strcmp(a, "--check"))
		o->check = 1;
	else if (!strcmp(a, "--strace"))
		o->linux_flags |= COWVM_LINUX_STRACE;
	else
		return 0;
	if (strcmp(a, "--exec") && !o->exec_only)
		o->exec_only = a;
	return 1;
}

/* The rest of the command line after --exec's options, at argv[i]:
 * PROGRAM ARGS...; 0 or SERVE_EXIT_USAGE. */
static int serve_parse_exec(int argc, char **argv, int i, struct serve_opts *o)
{
	if (o->workload_only)
		return serve_usage("%s is for the built-in serve workload, "
				   "not --exec",
				   o->workload_only);
	if (i >= argc)
		return serve_usage("%s", "missing PROGRAM");
	o->argv = argv + i;
	return 0;
}

/* The end of a command line with --from (argv[i] on): nothing else; 0 or
 * SERVE_EXIT_USAGE. */
static int serve_parse_from(int argc, char **argv, int i, struct serve_opts *o)
{
	if (o->cfg.elf || i < argc)
		return serve_usage("--from FILE takes the template from FILE: "
				   "no GUEST.elf or guest words ('%s')",
				   o->cfg.elf ? o->cfg.elf : argv[i]);
	if (o->boot_only)
		return serve_usage("--from FILE takes the state and RAM size "
				   "from FILE: no %s",
				   o->boot_only);
	if (o->save)
		return serve_usage("%s", "--from FILE and --save-snapshot: the "
					 "file is already saved");
	return 0;
}

/* Parse `serve` arguments (argv[0] is "serve"); 0 or an exit status. */
static int serve_parse(int argc, char **argv, struct serve_opts *o)
{
	int i = 1, r;

	for (; i < argc && !o->cfg.elf; i++) {
		char *a = argv[i];

		if (o->exec && !strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1]) {
			if (o->exec)
				break;
			o->cfg.elf = a;
			continue;
		}
		if (serve_flag(a, o))
			continue;
		if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))
			return serve_usage(strncmp(a, "--", 2) ||
							   !strcmp(a, "--")
						   ? "unexpected '%s'"
						   : "%s needs a value",
					   a);
		r = serve_option(a, argv[++i], o);
		if (r)
			return r;
	}
	if (o->exec)
		return serve_parse_exec(argc, argv, i, o);
	if (o->exec_only)
		return serve_usage("%s needs --exec", o->exec_only);
	if (o->from)
		return serve_parse_from(argc, argv, i, o);
	if (!o->cfg.elf)
		return serve_usage("%s", "missing GUEST.elf");
	if (i < argc && strcmp(argv[i], "--"))
		return serve_usage("unexpected argument '%s' (extra guest "
				   "words go after --)",
				   argv[i]);
	if (i + 1 < argc) { /* words after -- */
		o->workload_only = "--";
		o->cfg.guest_extra = cli_join_words(argv + i + 1, argc - i - 1);
		if (!o->cfg.guest_extra)
			return serve_usage("%s", "out of memory");
	}
	if (o->cfg.mem &&
	    o->cfg.mem < serve_default_mem(o->cfg.state_mib) - (4ull << 20))
		return serve_usage("--mem is too small for --state-mib (need "
				   "%s + the state)",
				   "8M");
	return 0;
}

/* Read stdin's lines into a batch. */
int serve_cmd_read_stdin(struct serve_batch *b, int keep_newline)
{
	size_t cap = 0;
	char *line = NULL;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		char **reqs;
		size_t *lens;

		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		if (keep_newline) {
			char *l = realloc(line, (size_t)n + 2);

			if (!l)
				break;
			line = l;
			line[n++] = '\n';
			line[n] = 0;
		}
		reqs = realloc((void *)b->reqs, (b->n + 1) * sizeof(*reqs));
		if (reqs)
			b->reqs = (const char *const *)reqs;
		lens = realloc((void *)b->lens, (b->n + 1) * sizeof(*lens));
		if (lens)
			b->lens = lens;
		if (!reqs || !lens)
			break;
		reqs[b->n] = line;
		lens[b->n++] = (size_t)n;
		line = NULL;
		cap = 0;
	}
	free(line);
	return ferror(stdin) || !feof(stdin) ? -1 : 0;
}

/* Free the batch's stdin requests and responses. */
void serve_cmd_free_batch(struct serve_batch *b)
{
	for (uint64_t k = 0; k < b->n; k++) {
		if (b->reqs)
			free((void *)b->reqs[k]);
		if (b->responses)
			free(b->responses[k]);
	}
	free((void *)b->reqs);
	free((void *)b->lens);
	free(b->responses);
	free(b->response_lens);
	free(b->statuses);
}

/* Print the table (and the memory per live clone) to f. */
void serve_cmd_table(FILE *f, const struct serve_opts *o,
		     const struct serve_stats *s, uint64_t n,
		     const struct serve_mem *mem)
{
	double p50 = serve_percentile(s->lat_us, n, 50);
	double p99 = serve_percentile(s->lat_us, n, 99);

	fprintf(f, "%-6s %9s %5s %10s %9s %9s %9s %7s %10s\n", "mode",
		"requests", "conc", "req/s", "p50 us", "p99 us", "ok", "failed",
		"mismatched");
	fprintf(f, "%-6s %9llu %5u %10.0f %9.1f %9.1f %9llu %7llu %10llu\n",
		serve_mode_name(o->mode), (unsigned long long)n, o->concurrency,
		s->seconds > 0 ? (double)n / s->seconds : 0, p50, p99,
		(unsigned long long)s->ok, (unsigned long long)s->failed,
		(unsigned long long)s->mismatched);
	if (mem && mem->k) {
		fprintf(f,
			"memory per live clone (%u alive, each after one "
			"request): host %.0f KiB (Anonymous + VmPTE + memfd), "
			"cowvm "
			"private %.0f KiB + tables %.0f KiB\n",
			mem->k, mem->host_kib, mem->private_kib,
			mem->table_kib);
		if (mem->idle_kib >= 0)
			fprintf(f, "  %s: host %.0f KiB\n",
				o->mode == SERVE_RESET
					? "after cowvm_reset (idle worker)"
					: "destroyed into spares",
				mem->idle_kib);
	}
}

/* Print the summary to f. */
static void serve_summary(FILE *f, const struct serve_opts *o,
			  const struct serve_template *t,
			  const struct serve_stats *s, uint64_t n,
			  const struct serve_mem *mem)
{
	fprintf(f,
		"cowvm serve: state %llu MiB (seed %llu), guest RAM %llu MiB, "
		"template %s %.1f ms\n",
		(unsigned long long)o->cfg.state_mib,
		(unsigned long long)o->cfg.seed,
		(unsigned long long)(t->cfg.mem_size >> 20),
		t->file ? "opened from its file in" : "boot", t->boot_ms);
	if (o->workers > 1)
		fprintf(f,
			"worker processes: %u, each with %u thread%s, cloning "
			"the template's snapshot file\n",
			o->workers, o->concurrency,
			o->concurrency > 1 ? "s" : "");
	serve_cmd_table(f, o, s, n, mem);
	fprintf(f, "latency: clone (a spare's take in spare mode, nothing in "
		   "reset mode) + request write + run + response read; "
		   "destroy (a spare's reset) or reset after it\n");
	if (s->first_error[0])
		fprintf(f, "first problem: %s\n", s->first_error);
}

/* Boot, serve and report; the command's exit status. */
static int serve_run(struct serve_opts *o)
{
	struct serve_batch b = {.mode = o->mode,
				.concurrency = o->concurrency,
				.processes = o->workers};
	struct serve_stats s = {0};
	struct serve_mem mem = {0};
	struct serve_template t;
	struct serve_model m;
	char err[SERVE_ERR_MAX];
	int r, status;

	o->cfg.timeout_ms = (uint64_t)(o->timeout_s * 1e3);
	if (!o->requests && serve_cmd_read_stdin(&b, 0)) {
		fprintf(stderr, "cowvm serve: cannot read stdin: %s\n",
			strerror(errno));
		serve_cmd_free_batch(&b);
		return SERVE_EXIT_USAGE;
	}
	b.n = o->requests ? o->requests : b.n;
	if (!o->requests) {
		b.responses = calloc(b.n + 1, sizeof(*b.responses));
		b.statuses = calloc(b.n + 1, sizeof(*b.statuses));
	}
	r = o->from ? serve_template_open(o->from, &o->cfg, &t, err)
		    : serve_template_boot(&o->cfg, &t, err);
	if (r) {
		fprintf(stderr, "cowvm serve: %s\n", err);
		serve_cmd_free_batch(&b);
		return r == -EIO ? SERVE_EXIT_INIT : SERVE_EXIT_LOAD;
	}
	serve_model_init(&m, o->cfg.state_mib, o->cfg.seed);
	r = o->save ? serve_template_save(&t, o->save, err) : 0;
	if (!r)
		r = serve_batch_run(&t, &m, &b, &s, err);
	if (!r && o->live)
		r = serve_measure_mem(&t, &m, o->mode, (unsigned)o->live, &mem,
				      err);
	status = r			    ? SERVE_EXIT_VMM
		 : s.failed || s.mismatched ? SERVE_EXIT_REQUESTS
					    : SERVE_EXIT_OK;
	if (r)
		fprintf(stderr, "cowvm serve: %s\n", err);
	for (uint64_t k = 0; !r && b.responses && k < b.n; k++)
		printf("%s\n", b.responses[k] ? b.responses[k] : "");
	if (!r) {
		fflush(stdout);
		serve_summary(o->requests ? stdout : stderr, o, &t, &s, b.n,
			      &mem);
	}
	free(s.lat_us);
	serve_template_free(&t);
	serve_cmd_free_batch(&b);
	return status;
}

/* cowvm serve ...: the documented exit status. */
int serve_main(int argc, char **argv)
{
	struct serve_opts o = {.cfg = {.state_mib = 64, .seed = 1},
			       .mode = SERVE_CLONE,
			       .concurrency = 1,
			       .workers = 1,
			       .live = -1,
			       .timeout_s = 10,
			       .prog = {.who = "cowvm serve"}};
	int r = serve_parse(argc, argv, &o);

	if (!r) {
		if (o.live < 0)
			o.live = o.requests ? 16 : 0;
		r = o.exec ? serve_exec_run(&o) : serve_run(&o);
	}
	free((void *)o.cfg.guest_extra);
	exec_prog_free(&o.prog);
	return r;
}
