/* `cowvm serve`: the serverless warm-start driver over the public cowvm API
 * (a template booted once, one clone or reset per request) with the kinds
 * of request it serves, the host model that checks every response of the
 * built-in workload, the generated load and the statistics. */
#ifndef SERVE_H
#define SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "cowvm.h"
#include "cowvm_abi.h"
#include "cowvm_serve_abi.h"

#define SERVE_ERR_MAX	  256
#define SERVE_REQ_GEN_MAX 512 /* a buffer for one generated request */
#define SERVE_PROBLEMS	  8   /* problems a batch keeps, first ones */

/* The host's own model of the serve workload (cowvm_serve_abi.h): what a fresh
 * state answers, computed from the table's definition, not from a table. */
struct serve_model {
	uint64_t state_mib, seed, nslots, nkeys;
};

/* serve_model_respond's status for a request that reaches crash. */
#define SERVE_MODEL_CRASH (-1)

/* Set the model up for state_mib (1..65536) and seed; 0 or -EINVAL. */
int serve_model_init(struct serve_model *m, uint64_t state_mib, uint64_t seed);

/* The response a fresh state gives to request data req[0, len): its data
 * into resp (COWVM_SERVE_DATA_MAX bytes), its length into *resp_len;
 * returns the status, or SERVE_MODEL_CRASH. */
int serve_model_respond(const struct serve_model *m, const char *req,
			size_t len, char *resp, size_t *resp_len);

/* Request k of the generated load for m into buf (cap bytes, at least
 * 256); returns its length. Every request aggregates, reads and writes
 * the table, and reads what request k - 1 wrote (it must not see it). */
size_t serve_gen_request(const struct serve_model *m, uint64_t k, char *buf,
			 size_t cap);

/* What the template is booted from. */
struct serve_cfg {
	const char *elf;
	uint64_t state_mib, seed;
	uint64_t mem; /* guest RAM; 0: serve_default_mem */
	enum cowvm_mem_mode mem_mode;
	uint64_t timeout_ms;	 /* per request run, 0 = none */
	const char *guest_extra; /* words appended to the guest's command
				  * line, or NULL */
};

/* Guest RAM that holds the workload's buffers and a state of state_mib. */
uint64_t serve_default_mem(uint64_t state_mib);

/* A booted template: the VM stopped at its COWVM_SERVE_TAG snapshot. */
struct serve_template {
	struct cowvm_config cfg;
	struct cowvm *vm;
	struct cowvm_snapshot *snap;
	int console;	  /* memfd of the guest console, shared by clones */
	double boot_ms;	  /* create + load + init up to the snapshot (or the
			   * open of its file) */
	const char *file; /* the snapshot file it was opened from, or NULL */
};

/* Boot the template of c; 0, or -errno with one line in err (guest exit,
 * fault or timeout during init included, with the guest's last console
 * line). */
int serve_template_boot(const struct serve_cfg *c, struct serve_template *t,
			char *err);

/* Snapshot the booted t->vm as the template, with the per-request time
 * limit timeout_ms that its clones inherit; 0 or -errno with err. */
int serve_template_snapshot(struct serve_template *t, uint64_t timeout_ms,
			    char *err);

/* Open the serve template saved at path (by serve_template_save) with
 * clones limited to c->timeout_ms per run; c->state_mib, c->seed and
 * c->mem are read from it (the guest command line in its RAM, the file's
 * header). 0, or -errno with one line in err (-ENOENT: no such file,
 * -EINVAL: a bad file, or not a serve template's). */
int serve_template_open(const char *path, struct serve_cfg *c,
			struct serve_template *t, char *err);

/* Save t's snapshot to path (cowvm_snapshot_save); 0 or -errno with err. */
int serve_template_save(struct serve_template *t, const char *path, char *err);

/* Release the template's snapshot and VM. */
void serve_template_free(struct serve_template *t);

/* The last non-empty line of what the file fd holds (up to its last 4 KiB
 * are read; a console or a program's stderr memfd) into out ("" if none). */
void serve_fd_tail(int fd, char *out, size_t size);

/* One response as read back from guest memory. */
struct serve_resp {
	int status; /* the guest's exit status = the response's status */
	uint32_t len;
	char data[COWVM_SERVE_DATA_MAX + 1]; /* NUL-terminated */
};

