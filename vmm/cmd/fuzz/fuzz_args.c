/* The command line of `cowvm fuzz`: its options, libFuzzer's spellings of
 * them, and a Linux harness's program options. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz_cli.h"

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
	{"runs", "--runs"}, {"max_total_time", "--seconds"},
	{"seed", "--seed"}, {"timeout", "--timeout-ms"},
	{"dict", "-x"},	    {"artifact_prefix", "--artifact-prefix"},
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

/* Whether option a takes a value. */
static int takes_value(const char *a)
{
	static const char *const valued[] = {"-i",	  "-o",
					     "--seed",	  "--runs",
					     "--seconds", "--timeout-ms",
					     "--mem",	  "--reproduce",
					     "-x",	  "-M",
					     "-S",	  "--sync-seconds",
					     "-j",	  "--artifact-prefix",
					     "--from",	  "--save-snapshot"};

	for (size_t i = 0; i < sizeof(valued) / sizeof(*valued); i++)
		if (!strcmp(a, valued[i]))
			return 1;
	return 0;
}

/* Add dictionary file v; 0 or FZ_USAGE. */
static int add_dict(struct fuzz_cli *c, const char *v)
{
	if (c->ndicts == FZ_DICTS_MAX)
		return usage("more than 16 dictionaries (-x %s)", v);
	c->dicts[c->ndicts++] = v;
	c->o.dicts = c->dicts;
	return 0;
}

