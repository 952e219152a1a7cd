/* The `cowvm bench` subcommand: clone latency for the user's own workload,
 * and how its figures are reported. */
#ifndef VMM_CMD_BENCH_H
#define VMM_CMD_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "cowvm.h"

/* Its section of cowvm --help: options, output and exit statuses. */
extern const char bench_help_text[];

/* cowvm bench ... (argv[0] is "bench"); one of bench_help_text's statuses. */
int bench_main(int argc, char **argv);

/* What is timed, each count times. */
enum bench_op {
	BENCH_SNAPSHOT,	 /* cowvm_snapshot of the template */
	BENCH_CLONE,	 /* cowvm_clone, the pool warm */
	BENCH_FIRST_RUN, /* a new clone's run to its next stop */
	BENCH_FORK,	 /* cowvm_fork of the template */
	BENCH_RESET,	 /* cowvm_reset of a clone that ran */
	BENCH_RESET_RUN, /* its run to the next stop after the reset */
	BENCH_HOST_FORK, /* host fork() of a process that touched as much */
	BENCH_NOPS
};

/* The figures of one bench run; latencies in microseconds. */
struct bench_result {
	const char *guest;
	uint64_t mem, touched; /* guest RAM; bytes the template touched */
	unsigned count;
	double first_snapshot_us;
	double *lat[BENCH_NOPS]; /* count values each (sorted by the report) */
	unsigned n[BENCH_NOPS];
	uint64_t clone_pages, clone_table_bytes; /* medians after a first run */
};

/* Time every operation of bench_op count times on clones of tmpl (booted
 * with cfg and stopped at its first snapshot request) into *r, which holds
 * the latency arrays allocated here; 0, or -1 after one line on stderr. */
int bench_measure(const struct cowvm_config *cfg, struct cowvm *tmpl,
		  const char *guest, unsigned count, struct bench_result *r);

/* bench --fork-helper BYTES N: touch BYTES of anonymous memory, then time
 * N fork()s of this process (children _exit at once), each written to
 * stdout as a double; the exit status. */
int bench_fork_helper(uint64_t bytes, unsigned n);

/* Spawn this program as the fork helper (so that the process forked holds
 * nothing else) touching touched bytes, and read its n timings into
 * lat[0, n); 0, or -1 after one line on stderr. */
int bench_host_fork(uint64_t touched, double *lat, unsigned n);

/* Print r as a table to f. */
void bench_print_table(FILE *f, struct bench_result *r);

/* Print r as one JSON object to f. */
void bench_print_json(FILE *f, struct bench_result *r);

#endif
