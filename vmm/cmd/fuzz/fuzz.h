/* cowvm fuzz: a snapshot fuzzer over the public cowvm API (engine, havoc
 * mutator and the `cowvm fuzz` command). */
#ifndef VMM_FUZZ_H
#define VMM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "cowvm.h"

#define FUZZ_MAX_LEN   4096u /* longest input the mutator makes */
#define FUZZ_SEED_LEN  16u   /* the built-in seed: 16 zero bytes */
#define FUZZ_MAX_SAVED 64u   /* crash and timeout files kept per kind */

/* xoshiro256** state; fuzz_rng_seed derives it from one 64-bit seed. */
struct fuzz_rng {
	uint64_t s[4];
};

/* Seed r from seed through splitmix64. */
void fuzz_rng_seed(struct fuzz_rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t fuzz_rng_next(struct fuzz_rng *r);
/* A uniform value in [0, n) (n > 0). */
uint64_t fuzz_rng_below(struct fuzz_rng *r, uint64_t n);

/* Apply a stack of AFL-style havoc mutations to buf[0..*len) in place
 * (capacity max >= 1; *len stays in 1..max). */
void fuzz_havoc(struct fuzz_rng *r, uint8_t *buf, size_t *len, size_t max);
/* Splice: the head of a up to a random point where a and b differ, then the
 * rest of b, into out (capacity max); returns the new length, 0 when the
 * two inputs are too alike to splice. */
size_t fuzz_splice(struct fuzz_rng *r, const uint8_t *a, size_t alen,
		   const uint8_t *b, size_t blen, uint8_t *out, size_t max);

/* Map the hit counters mem[0..n) to AFL's buckets (1, 2, 3, 4-7, 8-15,
 * 16-31, 32-127, 128+ become one bit each) in place. */
void fuzz_classify(uint8_t *mem, size_t n);
/* Merge the classified trace into virgin (bits seen so far); returns 2 when
 * an edge was hit for the first time, 1 when only a new bucket, else 0.
 * *edges is increased by the number of new edges. */
int fuzz_merge(uint8_t *virgin, const uint8_t *trace, size_t n,
	       uint32_t *edges);

enum fuzz_outcome {
	FUZZ_OK,      /* the target returned 0 */
	FUZZ_CRASH,   /* exception, nonzero return, abort hook, shutdown */
	FUZZ_TIMEOUT, /* no exit within the per-run timeout */
};

/* What one input did. */
struct fuzz_result {
	enum fuzz_outcome outcome;
	char what[200]; /* one line for crashes and timeouts */
	uint64_t sig;	/* crash signature: kind, vector and rip */
	int reject;	/* FUZZ_OK, but the target asked to keep it out of the
			 * corpus (libFuzzer's -1) */
};

/* Accumulated time per phase of an exec, nanoseconds. */
struct fuzz_prof {
	uint64_t write_ns, run_ns, map_ns, reset_ns, mutate_ns, execs;
};

struct fuzz_opts {
	const char *elf; /* NULL with from */
	/* from: fuzz the harness snapshot saved in this snapshot file instead
	 * of booting elf; save: save the booted harness snapshot there. */
	const char *from, *save;
	const char *in_dir; /* NULL: the built-in seed */
	/* libFuzzer's corpus folders (NULL-terminated, or NULL): seeds too,
	 * and the first gets every new entry as HASH; artifact_prefix: each
	 * saved crash or timeout also as PREFIXcrash-HASH, PREFIXtimeout-HASH
	 */
	const char *const *corpus_dirs;
	const char *artifact_prefix;
	const char *out_dir; /* NULL: keep nothing on disk */
	/* AFL++-style parallel runs: out_dir is sync_dir/sync_name; a main
	 * instance (sync_main, -M) imports every other instance's queue, a
	 * secondary (-S) only main instances' ones, every sync_s seconds. */
	const char *sync_dir, *sync_name;
	int sync_main;
	double sync_s;
	uint64_t seed, runs; /* runs 0: no limit */
	double seconds;	     /* 0: no limit */
	uint64_t timeout_ms, mem;
	/* The target is this Linux program (a libFuzzer-style harness built
	 * with scripts/build-harness.sh), elf its path; NULL: a cowvm guest
	 * ELF (scripts/build-target.sh). */
	const struct cowvm_linux *linux;
	int show_output; /* a Linux target's stdout and stderr are ours */
	int no_coverage; /* never add inputs to the corpus */
	int raw_map;	 /* fuzz_trace keeps the hit counts (no buckets) */
	int no_cmp;	 /* no comparison feedback (log, auto dictionary) */
	const char *const *dicts; /* NULL-terminated -x files, or NULL */
	int stop_on_crash;
	/* Set to stop every worker sharing it (-j); nonzero with
	 * stop_on_crash at a worker's first crash. NULL: none. */
	_Atomic int *stop;
};

struct fuzz_stats {
	uint64_t runs, crashes, timeouts, corpus;
	uint32_t edges, guards;
	uint64_t crashes_saved, timeouts_saved;
	double elapsed_s;
	uint64_t first_crash_run; /* 0: none yet */
	double first_crash_s;
	char first_crash[200];
	uint64_t cmp_logged, cmp_tried; /* comparisons logged, candidates run */
	uint32_t dict_tokens;		/* -x and automatic tokens */
	uint64_t imported, import_runs; /* sync: inputs kept, inputs run */
	struct fuzz_prof prof;
};

struct fuzz;

/* Why fuzz_open failed, for the command's exit status. */
enum fuzz_open_error {
	FUZZ_ERR_NONE,
	FUZZ_ERR_LOAD,	  /* no VM, unreadable or bad ELF */
	FUZZ_ERR_HARNESS, /* the ELF does not reach the fuzz snapshot */
	FUZZ_ERR_INIT_CRASH,
	FUZZ_ERR_INIT_TIMEOUT,
	FUZZ_ERR_VMM,
	FUZZ_ERR_DIR, /* corpus or output folder */
};

/* Boot o->elf, run it to the harness snapshot and take it; NULL with a
 * one-line reason in err and the class in *why on failure. */
struct fuzz *fuzz_open(const struct fuzz_opts *o, char *err, size_t errlen,
		       enum fuzz_open_error *why);
/* A worker for o (another seed, output folder...) fuzzing parent's
 * target from parent's snapshot, in a clone; NULL with err. Parent must
 * outlive it. */
struct fuzz *fuzz_open_clone(struct fuzz *parent, const struct fuzz_opts *o,
			     char *err, size_t errlen);
/* Run one input from the snapshot and reset; 0 or -errno (err filled). */
int fuzz_exec(struct fuzz *f, const uint8_t *data, size_t len,
	      struct fuzz_result *res, char *err, size_t errlen);
/* Load the seeds (in_dir or the built-in one), run them, then fuzz until
 * the run or time budget is spent (or the first crash with stop_on_crash);
 * tick(stats, arg) is called about once a second. 0 or -errno. */
int fuzz_loop(struct fuzz *f, void (*tick)(const struct fuzz_stats *, void *),
	      void *arg, char *err, size_t errlen, enum fuzz_open_error *why);
/* The last run's coverage map: hit counts of guards 0..*len-1, in AFL's
 * buckets unless raw_map. */
const uint8_t *fuzz_trace(const struct fuzz *f, size_t *len);
/* Change the per-input timeout; 0 or -errno. */
int fuzz_set_timeout(struct fuzz *f, uint64_t timeout_ms);
/* The statistics so far. */
const struct fuzz_stats *fuzz_stats(const struct fuzz *f);
/* Destroy the VM and free everything. NULL is ignored. */
void fuzz_close(struct fuzz *f);

/* `cowvm fuzz ...` (argv[0] is "fuzz"): the process exit status. */
int fuzz_main(int argc, char **argv);
/* The help of `cowvm fuzz`: options and exit statuses. */
extern const char fuzz_help_text[];

#endif
