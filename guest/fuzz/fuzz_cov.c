/* The coverage and comparison hooks of both fuzz harnesses: trace-pc-guard
 * hit counters into the map, trace-cmp operands into the comparison log
 * (freestanding C: no libc, no instrumentation of its own). */
#include "fuzz_cov.h"

#define CMP_PER_SITE 8u /* log entries one comparison site may fill */

struct cowvm_fuzz_cmp_log *fuzz_cov_cmp;
int fuzz_cov_cmp_on;
static uint32_t guards;

/* The coverage guards numbered so far. */
uint32_t fuzz_cov_guards(void)
{
	return guards < COWVM_FUZZ_MAP_SIZE ? guards : COWVM_FUZZ_MAP_SIZE - 1;
}

/* Number the guards in [start, stop) 1, 2, ... skipping map byte 0, once
 * per instrumented module (its constructor, or the harness for all). */
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop);
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop)
{
	if (start == stop || *start)
		return;
	for (uint32_t *g = start; g < stop; g++)
		*g = 1 + guards++ % (COWVM_FUZZ_MAP_SIZE - 1);
}

/* Count one pass over the edge of guard *g (saturating at 255). */
void __sanitizer_cov_trace_pc_guard(uint32_t *g);
void __sanitizer_cov_trace_pc_guard(uint32_t *g)
{
	uint8_t *c = fuzz_cov_map + *g;

	*c += *c != 255;
}

/* Whether n bytes at p and q are equal. */
static int same(const uint8_t *p, const uint8_t *q, size_t n)
{
	while (n--)
		if (*p++ != *q++)
			return 0;
	return 1;
}

/* Copy n bytes. */
static void copy(uint8_t *d, const uint8_t *s, size_t n)
{
	while (n--)
		*d++ = *s++;
}

/* Whether the log already holds this comparison, or enough of its site. */
static int logged(const struct cowvm_fuzz_cmp_log *l, uint32_t site,
		  const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	uint32_t at_site = 0;

	for (uint32_t i = 0; i < l->count; i++) {
		const struct cowvm_fuzz_cmp *e = &l->e[i];

		if (e->site != site)
			continue;
		if (++at_site >= CMP_PER_SITE)
			return 1;
		if (e->alen == alen && e->blen == blen && same(e->a, a, alen) &&
		    same(e->b, b, blen))
			return 1;
	}
	return 0;
}

/* Log one comparison if this run logs (see fuzz_cov.h). */
void fuzz_cov_log(uint8_t kind, uintptr_t site, const void *a, size_t alen,
		  const void *b, size_t blen)
{
	struct cowvm_fuzz_cmp_log *l = fuzz_cov_cmp;
	struct cowvm_fuzz_cmp *e;

	if (!fuzz_cov_cmp_on || !l)
		return;
	l->seen++;
	alen = alen < COWVM_FUZZ_CMP_BYTES ? alen : COWVM_FUZZ_CMP_BYTES;
	blen = blen < COWVM_FUZZ_CMP_BYTES ? blen : COWVM_FUZZ_CMP_BYTES;
	if (l->count >= COWVM_FUZZ_CMP_MAX ||
	    logged(l, (uint32_t)site, a, alen, b, blen))
		return;
	e = &l->e[l->count++];
	e->kind = kind;
	e->alen = (uint8_t)alen;
	e->blen = (uint8_t)blen;
	e->reserved = 0;
	e->site = (uint32_t)site;
	copy(e->a, a, alen);
	copy(e->b, b, blen);
}

/* One integer comparison of size n at the caller. */
#define CMP_HOOK(name, type, kind)                                             \
	void name(type a, type b);                                             \
	void name(type a, type b)                                              \
	{                                                                      \
		if (fuzz_cov_cmp_on)                                           \
			fuzz_cov_log(kind,                                     \
				     (uintptr_t)__builtin_return_address(0),   \
				     &a, sizeof(a), &b, sizeof(b));            \
	}
CMP_HOOK(__sanitizer_cov_trace_cmp1, uint8_t, COWVM_FUZZ_CMP_INT)
CMP_HOOK(__sanitizer_cov_trace_cmp2, uint16_t, COWVM_FUZZ_CMP_INT)
CMP_HOOK(__sanitizer_cov_trace_cmp4, uint32_t, COWVM_FUZZ_CMP_INT)
CMP_HOOK(__sanitizer_cov_trace_cmp8, uint64_t, COWVM_FUZZ_CMP_INT)
CMP_HOOK(__sanitizer_cov_trace_const_cmp1, uint8_t, COWVM_FUZZ_CMP_CONST)
CMP_HOOK(__sanitizer_cov_trace_const_cmp2, uint16_t, COWVM_FUZZ_CMP_CONST)
CMP_HOOK(__sanitizer_cov_trace_const_cmp4, uint32_t, COWVM_FUZZ_CMP_CONST)
CMP_HOOK(__sanitizer_cov_trace_const_cmp8, uint64_t, COWVM_FUZZ_CMP_CONST)

/* A switch on val: cases[0] values of cases[1] bits follow in cases[2..];
 * each is a constant val is compared with. */
void __sanitizer_cov_trace_switch(uint64_t val, uint64_t *cases);
void __sanitizer_cov_trace_switch(uint64_t val, uint64_t *cases)
{
	size_t n = (size_t)(cases[1] / 8);

	if (!fuzz_cov_cmp_on || !n || n > 8)
		return;
	for (uint64_t i = 0; i < cases[0]; i++)
		fuzz_cov_log(COWVM_FUZZ_CMP_CONST,
			     (uintptr_t)__builtin_return_address(0) + i,
			     &cases[2 + i], n, &val, n);
}
