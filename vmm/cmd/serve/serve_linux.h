/* `cowvm serve --exec`: a static Linux program as the request runtime (its
 * template stopped at its first read of stdin, each request its stdin, the
 * response its stdout), the generated requests for it and the native runs
 * that check its answers. */
#ifndef SERVE_LINUX_H
#define SERVE_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "cowvm.h"
#include "serve.h"

/* What the Linux template is booted from and how requests are served. */
struct serve_linux_cfg {
	const char *kernel;	 /* the personality kernel ELF */
	const char *program;	 /* host path of the executable */
	const char *const *argv; /* PROGRAM ARGS..., NULL-terminated */
	const char *const *envp; /* NULL-terminated (none: {NULL}) */
	const struct cowvm_linux_path *files;
	unsigned nr_files;
	unsigned flags; /* more COWVM_LINUX_* (STRACE) */
	uint64_t mem;	/* guest RAM; 0: 256 MiB */
	enum cowvm_mem_mode mem_mode;
	uint64_t timeout_ms; /* per request run, 0 = none */
	uint64_t seed;	     /* of the generated requests */
	int check;	     /* run every request natively too */
};

/* A booted Linux runtime: what its handler needs besides the template. */
struct serve_linux {
	const struct serve_linux_cfg *cfg;
	char *init_out;	 /* what it wrote to stdout before reading stdin */
	size_t init_len; /* (a prefix of every response) */
	int load_err;	 /* after a failed boot: cowvm_load_linux's errno
			  * when it refused the program, else 0 */
};

/* Boot c's program up to its first read of stdin and snapshot it there
 * (t->snap); 0, or -errno with one line in err: -EIO when the program
 * ended or stopped before that read, lx->load_err set when it could not
 * be loaded. lx keeps c. */
int serve_linux_boot(const struct serve_linux_cfg *c, struct serve_template *t,
		     struct serve_linux *lx, char *err);

/* Release what serve_linux_boot kept in lx (not the template). */
void serve_linux_free(struct serve_linux *lx);

/* The handler serving lx's program: stdin = the request, response = its
 * stdout (after init_out), OK when it exits 0, checked against a native
 * run when lx->cfg->check. */
void serve_linux_handler(const struct serve_linux *lx, struct serve_handler *h);

/* Request k (0-based; K = k + 1) of the generated load for seed into buf
 * (cap bytes, at least 256): the line "K", then one to three lines of two
 * to eight tokens, each a word of a fixed list of sixteen (alpha ..
 * papa) or a number below 1000, drawn from splitmix64 of seed and K.
 * Returns its length. */
size_t serve_linux_gen_request(uint64_t seed, uint64_t k, char *buf,
			       size_t cap);

/* A native run's outcome. */
struct serve_native {
	int status;    /* exit status, or 128 + N after signal N */
	int signaled;  /* it died of a signal */
	int timed_out; /* killed at the time limit */
};

/* Run c's program natively (posix_spawn, c's argv and envp only, the
 * signal mask and dispositions at their defaults, no descriptor but 0, 1,
 * 2) on descriptors in (read from offset 0), out and err; wait up to
 * timeout_ms (0: forever), then kill it. 0, or -errno with err. */
int serve_native_run(const struct serve_linux_cfg *c, int in, int out, int err,
		     uint64_t timeout_ms, struct serve_native *n, char *why);

#endif
