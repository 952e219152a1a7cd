/* `cowvm exec`: parse its options, load a static Linux program with the
 * Linux personality kernel, run it with cowvm's stdin, stdout and stderr,
 * and exit with its status. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cowvm.h"
#include "cowvm_linux_abi.h"
#include "cli.h"
#include "exec.h"

#ifndef COWVM_LINUX_KERNEL
#define COWVM_LINUX_KERNEL "guest/linux.elf"
#endif

enum {
	EXEC_SIGNAL_BASE = 128, /* + N: killed by signal N */
	EXEC_TIMEOUT = 124,	/* --timeout elapsed */
	EXEC_FAIL = 125,	/* usage error, cowvm or VMM failure */
	EXEC_NOEXEC = 126,	/* the program cannot run */
	EXEC_NOENT = 127,	/* the program was not found */
};

const char exec_help_text[] =
	"\n"
	"cowvm exec [--mem SIZE] [--timeout SECONDS] [--env K=V]...\n"
	"           [--file HOST[:GUEST]]... [--dir HOSTDIR:GUESTDIR]...\n"
	"           [--strace] [--snapshot-at stdin] [--kernel LINUX.elf]\n"
	"           PROGRAM [ARGS...]\n"
	"runs PROGRAM, an unmodified static x86-64 Linux executable (glibc\n"
	"or musl, -static or -static-pie; no PATH search), in a VM; its\n"
	"system calls are served by the guest's Linux personality. argv[0]\n"
	"is PROGRAM as given, ARGS follow verbatim; its stdin, stdout and\n"
	"stderr are cowvm's; guest console output goes to stderr. Options\n"
	"end at PROGRAM or after --.\n"
	"  --mem SIZE         guest RAM (default 256M); a Linux VM uses the\n"
	"                     RAM below 3G\n"
	"  --timeout SECONDS  wall-clock limit for the whole run (default 0:\n"
	"                     none)\n"
	"  --env K=V          an environment variable (repeatable); the\n"
	"                     environment holds only these\n"
	"  --file HOST[:GUEST] a read-only copy of the host file or directory\n"
	"                     HOST at GUEST (default: HOST's absolute path);\n"
	"                     PROGRAM is always there at its real path\n"
	"  --dir HOSTDIR:GUESTDIR  the same for a directory, recursively\n"
	"  --strace           print every system call on stderr\n"
	"  --snapshot-at stdin  snapshot the VM at the program's first read\n"
	"                     of stdin and go on in a clone of that snapshot\n"
	"  --kernel LINUX.elf the personality kernel (default: the\n"
	"                     environment variable COWVM_LINUX_KERNEL, else\n"
	"                     " COWVM_LINUX_KERNEL ")\n"
	"exit status of cowvm exec:\n"
	"  0-255  the program's own exit status\n"
	"  128+N  the program was killed by signal N\n"
	"  124    timeout\n"
	"  125    usage error (bad option, --file, --dir or --env), or a\n"
	"         failure of the VMM itself (no kernel, KVM unavailable)\n"
	"  126    the program cannot run: not a static x86-64 Linux\n"
	"         executable, unreadable, or too large for --mem\n"
	"  127    the program was not found\n";

/* The parsed command line. */
struct exec_opts {
	uint64_t mem;
	double timeout_s; /* 0: none */
	struct exec_prog prog;
	unsigned flags;
	const char *program;
	char **argv; /* PROGRAM ARGS..., NULL-terminated (the caller's) */
};

/* Print one usage error line and return EXEC_FAIL. */
static int exec_usage(const char *fmt, const char *arg)
{
	cli_usage("cowvm exec", fmt, arg);
	return EXEC_FAIL;
}

/* An absolute, lexically normalized copy of path (no ".", ".." or
 * repeated slashes); NULL when out of memory or too long. */
static char *exec_abs_path(const char *path)
{
	char cwd[PATH_MAX] = "", *out, *seg, *save = NULL, *in;
	size_t len = 0;

	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return NULL;
	in = malloc(strlen(cwd) + strlen(path) + 2);
	out = malloc(strlen(cwd) + strlen(path) + 2);
	if (!in || !out) {
		free(in);
		free(out);
		return NULL;
	}
	sprintf(in, "%s/%s", cwd, path);
	for (seg = strtok_r(in, "/", &save); seg;
	     seg = strtok_r(NULL, "/", &save)) {
		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			while (len && out[--len] != '/')
				;
			continue;
		}
		len += (size_t)sprintf(out + len, "/%s", seg);
	}
	if (!len)
		out[len++] = '/';
	out[len] = 0;
	free(in);
	return out;
}

/* One usage error line of p's command; returns -1. */
static int exec_prog_usage(const struct exec_prog *p, const char *fmt,
			   const char *arg)
{
	cli_usage(p->who, fmt, arg);
	return -1;
}

