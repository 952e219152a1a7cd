/* AFL++'s status files (fuzzer_stats, plot_data) for `cowvm fuzz`. */
#ifndef COWVM_FUZZ_AFL_H
#define COWVM_FUZZ_AFL_H

#include <stdint.h>
#include <time.h>

#include "fuzz.h"

struct fuzz_afl {
	const char *dir;    /* the output folder; NULL: no files */
	const char *target; /* the target's path, for afl_banner */
	uint64_t timeout_ms;
	time_t start, last_find, last_crash, last_hang; /* 0: never */
	uint64_t corpus, crashes, hangs, runs_at_crash; /* at the last tick */
	int plotted; /* plot_data has its header */
};

/* Start tracking a run writing into dir (NULL: write nothing). */
void fuzz_afl_init(struct fuzz_afl *a, const char *dir, const char *target,
		   uint64_t timeout_ms);
/* Track st and rewrite dir/fuzzer_stats, append to dir/plot_data; 0 or
 * -errno. Call about once a second and once at the end. */
int fuzz_afl_tick(struct fuzz_afl *a, const struct fuzz_stats *st);

#endif
