/* `cowvm serve`'s parsed command line, exit statuses and output helpers,
 * shared by its driver (serve.c) and its Linux-program mode
 * (serve_exec.c). */
#ifndef SERVE_OPTS_H
#define SERVE_OPTS_H

#include <stdint.h>
#include <stdio.h>

#include "exec.h"
#include "serve.h"

enum {
	SERVE_EXIT_OK = 0,
	SERVE_EXIT_REQUESTS = 1, /* a request failed or mismatched */
	SERVE_EXIT_USAGE = 120,
	SERVE_EXIT_LOAD = 121,
	SERVE_EXIT_INIT = 122, /* the guest exited or crashed during init */
	SERVE_EXIT_VMM = 124,
	SERVE_EXIT_NOEXEC = 126, /* --exec: PROGRAM cannot run */
	SERVE_EXIT_NOENT = 127,	 /* --exec: PROGRAM not found */
};

struct serve_opts {
	struct serve_cfg cfg;
	enum serve_mode mode;
	unsigned concurrency;
	unsigned workers;      /* worker processes (--workers), 1: this one */
	const char *from;      /* --from FILE: the template saved there */
	const char *save;      /* --save-snapshot FILE */
	const char *boot_only; /* the first option --from excludes */
	uint64_t requests;     /* 0: stdin */
	long live;	       /* -1: default */
	double timeout_s;
	/* --exec: a Linux program serves the requests. */
	int exec, check;
	unsigned linux_flags;	   /* COWVM_LINUX_STRACE with --strace */
	struct exec_prog prog;	   /* --env, --file, --dir, --kernel */
	char **argv;		   /* PROGRAM ARGS..., NULL-terminated */
	const char *exec_only;	   /* the first --exec option seen */
	const char *workload_only; /* the first built-in workload option */
};

/* Read stdin's lines into b as requests (without their newlines, or with
 * keep_newline each ending in one); 0 or -1 with errno. */
int serve_cmd_read_stdin(struct serve_batch *b, int keep_newline);

/* Free b's requests, responses and statuses. */
void serve_cmd_free_batch(struct serve_batch *b);

/* Print the summary table of s (n requests) and, if measured, the memory
 * per live clone, to f. */
void serve_cmd_table(FILE *f, const struct serve_opts *o,
		     const struct serve_stats *s, uint64_t n,
		     const struct serve_mem *mem);

/* Serve with --exec (serve_exec.c); the command's exit status. */
int serve_exec_run(struct serve_opts *o);

#endif
