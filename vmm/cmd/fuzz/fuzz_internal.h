/* The fuzz engine's state and the steps its files share (fuzz.c boots and
 * runs, fuzz_corpus.c keeps inputs and writes results, fuzz_loop.c picks
 * and mutates); private to vmm/cmd/fuzz/. */
#ifndef VMM_FUZZ_INTERNAL_H
#define VMM_FUZZ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fuzz.h"

#define FUZZ_SWEEP_MAX 64 /* entries up to this long get the byte sweep */

/* One corpus entry. */
struct fuzz_entry {
	uint8_t *data;
	size_t len;
	uint64_t picked; /* times chosen for fuzzing */
};

struct fuzz {
	struct fuzz_opts o;
	struct cowvm *vm;
	struct cowvm_snapshot *snap;
	uint32_t guards;
	size_t map_len; /* bytes of the map read per run: guards + 1 */
	uint8_t *trace, *virgin;
	uint8_t *inbuf; /* struct cowvm_fuzz_input + data, as written */
	uint8_t *work;	/* the input being mutated */
	struct fuzz_entry *queue;
	size_t nqueue, cap;
	size_t frontier; /* the newest entry that reached a new edge */
	size_t sweep;	 /* entry under the byte sweep, SIZE_MAX: none */
	size_t sweep_pos, sweep_k;
	uint64_t *sigs; /* crash signatures saved */
	struct fuzz_rng rng;
	struct fuzz_stats st;
	struct timespec start;
};

/* Nanoseconds on the monotonic clock. */
uint64_t fuzz_now_ns(void);

/* Seconds since f started. */
double fuzz_elapsed(const struct fuzz *f);

/* Format one line into err; returns -e (e > 0). */
int fuzz_fail(char *err, size_t errlen, int e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Add an input to the corpus (and out/queue, its name "id:N,HOW"); 0 or
 * -errno (err filled). */
int fuzz_add_entry(struct fuzz *f, const uint8_t *data, size_t len,
		   const char *how, char *err, size_t errlen);

/* Run one input and act on the result: count, save crashes and timeouts,
 * keep it in the corpus if it found coverage, or always when seed is set
 * (how names its origin). Returns 1 on a crash, 0 otherwise, -errno on
 * failure. */
int fuzz_try_input(struct fuzz *f, const uint8_t *data, size_t len,
		   const char *how, int seed, char *err, size_t errlen);

/* Run the seeds: every regular file of in_dir in name order, or the
 * built-in seed; 1 if one crashed, 0, or -errno (*why FUZZ_ERR_DIR when
 * the corpus folder is unreadable). */
int fuzz_run_seeds(struct fuzz *f, char *err, size_t errlen,
		   enum fuzz_open_error *why);

#endif
