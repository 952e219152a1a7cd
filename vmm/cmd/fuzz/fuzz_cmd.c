/* `cowvm fuzz`: parse options, prepare the corpus folders, run the fuzz
 * engine or reproduce one input, print status lines and pick the exit
 * status. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "cowvm_abi.h"
#include "cowvm_fuzz_abi.h"
#include "cli.h"
#include "exec.h"
#include "fuzz.h"
#include "fuzz_afl.h"
#include "fuzz_cli.h"

/* What `cowvm fuzz --help` (and `cowvm --help`) print. */
const char fuzz_help_text[] =
	"\n"
	"cowvm fuzz runs a snapshot fuzzer on TARGET: a libFuzzer-style\n"
	"harness (LLVMFuzzerTestOneInput) built as a static Linux program\n"
	"with scripts/build-harness.sh, or a cowvm guest target built with\n"
	"scripts/build-target.sh (see fuzz/README.md). It boots the target,\n"
	"snapshots it after its init (LLVMFuzzerInitialize or\n"
	"cowvm_target_init) and runs every input from that snapshot, keeping\n"
	"inputs that reach new edges; the target's comparisons (trace-cmp,\n"
	"memcmp, strcmp) solve magic values.\n"
	"  -i DIR             seed corpus (default: one built-in seed)\n"
	"  -o DIR             results: DIR/queue, DIR/crashes and\n"
	"                     DIR/hangs, each input with a .txt reason;\n"
	"                     DIR/fuzzer_stats and DIR/plot_data as AFL++\n"
	"                     writes them (afl-whatsup DIR reads them)\n"
	"  -M NAME, -S NAME   AFL++-style parallel run: this instance writes\n"
	"                     into -o's NAME/ and imports the other\n"
	"                     instances' queues there (cowvm or afl-fuzz;\n"
	"                     -S: only main ones) every --sync-seconds S\n"
	"                     (default 10)\n"
	"  --artifact-prefix P  also save each crash and timeout as\n"
	"                     Pcrash-HASH, Ptimeout-HASH (libFuzzer's names)\n"
	"  CORPUS_DIR...      after TARGET: libFuzzer's corpus folders, read\n"
	"                     as seeds; new entries go into the first as HASH\n"
	"  -j N               N workers (threads, each a clone of one booted\n"
	"                     target) as AFL++ instances main, w1, w2... in\n"
	"                     -o's folder, sharing their finds; --runs counts\n"
	"                     per worker; one status line for all\n"
	"  --seed N           random seed (default 0); with --runs and no\n"
	"                     timeouts the same seed gives the same results\n"
	"  --runs N           stop after N runs (default: no limit)\n"
	"  --seconds S        stop after S seconds (default: no limit)\n"
	"  --timeout-ms MS    wall-clock limit per input (default 100)\n"
	"  --mem SIZE         guest RAM (default 64M)\n"
	"  --no-coverage      blind fuzzing: never grow the corpus\n"
	"  --no-cmp           no comparison feedback (the harness's compare\n"
	"                     log: input-to-state candidates, tokens)\n"
	"  -x FILE            AFL/libFuzzer dictionary (name=\"value\" "
	"lines);\n"
	"                     up to 16\n"
	"  --show-output      a Linux harness's stdout and stderr are shown\n"
	"                     (--reproduce always shows them)\n"
	"  --kernel, --env, --file, --dir  for a Linux harness, as for\n"
	"                     cowvm exec\n"
	"  --stop-on-crash    stop at the first crash\n"
	"  --profile          print where the time per run goes\n"
	"  -q, --quiet        no status line every second\n"
	"  --reproduce FILE   run FILE once and print what it did\n"
	"  --save-snapshot FILE  save the booted target's snapshot (after its\n"
	"                     init) to FILE, a cowvm snapshot file, then fuzz\n"
	"                     (cowvm guest targets)\n"
	"  --from FILE        fuzz the target whose snapshot FILE holds\n"
	"                     instead of booting one: no TARGET (words after\n"
	"                     the options are corpus folders) and no --mem\n"
	"libFuzzer's spellings of these are accepted too: -runs=N,\n"
	"-max_total_time=S (--seconds), -seed=N, -timeout=S (seconds),\n"
	"-dict=FILE (-x) and -artifact_prefix=P, and corpus folders after\n"
	"TARGET: cowvm fuzz [OPTIONS] TARGET [CORPUS_DIR...].\n"
	"\n"
	"exit status of cowvm fuzz:\n"
	"  0      no crash found (--reproduce: the input ran cleanly)\n"
	"  1      a crash was found (--reproduce: the input crashes)\n"
	"  2      --reproduce: the input timed out\n"
	"  120    usage error\n"
	"  121    cannot boot the target: KVM unavailable, bad ELF, or not\n"
	"         a fuzz target (no harness)\n"
	"  122    the target crashed during init (before its snapshot)\n"
	"  123    the target did not reach its snapshot in 100 timeouts\n"
	"  124    VMM error\n"
	"  126    corpus folder or dictionary missing or unreadable, output\n"
	"         folder not writable or already holding results\n";

