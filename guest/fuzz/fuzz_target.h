/* What a cowvm fuzz target may use: the entry points it defines, the abort
 * hook, and the guest's small freestanding library (no libc). */
#ifndef COWVM_FUZZ_TARGET_H
#define COWVM_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include "cowvm_fuzz_abi.h"
/* The guest library a target may call: memset, memcpy, memmove, memcmp,
 * strlen, strcmp and guest_printf (console output, slow: a hypercall each).
 * It lives in guest/kernel/; scripts/build-target.sh puts that folder on
 * the include path. */
#include "guest_libc.h"

/*
 * A target defines cowvm_target (required) and cowvm_target_init
 * (optional). It runs in guest ring 3 with a 64 KiB stack, no heap and no
 * interrupts; it may use its own static data, the guest library
 * (guest_libc.h) and compiler builtins. Each input starts from the state
 * left by cowvm_target_init (a fresh VM per input). A crash is a CPU
 * exception (bad access, __builtin_trap, division by zero, ...), a call to
 * cowvm_target_abort, or a nonzero return from cowvm_target.
 */

/* Run one input of len bytes; return 0 when it was handled. */
int cowvm_target(const uint8_t *data, size_t len);
/* Called once before the snapshot that every input starts from. */
void cowvm_target_init(void);
/* Report a crash at the caller and end this input. */
__attribute__((noreturn)) void cowvm_target_abort(void);

#endif
