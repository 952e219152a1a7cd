/* The `cowvm exec` subcommand: run an unmodified static Linux program in a
 * VM under the guest's Linux personality. */
#ifndef VMM_EXEC_H
#define VMM_EXEC_H

/* Its section of cowvm --help: options and exit statuses. */
extern const char exec_help_text[];

/* cowvm exec ... (argv[0] is "exec"): run PROGRAM with ARGS; the
 * program's exit status or one of exec_help_text's. */
int exec_main(int argc, char **argv);

#endif
