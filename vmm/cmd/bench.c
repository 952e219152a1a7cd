/* `cowvm bench`: boot the user's guest (or static Linux program) to its
 * first snapshot request and time, count times each, snapshot, clone (the
 * VM pool warm), a clone's first run, fork, reset and the run after it,
 * with the memory a clone adds, next to host fork() of a process that
 * touched as much memory as the template. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "cowvm.h"
#include "cowvm_linux_abi.h"
#include "exec.h"
#include "template.h"

enum {
	BENCH_EXIT_USAGE = 120,
	BENCH_EXIT_LOAD = 121,
	BENCH_EXIT_INIT = 122,
	BENCH_EXIT_VMM = 124,
	BENCH_EXIT_NOEXEC = 126,
	BENCH_EXIT_NOENT = 127,
};

const char bench_help_text[] =
	"\n"
	"cowvm bench [--mem SIZE] [--count N] [--json FILE] GUEST.elf\n"
	"            [-- GUEST_CMDLINE...]\n"
	"cowvm bench --exec [--mem SIZE] [--count N] [--json FILE]\n"
	"            [--env K=V] [--file H[:G]] [--dir H:G] [--kernel K]\n"
	"            PROGRAM [ARGS...]\n"
	"boots GUEST.elf to its first snapshot request (a Linux PROGRAM to\n"
	"its first read of stdin), then times, N times each (default 100):\n"
	"a snapshot of it, a clone of that snapshot (the VM pool warm), the\n"
	"clone's first run to its next stop (snapshot request or exit; a\n"
	"Linux program's stdin is empty, its output discarded), a fork of\n"
	"the template, a reset of a clone that ran and its run after the\n"
	"reset; and host fork() of a fresh process that touched as many\n"
	"bytes as the template. Prints p50 and p99 of each and the memory a\n"
	"clone adds after its first run (private pages and tables) as a\n"
	"table on stdout; --json FILE writes them as one JSON object too\n"
	"(- for stdout, the table then going to stderr). Each run may take\n"
	"10 s at most.\n"
	"exit status of cowvm bench:\n"
	"  0      measured\n"
	"  120    usage error\n"
	"  121    cannot boot: KVM unavailable, bad or unreadable guest ELF\n"
	"  122    the guest exited, faulted or timed out before its first\n"
	"         snapshot request (--exec: before its first read of stdin)\n"
	"  124    VMM error, or a clone's run did not end in a snapshot\n"
	"         request or an exit\n"
	"  126    --exec: PROGRAM cannot run (not a static x86-64 Linux\n"
	"         executable)\n"
	"  127    --exec: PROGRAM was not found\n";

struct bench_opts {
	uint64_t mem;
	uint64_t count;
	const char *json; /* NULL: none; "-": stdout */
	const char *elf;  /* GUEST.elf or PROGRAM */
	char *cmdline;	  /* GUEST.elf's, NULL if none */
	int linux;	  /* --exec */
	char **argv;	  /* PROGRAM's argv (--exec) */
	struct exec_prog prog;
};

/* One usage error line; BENCH_EXIT_USAGE. */
static int bench_usage(const char *fmt, const char *arg)
{
	cli_usage("cowvm bench", fmt, arg);
	return BENCH_EXIT_USAGE;
}

/* Apply option a with value v; 0 or an exit status. */
static int bench_option(struct bench_opts *o, const char *a, char *v)
{
	if (!strcmp(a, "--mem") && cli_parse_mem(v, &o->mem))
		return bench_usage("--mem '%s' is not a RAM size (4M..64G, "
				   "a multiple of 4K)",
				   v);
	if (!strcmp(a, "--count") && cli_parse_range(v, 1, 100000, &o->count))
		return bench_usage("--count '%s' is not in 1..100000", v);
	if (!strcmp(a, "--json"))
		o->json = v;
	if (exec_prog_is_option(a)) {
		if (!o->linux)
			return bench_usage("%s needs --exec", a);
		if (exec_prog_option(&o->prog, a, v))
			return BENCH_EXIT_USAGE;
	}
	return 0;
}

/* Whether a takes a value. */
static int bench_takes_value(const char *a)
{
	return !strcmp(a, "--mem") || !strcmp(a, "--count") ||
	       !strcmp(a, "--json") || exec_prog_is_option(a);
}

/* The words after GUEST.elf (at argv[i]): none, or -- and the command
 * line; 0 or an exit status. */
static int bench_tail(struct bench_opts *o, int argc, char **argv, int i)
{
	if (o->linux) {
		o->argv = argv + i - 1;
		return 0;
	}
	return cli_guest_cmdline("cowvm bench", argc, argv, i, &o->cmdline)
		       ? BENCH_EXIT_USAGE
		       : 0;
}

