/* The cowvm command: boot a guest ELF and map its outcome to an exit status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cowvm.h"
#include "cowvm_abi.h"
#include "cli.h"
#include "bench.h"
#include "demo.h"
#include "exec.h"
#include "serve_cmd.h"
#include "snapshot_cmd.h"
#include "fuzz.h"
#include "template.h"

#ifndef COWVM_VERSION
#define COWVM_VERSION "unknown"
#endif

enum {
	EXIT_GUEST_MAX = 119,	/* 0..119: the guest's own status */
	EXIT_USAGE = 120,	/* bad command line or --mem/--timeout */
	EXIT_LOAD = 121,	/* cannot create the VM or load the guest */
	EXIT_FAULT = 122,	/* the guest took an unhandled exception */
	EXIT_TIMEOUT = 123,	/* --timeout elapsed */
	EXIT_VMM = 124,		/* VMM error, triple fault, bad hypercall */
	EXIT_GUEST_RANGE = 125, /* guest status above 119 */
};

static const char usage_text[] =
	"usage: cowvm run [--mem SIZE] [--timeout SECONDS] "
	"[--save-snapshot FILE]\n"
	"                 GUEST.elf [-- GUEST_CMDLINE...]\n"
	"       cowvm run --from FILE [--timeout SECONDS]\n"
	"       cowvm snapshot info FILE\n"
	"       cowvm exec [EXEC OPTIONS] PROGRAM [ARGS...]\n"
	"       cowvm demo [GUEST.elf]\n"
	"       cowvm serve [SERVE OPTIONS] GUEST.elf [-- GUEST_WORDS...]\n"
	"       cowvm serve --exec [SERVE OPTIONS] PROGRAM [ARGS...]\n"
	"       cowvm fuzz [FUZZ OPTIONS] TARGET.elf\n"
	"       cowvm fuzz --reproduce FILE [--mem SIZE] TARGET.elf\n"
	"       cowvm fuzz [FUZZ OPTIONS] --from FILE [CORPUS_DIR...]\n"
	"       cowvm bench [BENCH OPTIONS] GUEST.elf [-- GUEST_CMDLINE...]\n"
	"       cowvm bench --exec [BENCH OPTIONS] PROGRAM [ARGS...]\n"
	"       cowvm --help | --version\n"
	"\n"
	"Boot GUEST.elf (an x86-64 ELF kernel following the cowvm boot\n"
	"protocol) in a KVM virtual machine; its console goes to stdout.\n"
	"A static Linux executable given to run is run as by cowvm exec\n"
	"(the words after -- are its arguments; exit statuses as for exec).\n"
	"\n"
	"  --mem SIZE         guest RAM, bytes or with a K/M/G suffix, from "
	"4M\n"
	"                     to 64G, a multiple of 4K (default 64M)\n"
	"  --timeout SECONDS  wall-clock limit for the whole run, fractions\n"
	"                     allowed (default 0: none)\n"
	"  -- WORDS...        the guest command line, words joined by spaces\n"
	"  --save-snapshot FILE  at the guest's first snapshot request, save\n"
	"                     a snapshot there to FILE (cowvm_snapshot_save),\n"
	"                     then run on\n"
	"  --from FILE        run a clone of the snapshot saved in FILE from\n"
	"                     where it was taken (a bad file: status 121)\n"
	"\n"
	"cowvm demo boots GUEST.elf (default build/guest/guest.elf) at a few\n"
	"sizes, forks clones and prints fork latency and memory per clone.\n"
	"\n"
	"exit status of cowvm run:\n"
	"  0-119  the guest's own exit status\n"
	"  120    usage error (bad option, --mem or --timeout value)\n"
	"  121    cannot boot: KVM unavailable, bad or unreadable guest ELF\n"
	"  122    guest fault: an unhandled CPU exception in the guest\n"
	"  123    timeout\n"
	"  124    VMM error: bad hypercall, access outside RAM, triple fault,\n"
	"         unexpected exit\n"
	"  125    the guest exited with a status outside 0-119\n";

struct options {
	uint64_t mem;
	double timeout_s; /* 0: none */
	const char *elf;
	char *cmdline;	  /* NULL when no -- */
	const char *save; /* --save-snapshot FILE */
	const char *from; /* --from FILE, instead of elf */
	int mem_set;
};

