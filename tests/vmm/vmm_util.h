/* Helpers of the VMM tests beyond the test library: running the cowvm
 * command with its output captured, ELF symbol lookup. */
#ifndef VMM_UTIL_H
#define VMM_UTIL_H

#include <stdint.h>

#include "cowvm.h"
#include "cowvm_abi.h"
#include "test_util.h"
#include "test_vm.h"

/* What running the cowvm command produced. */
struct cmd_result {
	int status; /* exit status, or -1 when killed by a signal */
	int signal; /* the signal, when killed */
	char out[8192];
	char err[8192];
	int err_lines;
};

/* Run argv (argv[0] the command's path) with stdout/stderr captured. */
struct cmd_result test_cmd(char *const argv[]);

/* The value of global symbol name in ELF file path (fails if absent). */
uint64_t test_elf_symbol(const char *path, const char *name);

#endif