/* Parse argv (argv[0] is "bench"); 0 or an exit status. */
static int bench_parse(int argc, char **argv, struct bench_opts *o)
{
	int i = 1, r = 0;

	for (; i < argc && !r && !o->elf; i++) {
		char *a = argv[i];

		if (!strcmp(a, "--exec"))
			o->linux = 1;
		else if (bench_takes_value(a) && i + 1 >= argc)
			return bench_usage("%s needs a value", a);
		else if (bench_takes_value(a))
			r = bench_option(o, a, argv[++i]);
		else if (!strcmp(a, "--"))
			return bench_usage("%s", "missing GUEST.elf");
		else if (a[0] == '-' && a[1])
			return bench_usage("unknown option '%s'", a);
		else
			o->elf = a;
	}
	if (r)
		return r;
	if (!o->elf)
		return bench_usage("%s", o->linux ? "missing PROGRAM"
						  : "missing GUEST.elf");
	return bench_tail(o, argc, argv, i);
}

/* The exit status for a template boot that failed, after one line. */
static int bench_boot_status(const struct bench_opts *o,
			     const struct cmd_boot *b, int err, const char *msg)
{
	if (b->step == CMD_BOOT_EXIT) {
		fprintf(stderr,
			"cowvm bench: %s stopped before its first %s: %s\n",
			o->elf, o->linux ? "read of stdin" : "snapshot request",
			b->exit.detail);
		return BENCH_EXIT_INIT;
	}
	if (b->step == CMD_BOOT_RUN)
		fprintf(stderr, "cowvm bench: %s: %s\n", o->elf, msg);
	else
		fprintf(stderr, "cowvm bench: %s\n", msg); /* names the file */
	if (b->step == CMD_BOOT_LOAD && o->linux)
		switch (exec_load_class(-err)) {
		case EXEC_LOAD_NOENT:
			return BENCH_EXIT_NOENT;
		case EXEC_LOAD_NOEXEC:
			return BENCH_EXIT_NOEXEC;
		default:
			return BENCH_EXIT_LOAD;
		}
	return b->step == CMD_BOOT_RUN ? BENCH_EXIT_VMM : BENCH_EXIT_LOAD;
}

/* Boot the template to its first snapshot request into *vm; 0 or an exit
 * status after one line. */
static int bench_boot(const struct bench_opts *o, struct cowvm_config *cfg,
		      struct cowvm **vm)
{
	static const char *const no_env[] = {NULL};
	struct cowvm_linux lx = {
		.kernel = exec_prog_kernel(&o->prog),
		.program = o->elf,
		.argv = (const char *const *)o->argv,
		.envp = o->prog.env ? o->prog.env : no_env,
		.files = o->prog.files,
		.nr_files = o->prog.nr_files,
		.flags = COWVM_LINUX_SNAPSHOT_STDIN,
	};
	struct cmd_boot b = {.elf = o->elf, .cmdline = o->cmdline};
	char err[512];
	int r;

	if (o->linux) {
		r = exec_precheck("cowvm bench", lx.kernel, o->elf);
		if (r >= 0)
			return r == EXEC_LOAD_NOENT ? BENCH_EXIT_NOENT
						    : BENCH_EXIT_NOEXEC;
		b.linux = &lx;
		b.tag = COWVM_LINUX_STDIN_TAG;
	} else {
		b.any_tag = 1;
	}
	cowvm_config_init(cfg);
	cfg->mem_size = o->mem ? o->mem : (o->linux ? 256ull : 64ull) << 20;
	cfg->console_fd = -1;
	cfg->timeout_ms = 10000;
	r = cmd_template_boot(&b, cfg, err, sizeof(err));
	if (r)
		return bench_boot_status(o, &b, r, err);
	*vm = b.vm;
	return 0;
}

/* Write r as a table to stdout, or to stderr when the JSON goes to
 * stdout, and as JSON to --json's file; 0 or an exit status. */
static int bench_output(const struct bench_opts *o, struct bench_result *r)
{
	int to_stdout = o->json && !strcmp(o->json, "-");
	FILE *f = NULL;

	bench_print_table(to_stdout ? stderr : stdout, r);
	if (!o->json)
		return 0;
	f = to_stdout ? stdout : fopen(o->json, "w");
	if (!f) {
		fprintf(stderr, "cowvm bench: %s: %s\n", o->json,
			strerror(errno));
		return BENCH_EXIT_VMM;
	}
	bench_print_json(f, r);
	if ((to_stdout ? fflush(f) : fclose(f)) != 0) {
		fprintf(stderr, "cowvm bench: %s: %s\n", o->json,
			strerror(errno));
		return BENCH_EXIT_VMM;
	}
	return 0;
}

/* `cowvm bench ...`. */
int bench_main(int argc, char **argv)
{
	struct bench_opts o = {.count = 100};
	struct bench_result res = {0};
	struct cowvm_config cfg;
	struct cowvm *vm = NULL;
	int r;

	if (argc == 4 && !strcmp(argv[1], "--fork-helper"))
		return bench_fork_helper(strtoull(argv[2], NULL, 10),
					 (unsigned)strtoul(argv[3], NULL, 10));
	r = bench_parse(argc, argv, &o);
	if (!r)
		r = bench_boot(&o, &cfg, &vm);
	if (!r)
		r = bench_measure(&cfg, vm, o.elf, (unsigned)o.count, &res)
			    ? BENCH_EXIT_VMM
			    : 0;
	if (!r)
		r = bench_output(&o, &res);
	for (int op = 0; op < BENCH_NOPS; op++)
		free(res.lat[op]);
	cowvm_destroy(vm);
	exec_prog_free(&o.prog);
	free(o.cmdline);
	return r;
}
