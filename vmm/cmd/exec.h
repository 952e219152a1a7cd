/* The `cowvm exec` subcommand: run an unmodified static Linux program in a
 * VM under the guest's Linux personality; also the program options it
 * shares with `cowvm serve --exec`. */
#ifndef VMM_EXEC_H
#define VMM_EXEC_H

#include "cowvm.h"

/* Its section of cowvm --help: options and exit statuses. */
extern const char exec_help_text[];

/* cowvm exec ... (argv[0] is "exec"): run PROGRAM with ARGS; the
 * program's exit status or one of exec_help_text's. */
int exec_main(int argc, char **argv);

/* What a failed cowvm_load_linux's -err means: the program is missing, it
 * cannot run (not a static x86-64 executable, unreadable, too large), or
 * cowvm failed. */
enum exec_load_class {
	EXEC_LOAD_NOENT,
	EXEC_LOAD_NOEXEC,
	EXEC_LOAD_FAIL,
};
enum exec_load_class exec_load_class(int err);

/* Check that kernel and program exist before making a VM: -1 when they
 * do, else the class of the problem, after one line on stderr led by
 * who. */
int exec_precheck(const char *who, const char *kernel, const char *program);

/* Whether path is an x86-64 ELF built for Linux rather than a cowvm guest
 * kernel: it has a PT_INTERP, PT_TLS or PT_GNU_STACK header, which a
 * linker gives every Linux program and cowvm's guest linker scripts give
 * none. 0 when it is not, or cannot be read. */
int exec_is_linux_elf(const char *path);

/* What --env, --file, --dir and --kernel give a Linux program. */
struct exec_prog {
	const char *who;    /* the command, the prefix of its error lines */
	const char *kernel; /* --kernel, or NULL */
	const char **env;   /* NULL-terminated, or NULL for none */
	struct cowvm_linux_path *files;
	unsigned nr_env, nr_files;
};

/* Whether a is --env, --file, --dir or --kernel (each takes a value). */
int exec_prog_is_option(const char *a);

/* Apply option a with value v (--file and --dir split it in place; --env
 * and --kernel keep it) to p; 0, or -1 after one line on stderr. */
int exec_prog_option(struct exec_prog *p, const char *a, char *v);

/* The personality kernel: --kernel, else $COWVM_LINUX_KERNEL, else the
 * one the build made. */
const char *exec_prog_kernel(const struct exec_prog *p);

/* Free what exec_prog_option allocated and empty p. */
void exec_prog_free(struct exec_prog *p);

#endif
