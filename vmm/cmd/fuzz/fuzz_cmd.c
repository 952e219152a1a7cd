/* `cowvm fuzz`: parse options, prepare the corpus folders, run the fuzz
 * engine or reproduce one input, print status lines and pick the exit
 * status. */
#include <errno.h>
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
#include "fuzz.h"
#include "fuzz_afl.h"

/* Exit statuses of `cowvm fuzz` (listed in `cowvm --help`). */
enum {
	FZ_OK = 0,	       /* no crash (found or reproduced) */
	FZ_CRASH = 1,	       /* a crash was found or reproduced */
	FZ_TIMEOUT = 2,	       /* --reproduce: the input timed out */
	FZ_USAGE = 120,	       /* bad command line */
	FZ_LOAD = 121,	       /* no KVM, bad ELF, no fuzz harness */
	FZ_INIT_CRASH = 122,   /* the target crashed before its snapshot */
	FZ_INIT_TIMEOUT = 123, /* the target never reached its snapshot */
	FZ_VMM = 124,	       /* VMM error */
	FZ_DIR = 126,	       /* corpus or output folder unusable */
};

struct fuzz_cli {
	struct fuzz_opts o;
	const char *reproduce;
	int profile, quiet;
	struct fuzz_afl afl; /* -o's fuzzer_stats and plot_data */
	int afl_warned;
};

/* What `cowvm fuzz --help` (and `cowvm --help`) print. */
const char fuzz_help_text[] =
	"\n"
	"cowvm fuzz runs a snapshot fuzzer on TARGET.elf (a target built\n"
	"with scripts/build-target.sh; see fuzz/README.md): it boots the\n"
	"target, snapshots it after cowvm_target_init and runs every input\n"
	"from that snapshot, keeping inputs that reach new edges.\n"
	"  -i DIR             seed corpus (default: one built-in seed)\n"
	"  -o DIR             results: DIR/queue, DIR/crashes and\n"
	"                     DIR/timeouts, each input with a .txt reason;\n"
	"                     DIR/fuzzer_stats and DIR/plot_data as AFL++\n"
	"                     writes them (afl-whatsup DIR reads them)\n"
	"  --seed N           random seed (default 0); with --runs and no\n"
	"                     timeouts the same seed gives the same results\n"
	"  --runs N           stop after N runs (default: no limit)\n"
	"  --seconds S        stop after S seconds (default: no limit)\n"
	"  --timeout-ms MS    wall-clock limit per input (default 100)\n"
	"  --mem SIZE         guest RAM (default 64M)\n"
	"  --no-coverage      blind fuzzing: never grow the corpus\n"
	"  --stop-on-crash    stop at the first crash\n"
	"  --profile          print where the time per run goes\n"
	"  -q, --quiet        no status line every second\n"
	"  --reproduce FILE   run FILE once and print what it did\n"
	"libFuzzer's spellings of these are accepted too: -runs=N,\n"
	"-max_total_time=S (--seconds), -seed=N and -timeout=S (seconds).\n"
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
	"  126    corpus folder missing or unreadable, output folder not\n"
	"         writable or already holding results\n";

/* Print one usage error line; returns FZ_USAGE. */
static int usage(const char *fmt, const char *arg)
{
	cli_usage("cowvm fuzz", fmt, arg);
	return FZ_USAGE;
}

/* libFuzzer's flags that map onto cowvm fuzz options: -NAME=VALUE means
 * OPTION VALUE (-timeout counts seconds, --timeout-ms milliseconds). */
static const struct {
	const char *name, *option;
} libfuzzer_flags[] = {
	{"runs", "--runs"},
	{"max_total_time", "--seconds"},
	{"seed", "--seed"},
	{"timeout", "--timeout-ms"},
};

/* The option a libFuzzer flag "-NAME=VALUE" in a stands for, with *v
 * pointing at VALUE; NULL (with *v NULL) unless a is written so; a itself
 * when the NAME is not one cowvm knows. */