/* Append host (a file, or a directory when dir) at a copy of guest (NULL:
 * host's absolute path) to p->files; 0 or -1 after one line. */
static int exec_add_file(struct exec_prog *p, const char *opt, char *host,
			 const char *guest, int dir)
{
	struct cowvm_linux_path *f;
	struct stat st;

	if (stat(host, &st) < 0 || access(host, R_OK) < 0) {
		fprintf(stderr, "%s: %s %s: %s\n", p->who, opt, host,
			strerror(errno));
		return -1;
	}
	if (dir ? !S_ISDIR(st.st_mode)
		: !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return exec_prog_usage(
			p,
			dir ? "--dir %s is not a directory"
			    : "--file %s is not a file or directory",
			host);
	if (guest && guest[0] != '/')
		return exec_prog_usage(p, "guest path '%s' is not absolute",
				       guest);
	f = realloc(p->files, (p->nr_files + 1) * sizeof(*f));
	if (!f)
		return exec_prog_usage(p, "%s", "out of memory");
	p->files = f;
	f[p->nr_files].host = host;
	f[p->nr_files].guest = guest ? strdup(guest) : exec_abs_path(host);
	if (!f[p->nr_files].guest)
		return exec_prog_usage(p, "%s", "out of memory");
	p->nr_files++;
	return 0;
}

/* --file HOST[:GUEST] or --dir HOSTDIR:GUESTDIR (arg is split in place at
 * the first ":/"); 0 or -1. */
static int exec_parse_file(struct exec_prog *p, const char *opt, char *arg)
{
	int dir = !strcmp(opt, "--dir");
	char *sep = strstr(arg, ":/");

	if (!*arg || sep == arg)
		return exec_prog_usage(p, "%s needs a host path", opt);
	if (dir && !sep)
		return exec_prog_usage(p, "--dir '%s' is not HOSTDIR:GUESTDIR",
				       arg);
	if (!sep && strchr(arg, ':') && access(arg, F_OK) < 0)
		return exec_prog_usage(
			p, "--file '%s': GUEST must be an absolute path", arg);
	if (sep)
		*sep++ = 0;
	return exec_add_file(p, opt, arg, sep, dir);
}

/* --env K=V; 0 or -1. */
static int exec_parse_env(struct exec_prog *p, const char *arg)
{
	const char **env;

	if (!strchr(arg, '=') || arg[0] == '=')
		return exec_prog_usage(p, "--env '%s' is not K=V", arg);
	env = realloc(p->env, (p->nr_env + 2) * sizeof(*env));
	if (!env)
		return exec_prog_usage(p, "%s", "out of memory");
	p->env = env;
	env[p->nr_env++] = arg;
	env[p->nr_env] = NULL;
	return 0;
}

/* Whether a is one of the options exec_prog_option takes. */
int exec_prog_is_option(const char *a)
{
	return !strcmp(a, "--env") || !strcmp(a, "--file") ||
	       !strcmp(a, "--dir") || !strcmp(a, "--kernel");
}

/* --env, --file, --dir or --kernel with value v into p; 0 or -1. */
int exec_prog_option(struct exec_prog *p, const char *a, char *v)
{
	if (!strcmp(a, "--env"))
		return exec_parse_env(p, v);
	if (!strcmp(a, "--file") || !strcmp(a, "--dir"))
		return exec_parse_file(p, a, v);
	if (!strcmp(a, "--kernel")) {
		p->kernel = v;
		return 0;
	}
	return exec_prog_usage(p, "unknown option '%s'", a);
}

/* The kernel to boot: --kernel, $COWVM_LINUX_KERNEL or the built one. */
const char *exec_prog_kernel(const struct exec_prog *p)
{
	const char *env = getenv("COWVM_LINUX_KERNEL");

	if (p->kernel)
		return p->kernel;
	return env && *env ? env : COWVM_LINUX_KERNEL;
}

/* Free what exec_prog_option allocated. */
void exec_prog_free(struct exec_prog *p)
{
	for (unsigned i = 0; i < p->nr_files; i++)
		free((char *)p->files[i].guest);
	free(p->files);
	free(p->env);
	p->files = NULL;
	p->env = NULL;
	p->nr_files = p->nr_env = 0;
}

/* --timeout SECONDS; 0 or EXEC_FAIL. */
static int exec_parse_timeout(struct exec_opts *o, const char *s)
{
	if (cli_parse_seconds(s, 1e7, &o->timeout_s))
		return exec_usage("--timeout '%s' is not a number of seconds "
				  "in 0..10000000",
				  s);
	return 0;
}

/* One option a with its value v (NULL for a flag); 0 or EXEC_FAIL. */
static int exec_parse_opt(struct exec_opts *o, const char *a, char *v)
{
	if (!strcmp(a, "--mem"))
		return cli_parse_mem(v, &o->mem)
			       ? exec_usage(
					 "--mem '%s' is not a size in 4M..64G "
					 "and a multiple of 4K",
					 v)
			       : 0;
	if (!strcmp(a, "--timeout"))
		return exec_parse_timeout(o, v);
	if (exec_prog_is_option(a))
		return exec_prog_option(&o->prog, a, v) ? EXEC_FAIL : 0;
	if (!strcmp(a, "--snapshot-at")) {
		if (strcmp(v, "stdin"))
			return exec_usage("--snapshot-at '%s': only stdin is "
					  "known",
					  v);
		o->flags |= COWVM_LINUX_SNAPSHOT_STDIN;
		return 0;
	}
	o->flags |= COWVM_LINUX_STRACE; /* --strace, the only flag */
	return 0;
}

/* Whether option a takes a value. */
static int exec_opt_valued(const char *a)
{
	static const char *const valued[] = {
		"--mem", "--timeout", "--env",	       "--file",
		"--dir", "--kernel",  "--snapshot-at",
	};

	for (size_t i = 0; i < sizeof(valued) / sizeof(valued[0]); i++)
		if (!strcmp(a, valued[i]))
			return 1;
	return 0;
}

/* Parse `exec` arguments (argv[0] is "exec"); 0 or EXEC_FAIL. */
static int exec_parse(int argc, char **argv, struct exec_opts *o)
{
	int i = 1, r = 0;

	for (; i < argc && !r; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (exec_opt_valued(a) && i + 1 >= argc)
			return exec_usage("%s needs a value", a);
		if (exec_opt_valued(a))
			r = exec_parse_opt(o, a, argv[++i]);
		else if (!strcmp(a, "--strace"))
			r = exec_parse_opt(o, a, NULL);
		else
			return exec_usage("unknown option '%s'", a);
	}
	if (r)
		return r;
	if (i >= argc)
		return exec_usage("%s", "missing PROGRAM");
	o->program = argv[i];
	o->argv = argv + i;
	return 0;
}

/* Check that the kernel and the program are there before making a VM;
 * -1 when they are, else what is wrong, after one line led by who. */
int exec_precheck(const char *who, const char *kernel, const char *program)
{
	struct stat st;

	if (access(kernel, R_OK) < 0) {
		fprintf(stderr,
			"%s: the Linux personality kernel %s: %s (build "
			"guest/linux, or pass --kernel)\n",
			who, kernel, strerror(errno));
		return EXEC_LOAD_FAIL;
	}
	if (stat(program, &st) < 0) {
		int err = errno;

		fprintf(stderr, "%s: %s: %s\n", who, program, strerror(err));
		return err == ENOENT || err == ENOTDIR ? EXEC_LOAD_NOENT
						       : EXEC_LOAD_NOEXEC;
	}
	return -1;
}

/* What a failed cowvm_load_linux's -err means for the user. */
enum exec_load_class exec_load_class(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return EXEC_LOAD_NOENT;
	case ENOEXEC:
	case EACCES:
	case E2BIG:
	case EISDIR:
		return EXEC_LOAD_NOEXEC;
	default:
		return EXEC_LOAD_FAIL;
	}
}