/* Create dir unless it exists; 0 or -errno. */
static int make_dir(const char *dir)
{
	struct stat sb;

	if (!mkdir(dir, 0755))
		return 0;
	if (errno == EEXIST && !stat(dir, &sb) && S_ISDIR(sb.st_mode))
		return 0;
	return -errno;
}

/* Create the empty file dir/name (AFL++'s marker files); 0 or -errno. */
static int touch(const char *dir, const char *name)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Nonzero if dir holds any entry besides . and .. */
static int dir_has_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int any = 0;

	if (!d)
		return 0;
	while (!any && (e = readdir(d)))
		any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return any;
}

/* Check -i and create -o (see fuzz_cli.h). */
int fuzz_cli_prepare_dirs(const struct fuzz_opts *o)
{
	static const char *const subs[] = {"queue", "crashes", "hangs"};
	struct stat sb;
	char path[4096];
	int r;

	for (size_t i = 0; o->corpus_dirs && o->corpus_dirs[i]; i++) {
		errno = 0;
		if (stat(o->corpus_dirs[i], &sb) || !S_ISDIR(sb.st_mode) ||
		    access(o->corpus_dirs[i], R_OK | W_OK | X_OK)) {
			fprintf(stderr, "cowvm fuzz: corpus folder %s: %s\n",
				o->corpus_dirs[i],
				errno ? strerror(errno) : "not a folder");
			return FZ_DIR;
		}
	}
	if (o->in_dir && stat(o->in_dir, &sb)) {
		fprintf(stderr, "cowvm fuzz: corpus folder %s: %s\n", o->in_dir,
			strerror(errno));
		return FZ_DIR;
	}
	if (o->in_dir && !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "cowvm fuzz: corpus folder %s: not a folder\n",
			o->in_dir);
		return FZ_DIR;
	}
	if (!o->out_dir)
		return 0;
	r = o->sync_dir ? make_dir(o->sync_dir) : 0;
	if (!r)
		r = make_dir(o->out_dir);
	for (size_t i = 0; !r && i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", o->out_dir, subs[i]);
		r = make_dir(path);
		if (!r && dir_has_entries(path)) {
			fprintf(stderr,
				"cowvm fuzz: output folder %s already holds "
				"results in %s/ (remove them or pick another "
				"folder)\n",
				o->out_dir, subs[i]);
			return FZ_DIR;
		}
	}
	if (!r) {
		snprintf(path, sizeof(path), "%s/queue", o->out_dir);
		r = access(path, W_OK) ? -errno : 0;
	}
	if (!r && o->sync_main)
		r = touch(o->out_dir, "is_main_node");
	if (r) {
		fprintf(stderr,
			"cowvm fuzz: output folder %s is not writable: "
			"%s\n",
			o->out_dir, strerror(-r));
		return FZ_DIR;
	}
	return 0;
}

/* The exit status for an open or loop failure class. */
int fuzz_cli_status_of(enum fuzz_open_error why)
{
	switch (why) {
	case FUZZ_ERR_LOAD:
	case FUZZ_ERR_HARNESS:
		return FZ_LOAD;
	case FUZZ_ERR_INIT_CRASH:
		return FZ_INIT_CRASH;
	case FUZZ_ERR_INIT_TIMEOUT:
		return FZ_INIT_TIMEOUT;
	case FUZZ_ERR_DIR:
		return FZ_DIR;
	default:
		return FZ_VMM;
	}
}

/* Print one status line (see fuzz_cli.h). */
void fuzz_cli_status(const struct fuzz_stats *st, const char *prefix)
{
	fprintf(stderr,
		"fuzz: %s%.0fs runs=%llu execs/s=%.0f corpus=%llu "
		"edges=%u/%u crashes=%llu (saved %llu) timeouts=%llu\n",
		prefix, st->elapsed_s, (unsigned long long)st->runs,
		st->elapsed_s > 0 ? (double)st->runs / st->elapsed_s : 0.0,
		(unsigned long long)st->corpus, st->edges, st->guards,
		(unsigned long long)st->crashes,
		(unsigned long long)st->crashes_saved,
		(unsigned long long)st->timeouts);
}

/* Rewrite AFL++'s status files; warn once if they cannot be written. */
static void afl_files(struct fuzz_cli *c, const struct fuzz_stats *st)
{
	int err = fuzz_afl_tick(&c->afl, st);

	if (err && !c->afl_warned++)
		fprintf(stderr,
			"cowvm fuzz: cannot write %s/fuzzer_stats: %s\n",
			c->o.out_dir, strerror(-err));
}

/* The engine's once-a-second callback: a status line unless quiet, and
 * AFL++'s status files. */
static void tick(const struct fuzz_stats *st, void *arg)
{
	struct fuzz_cli *c = arg;

	if (!c->quiet)
		fuzz_cli_status(st, "");
	afl_files(c, st);
}