static const char *libfuzzer_flag(const char *a, const char **v)
{
	const char *eq = strchr(a, '=');

	*v = NULL;
	if (a[0] != '-' || a[1] == '-' || !eq || eq == a + 1)
		return NULL;
	*v = eq + 1;
	for (size_t i = 0;
	     i < sizeof(libfuzzer_flags) / sizeof(*libfuzzer_flags); i++)
		if (strlen(libfuzzer_flags[i].name) == (size_t)(eq - a - 1) &&
		    !strncmp(a + 1, libfuzzer_flags[i].name,
			     (size_t)(eq - a - 1)))
			return libfuzzer_flags[i].option;
	return a;
}

/* Set -timeout=S (libFuzzer: whole seconds) as --timeout-ms; 0 or
 * FZ_USAGE. */
static int set_timeout_seconds(struct fuzz_cli *c, const char *v)
{
	uint64_t s;

	if (cli_parse_range(v, 1, 3600, &s))
		return usage("-timeout='%s' is not a number of seconds in "
			     "1..3600",
			     v);
	c->o.timeout_ms = s * 1000;
	return 0;
}

/* Parse the command line into *c; 0 or FZ_USAGE after one line. */
static int parse(int argc, char **argv, struct fuzz_cli *c)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char *lv, *lf = libfuzzer_flag(a, &lv);
		int takes = strcmp(a, "-i") == 0 || !strcmp(a, "-o") ||
			    !strcmp(a, "--seed") || !strcmp(a, "--runs") ||
			    !strcmp(a, "--seconds") ||
			    !strcmp(a, "--timeout-ms") || !strcmp(a, "--mem") ||
			    !strcmp(a, "--reproduce");
		char *end;

		if (lf == a)
			return usage("libFuzzer flag '%s' is not supported "
				     "(see cowvm fuzz --help)",
				     a);
		if (lf && !strcmp(lf, "--timeout-ms")) {
			if (set_timeout_seconds(c, lv))
				return FZ_USAGE;
			continue;
		}
		if (lf) {
			a = lf;
			v = lv;
		} else if (takes && !v) {
			return usage("%s needs a value", a);
		} else if (takes) {
			i++;
		}
		if (!strcmp(a, "-i")) {
			c->o.in_dir = v;
		} else if (!strcmp(a, "-o")) {
			c->o.out_dir = v;
		} else if (!strcmp(a, "--reproduce")) {
			c->reproduce = v;
		} else if (!strcmp(a, "--seed")) {
			if (cli_parse_u64(v, &c->o.seed))
				return usage("--seed '%s' is not a number", v);
		} else if (!strcmp(a, "--runs")) {
			if (cli_parse_u64(v, &c->o.runs))
				return usage("--runs '%s' is not a number", v);
		} else if (!strcmp(a, "--timeout-ms")) {
			if (cli_parse_range(v, 1, 3600000, &c->o.timeout_ms))
				return usage("--timeout-ms '%s' is not in "
					     "1..3600000",
					     v);
		} else if (!strcmp(a, "--seconds")) {
			errno = 0;
			c->o.seconds = strtod(v, &end);
			if (end == v || *end || errno ||
			    !isfinite(c->o.seconds) || c->o.seconds < 0)
				return usage("--seconds '%s' is not a number "
					     "of seconds",
					     v);
		} else if (!strcmp(a, "--mem")) {
			if (cli_parse_mem(v, &c->o.mem))
				return usage("--mem '%s' is not a multiple of "
					     "4K in 4M..64G",
					     v);
		} else if (!strcmp(a, "--no-coverage")) {
			c->o.no_coverage = 1;
		} else if (!strcmp(a, "--stop-on-crash")) {
			c->o.stop_on_crash = 1;
		} else if (!strcmp(a, "--profile")) {
			c->profile = 1;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			c->quiet = 1;
		} else if (a[0] == '-' && a[1]) {
			return usage("unknown option '%s'", a);
		} else if (c->o.elf) {
			return usage("unexpected argument '%s' (one "
				     "TARGET.elf only)",
				     a);
		} else {
			c->o.elf = a;
		}
	}
	if (!c->o.elf)
		return usage("%s", "missing TARGET.elf");
	return 0;
}

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

