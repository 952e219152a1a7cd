/* AFL++'s status files in `cowvm fuzz`'s output folder: fuzzer_stats (the
 * fields afl-whatsup reads), rewritten whole at every tick, and plot_data
 * (the columns afl-plot draws), one line appended per tick. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_afl.h"

/* Start tracking a run writing into dir (NULL: write nothing). */
void fuzz_afl_init(struct fuzz_afl *a, const char *dir, const char *target,
		   uint64_t timeout_ms)
{
	memset(a, 0, sizeof(*a));
	a->dir = dir;
	a->target = target;
	a->timeout_ms = timeout_ms;
	a->start = time(NULL);
}

/* Note the events since the previous tick: the times of the last find,
 * crash and hang (to the tick: a second here). */
static void afl_track(struct fuzz_afl *a, const struct fuzz_stats *st,
		      time_t now)
{
	if (st->corpus > a->corpus)
		a->last_find = now;
	if (st->crashes_saved > a->crashes) {
		a->last_crash = now;
		a->runs_at_crash = st->runs;
	}
	if (st->timeouts_saved > a->hangs)
		a->last_hang = now;
	a->corpus = st->corpus;
	a->crashes = st->crashes_saved;
	a->hangs = st->timeouts_saved;
}

/* Write fuzzer_stats as dir/.fuzzer_stats.tmp, then rename it: readers
 * never see half a file. 0 or -errno. */
static int afl_write_stats(const struct fuzz_afl *a,
			   const struct fuzz_stats *st, time_t now)
{
	char tmp[4096], path[4096];
	double eps = st->elapsed_s > 0 ? (double)st->runs / st->elapsed_s : 0;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.fuzzer_stats.tmp", a->dir);
	snprintf(path, sizeof(path), "%s/fuzzer_stats", a->dir);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"start_time        : %lld\nlast_update       : %lld\n"
		"run_time          : %lld\nfuzzer_pid        : %d\n"
		"cycles_done       : 0\ncycles_wo_finds   : 0\n"
		"execs_done        : %llu\nexecs_per_sec     : %.2f\n"
		"corpus_count      : %llu\ncorpus_favored    : 0\n"
		"corpus_found      : %llu\ncorpus_imported   : 0\n"
		"max_depth         : 1\ncur_item          : 0\n"
		"pending_favs      : 0\npending_total     : 0\n"
		"stability         : 100.00%%\nbitmap_cvg        : %.2f%%\n"
		"saved_crashes     : %llu\nsaved_hangs       : %llu\n"
		"last_find         : %lld\nlast_crash        : %lld\n"
		"last_hang         : %lld\nexecs_since_crash : %llu\n"
		"exec_timeout      : %llu\nedges_found       : %u\n"
		"total_edges       : %u\nafl_banner        : %s\n"
		"afl_version       : cowvm-" COWVM_RELEASE "\n"
		"target_mode       : cowvm snapshot\n"
		"command_line      : cowvm fuzz %s\n",
		(long long)a->start, (long long)now,
		(long long)(now - a->start), (int)getpid(),
		(unsigned long long)st->runs, eps,
		(unsigned long long)(st->corpus ? st->corpus : 1),
		(unsigned long long)st->corpus,
		st->guards ? 100.0 * st->edges / st->guards : 0.0,
		(unsigned long long)st->crashes_saved,
		(unsigned long long)st->timeouts_saved, (long long)a->last_find,
		(long long)a->last_crash, (long long)a->last_hang,
		(unsigned long long)(st->runs - a->runs_at_crash),
		(unsigned long long)a->timeout_ms, st->edges, st->guards,
		a->target, a->target);
	if (fclose(f) || rename(tmp, path))
		return -errno;
	return 0;
}

/* Append one plot_data line (and the header before the first). */
static int afl_write_plot(struct fuzz_afl *a, const struct fuzz_stats *st,
			  time_t now)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/plot_data", a->dir);
	f = fopen(path, a->plotted ? "a" : "w");
	if (!f)
		return -errno;
	if (!a->plotted)
		fputs("# relative_time, cycles_done, cur_item, corpus_count, "
		      "pending_total, pending_favs, map_size, saved_crashes, "
		      "saved_hangs, max_depth, execs_per_sec, total_execs, "
		      "edges_found\n",
		      f);
	a->plotted = 1;
	fprintf(f,
		"%lld, 0, 0, %llu, 0, 0, %.2f%%, %llu, %llu, 1, %.2f, %llu, "
		"%u\n",
		(long long)(now - a->start),
		(unsigned long long)(st->corpus ? st->corpus : 1),
		st->guards ? 100.0 * st->edges / st->guards : 0.0,
		(unsigned long long)st->crashes_saved,
		(unsigned long long)st->timeouts_saved,
		st->elapsed_s > 0 ? (double)st->runs / st->elapsed_s : 0.0,
		(unsigned long long)st->runs, st->edges);
	return fclose(f) ? -errno : 0;
}

/* Track st and rewrite both files; 0 or -errno (nothing when no dir). */
int fuzz_afl_tick(struct fuzz_afl *a, const struct fuzz_stats *st)
{
	time_t now = time(NULL);
	int err;

	if (!a->dir)
		return 0;
	afl_track(a, st, now);
	err = afl_write_stats(a, st, now);
	return err ? err : afl_write_plot(a, st, now);
}