/* Write request data req[0, len) into vm (at the template point), run it
 * to its exit and read the response; 0, -EIO when the guest did not exit
 * cleanly with a well-formed response, or another -errno; err says why. */
int serve_vm_request(struct cowvm *vm, const char *req, size_t len,
		     struct serve_resp *r, char *err);

/* Whether r is what m predicts for req; 1 if so, else 0 with err set. */
int serve_check(const struct serve_model *m, const char *req, size_t len,
		const struct serve_resp *r, char *err);

/* What serving one request on a VM came to. */
struct serve_outcome {
	int ret;	  /* 0: the VM answered; -errno: no answer (failed) */
	int status;	  /* the answer's status */
	int failed;	  /* answered, but not OK (a Linux program's exit
			   * status was not 0) */
	int mismatched;	  /* answered, and the check disagreed */
	const char *data; /* the answer, valid until the worker's next one */
	size_t len;
	char msg[SERVE_ERR_MAX]; /* why, for ret, failed or mismatched */
};

/* A kind of request served on a template's VMs: the built-in workload
 * checked against the model (serve_model_handler), or a Linux program
 * (serve_linux.h). Every function may run on several threads at once,
 * each with its own worker state. */
struct serve_handler {
	const void *ctx;
	/* A worker's state, or NULL with one line in err. */
	void *(*worker_new)(const void *ctx, char *err);
	void (*worker_free)(void *w);
	/* Request k (0-based) of the generated load into buf (cap bytes,
	 * SERVE_REQ_GEN_MAX); its length. */
	size_t (*gen)(const void *ctx, uint64_t k, char *buf, size_t cap);
	/* Serve req[0, len) on vm, stopped at the template point: fill o
	 * (zeroed by the caller). This part is timed. */
	void (*serve)(const void *ctx, void *w, struct cowvm *vm,
		      const char *req, size_t len, struct serve_outcome *o);
	/* Check an answer (o->ret == 0) of req: set o->mismatched and
	 * o->msg when it is wrong; untimed. NULL: no check. */
	void (*check)(const void *ctx, void *w, const char *req, size_t len,
		      struct serve_outcome *o);
};

/* The handler of the built-in serve workload, checked against m (which
 * must outlive h). */
void serve_model_handler(const struct serve_model *m, struct serve_handler *h);

enum serve_mode {
	SERVE_CLONE, /* a new clone of the template per request, destroyed */
	SERVE_RESET, /* one clone per worker, reset to the template after
		      * each request; made ahead and warmed before the first */
	SERVE_SPARE, /* as SERVE_CLONE, with the template keeping a destroyed
		      * clone per worker as a spare (cowvm_snapshot_keep),
		      * the first ones made ahead and warmed */
	SERVE_AHEAD, /* as SERVE_SPARE, with a clone per worker made ahead
		      * and refilled in the background (cowvm_snapshot_ahead),
		      * room for as many in flight */
};

/* Whether mode keeps destroyed clones as spares. */
static inline int serve_mode_spares(enum serve_mode mode)
{
	return mode == SERVE_SPARE || mode == SERVE_AHEAD;
}

/* The name of mode: "clone", "reset", "spare" or "ahead". */
const char *serve_mode_name(enum serve_mode mode);

/* A batch of requests to serve: given ones, or generated ones. */
struct serve_batch {
	enum serve_mode mode;
	unsigned concurrency;	 /* worker threads, each with its own VM */
	uint64_t n;		 /* requests */
	const char *const *reqs; /* NULL: the handler's generated ones */
	const size_t *lens;
	char **responses;      /* if not NULL: each response's data (malloc'ed,
				* NUL-terminated), "failed: WHY" for a failed
				* request (no answer, or not OK) */
	size_t *response_lens; /* if not NULL: each response's length */
	int *statuses;	       /* if not NULL: each status, -errno if
				* there was no answer */
	unsigned processes;    /* > 1: that many worker processes, each
				* opening t's snapshot saved to a file
				* (serve_procs.c) and running concurrency
				* threads; else threads of this process */
	/* The load's numbering: batch request k is request first + k *
	 * stride of the load (stride 0: 1), for generated requests and for
	 * the numbers in problems. */
	uint64_t first, stride;
	/* If not NULL: called once every thread is set up, before the
	 * first request; the clock starts when it returns. */
	void (*ready)(void *arg);
	void *ready_arg;
};

