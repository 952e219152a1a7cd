/* The `cowvm fuzz` command's state and its command line (fuzz_args.c),
 * private to vmm/cmd/fuzz/. */
#ifndef VMM_FUZZ_CLI_H
#define VMM_FUZZ_CLI_H

#include "exec.h"
#include "fuzz.h"
#include "fuzz_afl.h"

/* Exit statuses of `cowvm fuzz` (listed in `cowvm --help`). */
enum {
	FZ_OK = 0,	       /* no crash (found or reproduced) */
	FZ_CRASH = 1,	       /* a crash was found or reproduced */
	FZ_TIMEOUT = 2,	       /* --reproduce: the input timed out */
	FZ_USAGE = 120,	       /* bad command line */
	FZ_LOAD = 121,	       /* no KVM, bad ELF, no fuzz harness */
	FZ_INIT_CRASH = 122,   /* the target crashed before its snapshot */
	FZ_INIT_TIMEOUT = 123, /* the target never reached its snapshot */
	FZ_VMM = 124,	       /* VMM error */
	FZ_DIR = 126,	       /* corpus or output folder unusable */
};

#define FZ_DICTS_MAX 16

struct fuzz_cli {
	struct fuzz_opts o;
	const char *reproduce;
	int profile, quiet;
	struct fuzz_afl afl; /* -o's fuzzer_stats and plot_data */
	int afl_warned;
	struct exec_prog prog; /* a Linux target's --kernel, --env... */
	struct cowvm_linux lx;
	const char *lx_argv[2];
	const char *dicts[FZ_DICTS_MAX + 1]; /* -x files, NULL-terminated */
	unsigned ndicts;
	char sync_out[4096]; /* -M/-S: the instance's folder in the -o one */
	const char *corpus[FZ_DICTS_MAX + 1]; /* CORPUS_DIR..., NULL-ended */
	unsigned ncorpus;
	unsigned jobs; /* -j: workers (0 or 1: this thread only) */
	int mem_given; /* --mem was on the command line */
};

/* Check o's -i and create its -o with queue/, crashes/, hangs/ (and the
 * sync folder and is_main_node); 0 or FZ_DIR after one line. */
int fuzz_cli_prepare_dirs(const struct fuzz_opts *o);

/* The exit status for an open or loop failure class. */
int fuzz_cli_status_of(enum fuzz_open_error why);

/* Print one status line for st on stderr, after "fuzz: " and prefix. */
void fuzz_cli_status(const struct fuzz_stats *st, const char *prefix);

/* The final lines of a run: its status line after prefix, then its
 * comparison and dictionary counts, its sync counts when synced, its
 * first crash. */
void fuzz_cli_summary(const struct fuzz_stats *st, const char *prefix,
		      int synced);

/* -j N: run c->jobs workers, cloned from one booted target, as main and
 * secondary instances on the -o sync folder; the exit status. */
int fuzz_cli_jobs(struct fuzz_cli *c);

/* Parse the command line into *c; 0 or FZ_USAGE after one line. */
int fuzz_cli_parse(int argc, char **argv, struct fuzz_cli *c);

/* When the target is a Linux program (a harness of build-harness.sh), set
 * it up to load under the personality kernel; 0 or FZ_LOAD after one
 * line. */
int fuzz_cli_linux(struct fuzz_cli *c);

#endif
