/* Function names for crash addresses of a fuzz target, from its ELF symbol
 * table (libelf). */
#ifndef VMM_FUZZ_SYM_H
#define VMM_FUZZ_SYM_H

#include <stddef.h>
#include <stdint.h>

struct fuzz_sym;

/* The function symbols of the ELF at path (bias added to each value); NULL
 * when it has none or cannot be read. */
struct fuzz_sym *fuzz_sym_load(const char *path, uint64_t bias);

/* "name+0xOFF" for addr into buf, or "" when no function holds it. */
const char *fuzz_sym_name(const struct fuzz_sym *s, uint64_t addr, char *buf,
			  size_t len);

/* Free s. NULL is ignored. */
void fuzz_sym_free(struct fuzz_sym *s);

#endif
