/* The fuzz engine's state and the steps its files share (fuzz.c boots and
 * runs, fuzz_corpus.c keeps inputs and writes results, fuzz_loop.c picks
 * and mutates); private to vmm/cmd/fuzz/. */
#ifndef VMM_FUZZ_INTERNAL_H
#define VMM_FUZZ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cowvm_fuzz_abi.h"
#include "fuzz.h"
#include "fuzz_dict.h"

#define FUZZ_SWEEP_MAX 64 /* entries up to this long get the byte sweep */

#define FUZZ_CMP_CANDS 2048 /* input-to-state candidates per entry */

/* One corpus entry. */
struct fuzz_entry {
	uint8_t *data;
	size_t len;
	uint64_t picked; /* times chosen for fuzzing */
	int cmp_done;	 /* its comparison stage ran */
};

/* Another instance on the sync folder and the next of its queue ids to
 * import. */
struct fuzz_peer {
	char name[256];
	unsigned long next_id;
};

/* One input-to-state candidate: input[pos..pos+from) becomes to[0..len). */
struct fuzz_cmp_cand {
	uint32_t pos;
	uint8_t from, len;
	uint8_t to[COWVM_FUZZ_CMP_BYTES];
};

struct fuzz {
	struct fuzz_opts o;
	struct cowvm *vm;
	struct cowvm_snapshot *snap;
	uint32_t guards;
	struct cowvm_fuzz_ctl ctl; /* as the harness set it */
	uint64_t ctl_gpa, map_gpa, input_gpa, cmp_gpa; /* the harness's areas */
	uint64_t in_flags;	    /* COWVM_FUZZ_IN_* of the next run */
	struct fuzz_sym *sym;	    /* the target's functions, or NULL */
	struct fuzz_dict dict;	    /* -x files */
	struct fuzz_dict auto_dict; /* the target's comparison operands */
	struct cowvm_fuzz_cmp_log *cmplog; /* the last log read */
	struct fuzz_cmp_cand *plan;	   /* candidates of one entry */
	size_t nplan;
	struct fuzz_peer *peers; /* other instances on the sync folder */
	size_t npeers;
	double next_sync; /* elapsed seconds of the next import */
	size_t map_len;	  /* bytes of the map read per run: guards + 1 */
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

/* The short name of exception vector v, "" if none. */
const char *fuzz_vector_name(uint64_t v);

/* The name of Linux signal n, "" if not a common one. */
const char *fuzz_signal_name(int n);

/* Describe a finished run in res (outcome, reason, signature); 0, or -EIO
 * for exits that mean the VMM or the harness broke (detail in err). */
int fuzz_classify_exit(struct fuzz *f, const struct cowvm_exit *e,
		       struct fuzz_result *res, char *err, size_t errlen);

/* Run entry cur once with the comparison log on, add its operands to
 * the automatic dictionary and plan its input-to-state candidates; their
 * number, or -errno (err filled). */
int fuzz_cmp_plan(struct fuzz *f, size_t cur, char *err, size_t errlen);

/* Candidate i of the plan applied to entry cur, into out (capacity
 * FUZZ_MAX_LEN); its length. */
size_t fuzz_cmp_apply(const struct fuzz *f, size_t cur, size_t i, uint8_t *out);

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

/* Read a whole file of at most max bytes into buf; its length or -errno. */
ssize_t fuzz_read_file(const char *path, uint8_t *buf, size_t max);

/* Import what other instances on the sync folder (-M/-S) queued since the
 * last call: run each new input once, keep it when it reaches new
 * coverage; 1 if one crashed, 0, or -errno (err filled). */
int fuzz_sync(struct fuzz *f, char *err, size_t errlen);

/* Run the seeds: every regular file of in_dir in name order, or the
 * built-in seed; 1 if one crashed, 0, or -errno (*why FUZZ_ERR_DIR when
 * the corpus folder is unreadable). */
int fuzz_run_seeds(struct fuzz *f, char *err, size_t errlen,
		   enum fuzz_open_error *why);

#endif
