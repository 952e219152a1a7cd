/* The `cowvm snapshot` subcommand (snapshot files) and the saving step of
 * `cowvm run --save-snapshot`. */
#ifndef VMM_CMD_SNAPSHOT_H
#define VMM_CMD_SNAPSHOT_H

#include "cowvm.h"

/* Its section of cowvm --help. */
extern const char snapshot_help_text[];

/* cowvm snapshot info FILE (argv[0] is "snapshot"); 0, 1 for a bad file,
 * 120 for a usage error. */
int snapshot_cmd_main(int argc, char **argv);

/* Snapshot vm where it stopped and save it to path; 0, or -1 after one
 * line on stderr. */
int snapshot_cmd_save(struct cowvm *vm, const char *path);

#endif