/* Print one usage error line and return EXIT_USAGE. */
static int usage_error(const char *fmt, const char *arg)
{
	cli_usage("cowvm", fmt, arg);
	return EXIT_USAGE;
}

/* Parse and check --mem; 0 or EXIT_USAGE after one line on stderr. */
static int parse_mem(const char *s, uint64_t *mem)
{
	if (cli_parse_size(s, mem))
		return usage_error("--mem '%s' is not a size (N, NK, NM, NG)",
				   s);
	if (*mem < COWVM_MEM_MIN || *mem > COWVM_MEM_MAX)
		return usage_error("--mem %s is outside 4M..64G", s);
	if (*mem % 4096)
		return usage_error("--mem %s is not a multiple of 4K", s);
	return 0;
}

/* Parse and check --timeout; 0 or EXIT_USAGE after one line on stderr. */
static int parse_timeout(const char *s, double *t)
{
	if (cli_parse_seconds(s, 1e7, t))
		return usage_error("--timeout '%s' is not a number of seconds "
				   "in 0..10000000",
				   s);
	return 0;
}

/* Parse `run` arguments (argv[0] is "run"); 0 or an exit status. */
static int parse_run(int argc, char **argv, struct options *o)
{
	int i = 1, r = 0;

	for (; i < argc && !r && !o->elf; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "--mem") || !strcmp(a, "--timeout") ||
		     !strcmp(a, "--save-snapshot") || !strcmp(a, "--from")) &&
		    i + 1 >= argc)
			return usage_error("%s needs a value", a);
		if (!strcmp(a, "--mem"))
			r = parse_mem(argv[++i], &o->mem), o->mem_set = 1;
		else if (!strcmp(a, "--timeout"))
			r = parse_timeout(argv[++i], &o->timeout_s);
		else if (!strcmp(a, "--save-snapshot"))
			o->save = argv[++i];
		else if (!strcmp(a, "--from"))
			o->from = argv[++i];
		else if (a[0] == '-' && a[1])
			return usage_error("unknown option '%s'", a);
		else
			o->elf = a;
	}
	if (r)
		return r;
	if (o->from && (o->elf || o->mem_set || o->save))
		return usage_error("%s",
				   "--from FILE takes the guest, its RAM "
				   "and its state from FILE: no GUEST.elf, "
				   "--mem or --save-snapshot");
	if (o->from)
		return 0;
	if (!o->elf)
		return usage_error("%s", "missing GUEST.elf");
	return cli_guest_cmdline("cowvm", argc, argv, i, &o->cmdline)
		       ? EXIT_USAGE
		       : 0;
}

/* Map a final exit to the command's status, printing one line if not 0. */
static int report_exit(const struct options *o, const struct cowvm_exit *e)
{
	switch (e->reason) {
	case COWVM_EXIT_GUEST:
		if (e->status <= EXIT_GUEST_MAX)
			return e->status;
		fprintf(stderr,
			"cowvm: guest exit status %d is outside 0..%d\n",
			e->status, EXIT_GUEST_MAX);
		return EXIT_GUEST_RANGE;
	case COWVM_EXIT_FAULT:
		fprintf(stderr, "cowvm: %s\n", e->detail);
		return EXIT_FAULT;
	case COWVM_EXIT_TIMEOUT:
		fprintf(stderr, "cowvm: timeout after %g s (rip 0x%llx)\n",
			o->timeout_s, (unsigned long long)e->rip);
		return EXIT_TIMEOUT;
	default:
		fprintf(stderr, "cowvm: %s\n", e->detail);
		return EXIT_VMM;
	}
}

/* Run the loaded VM to its end, resuming across snapshot requests. */
static int run_vm(struct cowvm *vm, const struct options *o)
{
	struct timespec deadline = cli_deadline(o->timeout_s);
	struct cowvm_exit e;
	int err;

	int saved = !o->save;

	do {
		if (o->timeout_s > 0)
			cowvm_set_timeout(vm, cli_ms_until(&deadline));
		err = cowvm_run(vm, &e);
		if (err) {
			fprintf(stderr, "cowvm: %s\n", cowvm_error(vm));
			return EXIT_VMM;
		}
		if (e.reason == COWVM_EXIT_SNAPSHOT && !saved++ &&
		    snapshot_cmd_save(vm, o->save))
			return EXIT_VMM;
	} while (e.reason == COWVM_EXIT_SNAPSHOT);
	return report_exit(o, &e);
}

