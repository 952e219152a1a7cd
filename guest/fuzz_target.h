/* What a cowvm fuzz target may use: the entry points it defines, the abort
 * hook, and the guest's small freestanding library (no libc). */
#ifndef COWVM_FUZZ_TARGET_H
#define COWVM_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include "cowvm_fuzz_abi.h"

/*
 * A target defines cowvm_target (required) and cowvm_target_init
 * (optional). It runs in guest ring 3 with a 64 KiB stack, no heap and no
 * interrupts; it may use its own static data, the functions below and
 * compiler builtins. Each input starts from the state left by
 * cowvm_target_init (a fresh VM per input). A crash is a CPU exception
 * (bad access, __builtin_trap, division by zero, ...), a call to
 * cowvm_target_abort, or a nonzero return from cowvm_target.
 */

/* Run one input of len bytes; return 0 when it was handled. */
int cowvm_target(const uint8_t *data, size_t len);
/* Called once before the snapshot that every input starts from. */
void cowvm_target_init(void);
/* Report a crash at the caller and end this input. */
__attribute__((noreturn)) void cowvm_target_abort(void);

/* The guest library (guest/lib.c, guest/io.c). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
/* Console output (slow: a hypercall each); printf subset %s %c %d %u %x. */
void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
