/* The coverage and comparison hooks both fuzz harnesses link (fuzz_cov.c):
 * where they count and log, set by the harness (freestanding C). */
#ifndef GUEST_FUZZ_COV_H
#define GUEST_FUZZ_COV_H

#include <stddef.h>
#include <stdint.h>

#include "cowvm_fuzz_abi.h"

/* The harness's coverage map (COWVM_FUZZ_MAP_SIZE bytes): defined by the
 * harness, valid before any instrumented code runs. */
extern uint8_t *const fuzz_cov_map;

/* The comparison log, and whether this run logs (both set by the harness
 * after each resume, from the input's COWVM_FUZZ_IN_CMPLOG). */
extern struct cowvm_fuzz_cmp_log *fuzz_cov_cmp;
extern int fuzz_cov_cmp_on;

/* The coverage guards numbered so far. */
uint32_t fuzz_cov_guards(void);

/* Log one comparison of a[0..alen) with b[0..blen) (each cut to
 * COWVM_FUZZ_CMP_BYTES) made at site, if this run logs. */
void fuzz_cov_log(uint8_t kind, uintptr_t site, const void *a, size_t alen,
		  const void *b, size_t blen);

#endif