/* The status of exec for a load problem of class c. */
static int exec_status_of_class(enum exec_load_class c)
{
	static const int status[] = {
		[EXEC_LOAD_NOENT] = EXEC_NOENT,
		[EXEC_LOAD_NOEXEC] = EXEC_NOEXEC,
		[EXEC_LOAD_FAIL] = EXEC_FAIL,
	};

	return status[c];
}

/* The status for a failed cowvm_load_linux with -err. */
static int exec_load_status(int err)
{
	return exec_status_of_class(exec_load_class(err));
}

/* At the stdin snapshot: snapshot *vm, go on in a clone of it and destroy
 * the original; 0 or EXEC_FAIL after one line. */
static int exec_fork_at_stdin(struct cowvm **vm)
{
	struct cowvm_snapshot *snap = cowvm_snapshot(*vm);
	struct cowvm *clone;

	if (!snap) {
		fprintf(stderr, "cowvm: snapshot at stdin: %s\n",
			cowvm_error(*vm));
		return EXEC_FAIL;
	}
	clone = cowvm_clone(snap);
	cowvm_snapshot_put(snap);
	if (!clone) {
		fprintf(stderr, "cowvm: clone at stdin: %s\n",
			cowvm_error(NULL));
		return EXEC_FAIL;
	}
	cowvm_destroy(*vm);
	*vm = clone;
	return cowvm_set_stdio(clone, 0, 1, 2) ? EXEC_FAIL : 0;
}

/* Map the final exit to the status, with one line on stderr for a signal
 * or a failure. */