/* Check -i and create -o with queue/, crashes/, timeouts/; 0 or FZ_DIR
 * after one line. */
static int prepare_dirs(const struct fuzz_cli *c)
{
	static const char *const subs[] = {"queue", "crashes", "timeouts"};
	struct stat sb;
	char path[4096];
	int r;

	if (c->o.in_dir && stat(c->o.in_dir, &sb)) {
		fprintf(stderr, "cowvm fuzz: corpus folder %s: %s\n",
			c->o.in_dir, strerror(errno));
		return FZ_DIR;
	}
	if (c->o.in_dir && !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "cowvm fuzz: corpus folder %s: not a folder\n",
			c->o.in_dir);
		return FZ_DIR;
	}
	if (!c->o.out_dir)
		return 0;
	r = make_dir(c->o.out_dir);
	for (size_t i = 0; !r && i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", c->o.out_dir, subs[i]);
		r = make_dir(path);
		if (!r && dir_has_entries(path)) {
			fprintf(stderr,
				"cowvm fuzz: output folder %s already holds "
				"results in %s/ (remove them or pick another "
				"folder)\n",
				c->o.out_dir, subs[i]);
			return FZ_DIR;
		}
	}
	if (!r) {
		snprintf(path, sizeof(path), "%s/queue", c->o.out_dir);
		r = access(path, W_OK) ? -errno : 0;
	}
	if (r) {
		fprintf(stderr,
			"cowvm fuzz: output folder %s is not writable: "
			"%s\n",
			c->o.out_dir, strerror(-r));
		return FZ_DIR;
	}
	return 0;
}

/* The exit status for an open or loop failure class. */
static int status_of(enum fuzz_open_error why)
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

/* Print one status line for st on stderr. */
static void status_line(const struct fuzz_stats *st, const char *prefix)
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
		status_line(st, "");
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

/* `cowvm fuzz ...`: the process exit status. */
int fuzz_main(int argc, char **argv)
{
	struct fuzz_cli c = {.o = {.timeout_ms = 100, .mem = 64ull << 20}};
	enum fuzz_open_error why;
	const struct fuzz_stats *st;
	struct fuzz *f;
	char err[1024];
	int r;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(fuzz_help_text, stdout);
		return 0;
	}
	r = parse(argc, argv, &c);
	if (r)
		return r;
	if (!c.reproduce) {
		r = prepare_dirs(&c);
		if (r)
			return r;
	}
	f = fuzz_open(&c.o, err, sizeof(err), &why);
	if (!f) {
		fprintf(stderr, "cowvm fuzz: %s\n", err);
		return status_of(why);
	}
	if (c.reproduce) {
		r = reproduce(f, c.reproduce);
		fuzz_close(f);
		return r;
	}
	fuzz_afl_init(&c.afl, c.o.out_dir, c.o.elf, c.o.timeout_ms);
	r = fuzz_loop(f, tick, &c, err, sizeof(err), &why);
	st = fuzz_stats(f);
	afl_files(&c, st);
	if (r) {
		fprintf(stderr, "cowvm fuzz: %s\n", err);
		fuzz_close(f);
		return status_of(why);
	}
	status_line(st, "done: ");
	if (st->first_crash_run)
		fprintf(stderr,
			"fuzz: first crash at run %llu after %.3f s: "
			"%s\n",
			(unsigned long long)st->first_crash_run,
			st->first_crash_s, st->first_crash);
	if (c.profile)
		print_profile(st);
	r = st->crashes ? FZ_CRASH : FZ_OK;
	fuzz_close(f);
	return r;
}
