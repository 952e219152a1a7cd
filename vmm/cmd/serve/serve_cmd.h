/* The `cowvm serve` subcommand of the cowvm command. */
#ifndef VMM_SERVE_CMD_H
#define VMM_SERVE_CMD_H

/* Its section of cowvm --help: options and exit statuses. */
extern const char serve_help_text[];

/* cowvm serve ... (argv[0] is "serve"): serve requests on clones of a
 * booted serve template; the process exit status (see serve_help_text). */
int serve_main(int argc, char **argv);

#endif
