/* The Linux-program ABI constants bench-linux needs, from C (the ABI
 * headers are C only). */
#include <stdint.h>

#include "cowvm_linux_abi.h"

const unsigned blx_snapshot_stdin = COWVM_LINUX_SNAPSHOT_STDIN;
const unsigned blx_buffer_output = COWVM_LINUX_BUFFER_OUTPUT;
const uint64_t blx_stdin_tag = COWVM_LINUX_STDIN_TAG;