/* -M NAME (main) or -S NAME (secondary); 0 or FZ_USAGE. */
static int set_sync_name(struct fuzz_cli *c, const char *a, const char *v)
{
	if (c->o.sync_name)
		return usage("%s: one -M or -S only", a);
	if (!*v || strlen(v) > 200 ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_-") != strlen(v))
		return usage("instance name '%s' is not 1..200 of "
			     "[A-Za-z0-9_-]",
			     v);
	c->o.sync_name = v;
	c->o.sync_main = a[1] == 'M';
	return 0;
}

/* With -M/-S, -o is the sync folder and the instance writes into
 * -o/NAME; 0 or FZ_USAGE. */
static int sync_layout(struct fuzz_cli *c)
{
	if (c->jobs > 1 && (c->o.sync_name || c->reproduce || !c->o.out_dir))
		return usage("%s", c->o.out_dir
					   ? "-j takes no -M, -S or --reproduce"
					   : "-j needs -o SYNC_DIR");
	if (!c->o.sync_name)
		return 0;
	if (!c->o.out_dir)
		return usage("%s", "-M and -S need -o SYNC_DIR");
	c->o.sync_dir = c->o.out_dir;
	snprintf(c->sync_out, sizeof(c->sync_out), "%s/%s", c->o.sync_dir,
		 c->o.sync_name);
	c->o.out_dir = c->sync_out;
	if (!c->o.sync_s)
		c->o.sync_s = 10;
	return 0;
}

/* Apply option a with value v; 0 or FZ_USAGE after one line. */
static int value_option(struct fuzz_cli *c, const char *a, const char *v)
{
	uint64_t n;
	char *end;

	c->mem_given = c->mem_given || !strcmp(a, "--mem");
	if (!strcmp(a, "-i"))
		c->o.in_dir = v;
	else if (!strcmp(a, "-o"))
		c->o.out_dir = v;
	else if (!strcmp(a, "--reproduce"))
		c->reproduce = v;
	else if (!strcmp(a, "--from"))
		c->o.from = v;
	else if (!strcmp(a, "--save-snapshot"))
		c->o.save = v;
	else if (!strcmp(a, "-x"))
		return add_dict(c, v);
	else if (!strcmp(a, "--artifact-prefix"))
		c->o.artifact_prefix = v;
	else if (!strcmp(a, "-j") && cli_parse_range(v, 1, 64, &n))
		return usage("-j '%s' is not in 1..64", v);
	else if (!strcmp(a, "-j"))
		c->jobs = (unsigned)n;
	else if (!strcmp(a, "-M") || !strcmp(a, "-S"))
		return set_sync_name(c, a, v);
	else if (!strcmp(a, "--sync-seconds") &&
		 (!(c->o.sync_s = strtod(v, &end)) || *end ||
		  !isfinite(c->o.sync_s) || c->o.sync_s < 0.1 ||
		  c->o.sync_s > 86400))
		return usage("--sync-seconds '%s' is not in 0.1..86400", v);
	else if (!strcmp(a, "--seed") && cli_parse_u64(v, &c->o.seed))
		return usage("--seed '%s' is not a number", v);
	else if (!strcmp(a, "--runs") && cli_parse_u64(v, &c->o.runs))
		return usage("--runs '%s' is not a number", v);
	else if (!strcmp(a, "--timeout-ms") &&
		 cli_parse_range(v, 1, 3600000, &c->o.timeout_ms))
		return usage("--timeout-ms '%s' is not in 1..3600000", v);
	else if (!strcmp(a, "--mem") && cli_parse_mem(v, &c->o.mem))
		return usage("--mem '%s' is not a multiple of 4K in 4M..64G",
			     v);
	else if (!strcmp(a, "--seconds")) {
		errno = 0;
		c->o.seconds = strtod(v, &end);
		if (end == v || *end || errno || !isfinite(c->o.seconds) ||
		    c->o.seconds < 0)
			return usage("--seconds '%s' is not a number of "
				     "seconds",
				     v);
	}
	return 0;
}

/* Apply flag option a, or take a as the target; 0 or FZ_USAGE. */
static int flag_option(struct fuzz_cli *c, const char *a)
{
	static const struct {
		const char *name;
		size_t off;
	} flags[] = {
		{"--no-coverage", offsetof(struct fuzz_cli, o.no_coverage)},
		{"--stop-on-crash", offsetof(struct fuzz_cli, o.stop_on_crash)},
		{"--no-cmp", offsetof(struct fuzz_cli, o.no_cmp)},
		{"--show-output", offsetof(struct fuzz_cli, o.show_output)},
		{"--profile", offsetof(struct fuzz_cli, profile)},
		{"--quiet", offsetof(struct fuzz_cli, quiet)},
		{"-q", offsetof(struct fuzz_cli, quiet)},
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++)
		if (!strcmp(a, flags[i].name)) {
			*(int *)((char *)c + flags[i].off) = 1;
			return 0;
		}
	if (a[0] == '-' && a[1])
		return usage("unknown option '%s'", a);
	if (!c->o.elf) {
		c->o.elf = a;
		return 0;
	}
	if (c->ncorpus == FZ_DICTS_MAX)
		return usage("more than 16 corpus folders ('%s')", a);
	c->corpus[c->ncorpus++] = a;
	c->o.corpus_dirs = c->corpus;
	return 0;
}

/* With --from, every word after the options is a corpus folder (the
 * target comes from the file); --save-snapshot and --mem do not go with
 * it. 0 or FZ_USAGE after one line. */
static int from_layout(struct fuzz_cli *c)
{
	if (!c->o.from)
		return 0;
	if (c->o.save)
		return usage("%s", "--from and --save-snapshot do not go "
				   "together");
	if (c->mem_given)
		return usage("--mem does not go with --from %s (the file "
			     "sets the RAM)",
			     c->o.from);
	if (!c->o.elf)
		return 0;
	if (c->ncorpus == FZ_DICTS_MAX)
		return usage("more than 16 corpus folders ('%s')", c->o.elf);
	memmove(&c->corpus[1], &c->corpus[0], c->ncorpus * sizeof(*c->corpus));
	c->corpus[0] = c->o.elf;
	c->ncorpus++;
	c->o.corpus_dirs = c->corpus;
	c->o.elf = NULL;
	return 0;
}

/* Parse the command line into *c (see fuzz_cli.h). */
int fuzz_cli_parse(int argc, char **argv, struct fuzz_cli *c)
{
	int r = 0;

	for (int i = 1; i < argc && !r; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char *lv, *lf = libfuzzer_flag(a, &lv);

		if (exec_prog_is_option(a) || (takes_value(a) && !lf)) {
			if (!v)
				return usage("%s needs a value", a);
			i++;
			r = exec_prog_is_option(a)
				    ? (exec_prog_option(&c->prog, a, argv[i])
					       ? FZ_USAGE
					       : 0)
				    : value_option(c, a, v);
		} else if (lf == a) {
			r = usage("libFuzzer flag '%s' is not supported (see "
				  "cowvm fuzz --help)",
				  a);
		} else if (lf && !strcmp(lf, "--timeout-ms")) {
			r = set_timeout_seconds(c, lv);
		} else if (lf) {
			r = value_option(c, lf, lv);
		} else {
			r = flag_option(c, a);
		}
	}
	if (!r)
		r = from_layout(c);
	if (!r && !c->o.elf && !c->o.from)
		r = usage("%s", "missing TARGET");
	return r ? r : sync_layout(c);
}

/* Set up a Linux target (see fuzz_cli.h). */
int fuzz_cli_linux(struct fuzz_cli *c)
{
	static const char *const no_env[] = {NULL};
	const char *kernel = exec_prog_kernel(&c->prog);

	if (!c->o.elf || !exec_is_linux_elf(c->o.elf))
		return 0;
	if (c->o.save)
		return usage("--save-snapshot %s: a Linux target's host-side "
			     "state is not kept in snapshot files",
			     c->o.save);
	if (exec_precheck("cowvm fuzz", kernel, c->o.elf) >= 0)
		return FZ_LOAD;
	c->lx_argv[0] = c->o.elf;
	c->lx = (struct cowvm_linux){
		.kernel = kernel,
		.program = c->o.elf,
		.argv = c->lx_argv,
		.envp = c->prog.env ? c->prog.env : no_env,
		.files = c->prog.files,
		.nr_files = c->prog.nr_files,
	};
	c->o.linux = &c->lx;
	return 0;
}