/* The number in the load of batch request k. */
static inline uint64_t serve_batch_index(const struct serve_batch *b,
					 uint64_t k)
{
	return b->first + k * (b->stride ? b->stride : 1);
}

/* What serving a batch measured. */
struct serve_stats {
	uint64_t ok, failed, mismatched; /* failed: no answer, or one that
					  * is not OK; a request can be
					  * failed and mismatched */
	double seconds;			 /* first request to last */
	double *lat_us;			 /* n latencies (malloc'ed) */
	char first_error[SERVE_ERR_MAX];
	uint64_t nproblems;			      /* requests not ok */
	char problems[SERVE_PROBLEMS][SERVE_ERR_MAX]; /* the first ones,
						       * "request K: WHY" */
};

/* Serve b on t's snapshot, checking each response against m (a request
 * whose guest faults counts as failed, not as an error); 0, or -errno
 * when the batch could not run (err says why). Free s->lat_us. */
int serve_batch_run(struct serve_template *t, const struct serve_model *m,
		    const struct serve_batch *b, struct serve_stats *s,
		    char *err);

/* serve_batch_run for any handler h (b->processes > 1:
 * serve_batch_procs). */
int serve_batch_serve(struct serve_template *t, const struct serve_handler *h,
		      const struct serve_batch *b, struct serve_stats *s,
		      char *err);

/* Serve b in b->processes worker processes forked from this one (each
 * inherits h): t's snapshot is saved to a file in COWVM_SERVE_DIR
 * (default /dev/shm, else $TMPDIR or /tmp), removed once opened; each
 * worker opens it (its clones share the file's pages through the page
 * cache) and serves requests w, w + P, w + 2P, ... with b->concurrency
 * threads; responses, statuses and latencies come back over a socket.
 * s->seconds runs from the start signal to the last worker's last
 * request. 0 or -errno with err (a worker that failed or died). */
int serve_batch_procs(struct serve_template *t, const struct serve_handler *h,
		      const struct serve_batch *b, struct serve_stats *s,
		      char *err);

/* Memory per live clone: K clones each having served one generated
 * request, alive at once. */
struct serve_mem {
	unsigned k;
	double host_kib;    /* serve_proc_kib(0, 0) delta / K */
	double private_kib; /* cowvm_mem_stats pages_private * 4 KiB avg */
	double table_kib;   /* cowvm_mem_stats table_private_bytes avg */
	double idle_kib;    /* SERVE_RESET: host_kib after every reset;
			     * SERVE_SPARE: with all k destroyed into
			     * spares; else -1 */
};

/* Measure serve_mem with k live clones in mode; the pool is stopped
 * meanwhile, so each VM's own creation counts too. 0 or -errno with
 * err. */
int serve_measure_mem(struct serve_template *t, const struct serve_model *m,
		      enum serve_mode mode, unsigned k, struct serve_mem *out,
		      char *err);

/* serve_measure_mem for any handler h: each clone serves one generated
 * request, which must be answered OK and pass h's check. */
int serve_measure_handler_mem(struct serve_template *t,
			      const struct serve_handler *h,
			      enum serve_mode mode, unsigned k,
			      struct serve_mem *out, char *err);

/* Host memory in KiB, -1 if unreadable: for pid 0 this process's
 * Anonymous + VmPTE plus the blocks of its open memfds (guest pages live
 * in cowvm's frame memfd, whose freed frames stay allocated for reuse);
 * for another pid its Anonymous (private_only: Private_Dirty +
 * Private_Clean) + VmPTE. Compare deltas only. */
long serve_proc_kib(int pid, int private_only);

/* Percentile p (0..100) of n samples by nearest rank; sorts v. */
double serve_percentile(double *v, size_t n, double p);

/* Median of n doubles; sorts v. */
double serve_median(double *v, size_t n);

/* Microseconds on the monotonic clock. */
double serve_now_us(void);

#endif