/* `cowvm run [--mem M] [--timeout T] PROGRAM [-- ARGS]` of a Linux
 * program: the same as `cowvm exec [--mem M] [--timeout T] PROGRAM ARGS`. */
static int run_linux(int argc, char **argv, const struct options *o)
{
	char **v = calloc((size_t)argc + 2, sizeof(*v));
	int n = 0, i = 1, r;

	if (!v)
		return usage_error("%s", "out of memory");
	v[n++] = "exec";
	while (i < argc && argv[i] != o->elf)
		v[n++] = argv[i++];
	v[n++] = argv[i++];
	if (i < argc && !strcmp(argv[i], "--"))
		i++; /* run's separator; exec takes ARGS right after PROGRAM */
	while (i < argc)
		v[n++] = argv[i++];
	r = exec_main(n, v);
	free(v);
	return r;
}

/* `cowvm run --from FILE`: a clone of the saved snapshot, run to its end. */
static int cmd_run_from(const struct options *o)
{
	struct cowvm_config cfg;
	struct cowvm_snapshot *snap;
	struct cowvm *vm;
	int r;

	cowvm_config_init(&cfg);
	snap = cowvm_snapshot_open(o->from, &cfg);
	if (!snap) {
		fprintf(stderr, "cowvm: %s\n", cowvm_error(NULL));
		return EXIT_LOAD;
	}
	vm = cowvm_clone(snap);
	cowvm_snapshot_put(snap);
	if (!vm) {
		fprintf(stderr, "cowvm: %s\n", cowvm_error(NULL));
		return EXIT_VMM;
	}
	r = run_vm(vm, o);
	cowvm_destroy(vm);
	return r;
}

/* `cowvm run ...`. */
static int cmd_run(int argc, char **argv)
{
	struct options o = {.mem = 64ull << 20};
	struct cowvm_config cfg;
	struct cmd_boot b = {0};
	char err[512];
	int r = parse_run(argc, argv, &o);

	if (r)
		return r;
	if (o.from)
		return cmd_run_from(&o);
	if (exec_is_linux_elf(o.elf) && o.save) {
		free(o.cmdline);
		return usage_error("%s", "--save-snapshot takes a cowvm guest "
					 "ELF (Linux programs: not yet)");
	}
	if (exec_is_linux_elf(o.elf)) {
		free(o.cmdline);
		return run_linux(argc, argv, &o);
	}
	cowvm_config_init(&cfg);
	cfg.mem_size = o.mem;
	b.elf = o.elf;
	b.cmdline = o.cmdline;
	if (cmd_vm_load(&b, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "cowvm: %s\n", err);
		r = EXIT_LOAD;
	} else {
		r = run_vm(b.vm, &o);
	}
	cowvm_destroy(b.vm);
	free(o.cmdline);
	return r;
}

/* `cowvm COMMAND --help`: that command's part of the help; 0, or the
 * usage status for an unknown command. */
static int sub_help(const char *cmd)
{
	if (!strcmp(cmd, "exec"))
		fputs(exec_help_text, stdout);
	else if (!strcmp(cmd, "fuzz"))
		fputs(fuzz_help_text, stdout);
	else if (!strcmp(cmd, "serve"))
		fputs(serve_help_text, stdout);
	else if (!strcmp(cmd, "bench"))
		fputs(bench_help_text, stdout);
	else if (!strcmp(cmd, "snapshot"))
		fputs(snapshot_help_text, stdout);
	else if (!strcmp(cmd, "run") || !strcmp(cmd, "demo"))
		fputs(usage_text, stdout);
	else
		return usage_error("unknown command '%s'", cmd);
	return 0;
}

/* Dispatch --help, --version and the subcommands; returns the documented
 * status. */
int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("%s", "missing command");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		fputs(fuzz_help_text, stdout);
		fputs(serve_help_text, stdout);
		fputs(exec_help_text, stdout);
		fputs(bench_help_text, stdout);
		fputs(snapshot_help_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("cowvm %s\n", COWVM_VERSION);
		return 0;
	}
	if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))
		return sub_help(argv[1]);
	if (!strcmp(argv[1], "bench"))
		return bench_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "demo"))
		return demo_main(argc, argv);
	if (!strcmp(argv[1], "snapshot"))
		return snapshot_cmd_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "exec"))
		return exec_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fuzz"))
		return fuzz_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "serve"))
		return serve_main(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", argv[1]);
}