/* Print the per-exec time breakdown of st. */
static void print_profile(const struct fuzz_stats *st)
{
	const struct fuzz_prof *p = &st->prof;
	double n = p->execs ? (double)p->execs : 1, total = st->elapsed_s * 1e6;
	double w = p->write_ns / n / 1e3, r = p->run_ns / n / 1e3,
	       m = p->map_ns / n / 1e3, z = p->reset_ns / n / 1e3,
	       u = p->mutate_ns / n / 1e3;

	fprintf(stderr,
		"fuzz: per exec (us): write %.2f run %.2f map %.2f reset %.2f "
		"mutate %.2f other %.2f total %.2f\n",
		w, r, m, z, u, total / n - (w + r + m + z + u), total / n);
}

/* --reproduce: run one input and say what it did. */
static int reproduce(struct fuzz *f, const char *file)
{
	static uint8_t buf[COWVM_FUZZ_INPUT_MAX];
	struct fuzz_result res;
	char err[512];
	size_t len = 0;
	FILE *fp = fopen(file, "rb");

	if (!fp) {
		fprintf(stderr, "cowvm fuzz: cannot open %s: %s\n", file,
			strerror(errno));
		return FZ_DIR;
	}
	len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	if (fuzz_exec(f, buf, len, &res, err, sizeof(err))) {
		fprintf(stderr, "cowvm fuzz: %s\n", err);
		return FZ_VMM;
	}
	if (res.outcome == FUZZ_OK) {
		printf("no crash: %s (%zu bytes) ran cleanly\n", file, len);
		return FZ_OK;
	}
	printf("%s\n", res.what);
	return res.outcome == FUZZ_CRASH ? FZ_CRASH : FZ_TIMEOUT;
}

/* The final lines of a run (see fuzz_cli.h). */
void fuzz_cli_summary(const struct fuzz_stats *st, const char *prefix,
		      int synced)
{
	fuzz_cli_status(st, prefix);
	if (st->cmp_logged || st->dict_tokens)
		fprintf(stderr,
			"fuzz: comparisons logged %llu, input-to-state runs "
			"%llu, dictionary tokens %u\n",
			(unsigned long long)st->cmp_logged,
			(unsigned long long)st->cmp_tried, st->dict_tokens);
	if (synced)
		fprintf(stderr,
			"fuzz: sync: %llu inputs of other instances run, %llu "
			"imported\n",
			(unsigned long long)st->import_runs,
			(unsigned long long)st->imported);
	if (st->first_crash_run)
		fprintf(stderr,
			"fuzz: first crash at run %llu after %.3f s: %s\n",
			(unsigned long long)st->first_crash_run,
			st->first_crash_s, st->first_crash);
}

/* Fuzz, or reproduce one input, as c says: the exit status. */
static int fuzz_cli_run(struct fuzz_cli *c)
{
	enum fuzz_open_error why;
	const struct fuzz_stats *st;
	struct fuzz *f;
	char err[1024];
	int r;

	if (c->jobs > 1)
		return fuzz_cli_jobs(c);
	if (!c->reproduce) {
		r = fuzz_cli_prepare_dirs(&c->o);
		if (r)
			return r;
	}
	f = fuzz_open(&c->o, err, sizeof(err), &why);
	if (!f) {
		fprintf(stderr, "cowvm fuzz: %s\n", err);
		return fuzz_cli_status_of(why);
	}
	if (c->reproduce) {
		r = reproduce(f, c->reproduce);
		fuzz_close(f);
		return r;
	}
	fuzz_afl_init(&c->afl, c->o.out_dir, c->o.elf ? c->o.elf : c->o.from,
		      c->o.timeout_ms);
	r = fuzz_loop(f, tick, c, err, sizeof(err), &why);
	st = fuzz_stats(f);
	afl_files(c, st);
	if (r) {
		fprintf(stderr, "cowvm fuzz: %s\n", err);
		fuzz_close(f);
		return fuzz_cli_status_of(why);
	}
	fuzz_cli_summary(st, "done: ", c->o.sync_dir != NULL);
	if (c->profile)
		print_profile(st);
	r = st->crashes ? FZ_CRASH : FZ_OK;
	fuzz_close(f);
	return r;
}

/* `cowvm fuzz ...`: the process exit status. */
int fuzz_main(int argc, char **argv)
{
	struct fuzz_cli c = {.o = {.timeout_ms = 100, .mem = 64ull << 20},
			     .prog = {.who = "cowvm fuzz"}};
	int r;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(fuzz_help_text, stdout);
		return 0;
	}
	r = fuzz_cli_parse(argc, argv, &c);
	if (!r)
		r = fuzz_cli_linux(&c);
	if (c.reproduce)
		c.o.show_output = 1;
	if (!r)
		r = fuzz_cli_run(&c);
	exec_prog_free(&c.prog);
	return r;
}
