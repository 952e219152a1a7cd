/* Argument parsing shared by the cowvm command's subcommands. */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stdint.h>

/* Parse an unsigned decimal into *out; 0, or -1 if s is not one. */
int cli_parse_u64(const char *s, uint64_t *out);

/* Parse SIZE, bytes with an optional K/M/G suffix, into *out; 0, or -1 if
 * s is not a size or overflows 64 bits. */
int cli_parse_size(const char *s, uint64_t *out);

#endif