static int exec_report(const struct exec_opts *o, const struct cowvm_exit *e)
{
	switch (e->reason) {
	case COWVM_EXIT_GUEST:
		return e->status & 255;
	case COWVM_EXIT_SIGNAL:
		fprintf(stderr, "cowvm: %s: %s\n", o->program, e->detail);
		return EXEC_SIGNAL_BASE + (e->status & 127);
	case COWVM_EXIT_TIMEOUT:
		return EXEC_TIMEOUT; /* silent, as timeout(1) is */
	default:
		fprintf(stderr, "cowvm: %s: %s\n", o->program, e->detail);
		return EXEC_FAIL;
	}
}

/* Run *vm to its end under the whole-run timeout. */
static int exec_run(struct cowvm **vm, const struct exec_opts *o)
{
	struct timespec dl = cli_deadline(o->timeout_s);
	struct cowvm_exit e;

	for (;;) {
		if (o->timeout_s > 0)
			cowvm_set_timeout(*vm, cli_ms_until(&dl));
		if (cowvm_run(*vm, &e)) {
			fprintf(stderr, "cowvm: %s\n", cowvm_error(*vm));
			return EXEC_FAIL;
		}
		if (e.reason != COWVM_EXIT_SNAPSHOT)
			return exec_report(o, &e);
		if (e.tag == COWVM_LINUX_STDIN_TAG &&
		    (o->flags & COWVM_LINUX_SNAPSHOT_STDIN) &&
		    exec_fork_at_stdin(vm))
			return EXEC_FAIL;
	}
}

/* Create the VM, load the program and run it; the exit status. */
static int exec_vm(const struct exec_opts *o, const char *kernel)
{
	static const char *const no_env[] = {NULL};
	struct cowvm_linux lx = {
		.kernel = kernel,
		.program = o->program,
		.argv = (const char *const *)o->argv,
		.envp = o->prog.env ? o->prog.env : no_env,
		.files = o->prog.files,
		.nr_files = o->prog.nr_files,
		.flags = o->flags,
	};
	struct cowvm_config cfg;
	struct cowvm *vm;
	int r;

	cowvm_config_init(&cfg);
	cfg.mem_size = o->mem;
	cfg.console_fd = STDERR_FILENO;
	vm = cowvm_create(&cfg);
	if (!vm) {
		fprintf(stderr, "cowvm: %s\n", cowvm_error(NULL));
		return EXEC_FAIL;
	}
	r = cowvm_load_linux(vm, &lx);
	if (r) {
		fprintf(stderr, "cowvm: %s\n", cowvm_error(vm));
		r = exec_load_status(-r);
	} else if (cowvm_set_stdio(vm, 0, 1, 2)) {
		fprintf(stderr, "cowvm: %s\n", cowvm_error(vm));
		r = EXEC_FAIL;
	} else {
		r = exec_run(&vm, o);
	}
	cowvm_destroy(vm);
	return r;
}

/* `cowvm exec ...`. */
int exec_main(int argc, char **argv)
{
	struct exec_opts o = {.mem = 256ull << 20,
			      .prog = {.who = "cowvm exec"}};
	const char *kernel;
	int r = exec_parse(argc, argv, &o);

	kernel = exec_prog_kernel(&o.prog);
	if (!r) {
		int c = exec_precheck("cowvm", kernel, o.program);

		r = c < 0 ? 0 : exec_status_of_class(c);
	}
	if (!r) {
		signal(SIGPIPE, SIG_IGN); /* EPIPE goes to the program */
		r = exec_vm(&o, kernel);
	}
	exec_prog_free(&o.prog);
	return r;
}

/* Whether path is an x86-64 Linux program (see exec.h). */
int exec_is_linux_elf(const char *path)
{
	unsigned char eh[64], ph[56];
	FILE *f = fopen(path, "rb");
	uint64_t phoff;
	uint16_t phentsize, phnum;
	int linux_elf = 0;

	if (!f)
		return 0;
	if (fread(eh, 1, sizeof(eh), f) != sizeof(eh) ||
	    memcmp(eh, "\177ELF", 4) || eh[4] != 2 || eh[18] != 62) {
		fclose(f);
		return 0;
	}
	memcpy(&phoff, eh + 32, 8);
	memcpy(&phentsize, eh + 54, 2);
	memcpy(&phnum, eh + 56, 2);
	for (uint16_t i = 0; i < phnum && phentsize >= sizeof(ph) && !linux_elf;
	     i++) {
		uint32_t type;

		if (fseek(f, (long)(phoff + (uint64_t)i * phentsize),
			  SEEK_SET) ||
		    fread(ph, 1, sizeof(ph), f) != sizeof(ph))
			break;
		memcpy(&type, ph, 4);
		linux_elf = type == 3 || type == 7 || type == 0x6474e551u;
	}
	fclose(f);
	return linux_elf;
}
