/* Comparison feedback of cowvm fuzz: run a corpus entry once with the
 * harness's comparison log on, then make input-to-state candidates from
 * it (where one operand of a comparison appears in the input, put the
 * other there, as AFL++'s CmpLog/Redqueen does) and keep the operands as
 * dictionary tokens. */
#include <stdlib.h>
#include <string.h>

#include "cowvm_fuzz_abi.h"
#include "fuzz_internal.h"

/* Add candidate: replace input[pos..pos+from) with to[0..tlen). */
static void plan_add(struct fuzz *f, size_t pos, size_t from, const uint8_t *to,
		     size_t tlen)
{
	struct fuzz_cmp_cand *c;

	if (f->nplan >= FUZZ_CMP_CANDS || pos + tlen > FUZZ_MAX_LEN)
		return;
	for (size_t i = 0; i < f->nplan; i++) {
		c = &f->plan[i];
		if (c->pos == pos && c->from == from && c->len == tlen &&
		    !memcmp(c->to, to, tlen))
			return;
	}
	c = &f->plan[f->nplan++];
	c->pos = (uint32_t)pos;
	c->from = (uint8_t)from;
	c->len = (uint8_t)tlen;
	memcpy(c->to, to, tlen);
}

/* Every place pattern p[0..plen) appears in in[0..len): a candidate
 * putting to[0..tlen) there. */
static void plan_pattern(struct fuzz *f, const uint8_t *in, size_t len,
			 const uint8_t *p, size_t plen, const uint8_t *to,
			 size_t tlen)
{
	if (!plen || plen > len || (plen == tlen && !memcmp(p, to, plen)))
		return;
	for (size_t pos = 0; pos + plen <= len; pos++)
		if (in[pos] == p[0] && !memcmp(in + pos, p, plen))
			plan_add(f, pos, plen, to, tlen);
}

/* Reverse n bytes from s into d. */
static void reversed(uint8_t *d, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = s[n - 1 - i];
}

/* The candidates and tokens of one logged comparison. */
static void plan_cmp(struct fuzz *f, const uint8_t *in, size_t len,
		     const struct cowvm_fuzz_cmp *c)
{
	uint8_t ra[COWVM_FUZZ_CMP_BYTES], rb[COWVM_FUZZ_CMP_BYTES];
	size_t n = c->alen;

	if (c->alen > COWVM_FUZZ_CMP_BYTES || c->blen > COWVM_FUZZ_CMP_BYTES)
		return;
	if (c->kind == COWVM_FUZZ_CMP_MEM) {
		plan_pattern(f, in, len, c->a, c->alen, c->b, c->blen);
		plan_pattern(f, in, len, c->b, c->blen, c->a, c->alen);
		if (c->alen >= 2)
			(void)fuzz_dict_add(&f->auto_dict, c->a, c->alen);
		if (c->blen >= 2)
			(void)fuzz_dict_add(&f->auto_dict, c->b, c->blen);
		return;
	}
	/* integers: one-byte ones only against a constant of the code */
	if (c->alen != c->blen || (n == 1 && c->kind != COWVM_FUZZ_CMP_CONST))
		return;
	plan_pattern(f, in, len, c->b, n, c->a, n);
	plan_pattern(f, in, len, c->a, n, c->b, n);
	reversed(ra, c->a, n);
	reversed(rb, c->b, n);
	if (n > 1) {
		plan_pattern(f, in, len, rb, n, ra, n);
		plan_pattern(f, in, len, ra, n, rb, n);
	}
	if (c->kind == COWVM_FUZZ_CMP_CONST && n >= 2) {
		(void)fuzz_dict_add(&f->auto_dict, c->a, n);
		(void)fuzz_dict_add(&f->auto_dict, ra, n);
	}
}

/* Run entry cur with the comparison log on and plan its candidates (see
 * fuzz_internal.h). */
int fuzz_cmp_plan(struct fuzz *f, size_t cur, char *err, size_t errlen)
{
	const struct fuzz_entry *e = &f->queue[cur];
	struct fuzz_result res;
	int r;

	f->nplan = 0;
	f->in_flags = COWVM_FUZZ_IN_CMPLOG;
	r = fuzz_exec(f, e->data, e->len, &res, err, errlen);
	f->in_flags = 0;
	if (r || res.outcome != FUZZ_OK)
		return r;
	for (uint32_t i = 0; i < f->cmplog->count && i < COWVM_FUZZ_CMP_MAX;
	     i++)
		plan_cmp(f, e->data, e->len, &f->cmplog->e[i]);
	f->st.cmp_logged += f->cmplog->count;
	return (int)f->nplan;
}

/* Candidate i of the plan applied to entry cur, into out (capacity
 * FUZZ_MAX_LEN); its length. */
size_t fuzz_cmp_apply(const struct fuzz *f, size_t cur, size_t i, uint8_t *out)
{
	const struct fuzz_entry *e = &f->queue[cur];
	const struct fuzz_cmp_cand *c = &f->plan[i];
	size_t tail = e->len - c->pos - c->from;

	if (c->pos + c->len + tail > FUZZ_MAX_LEN)
		tail = FUZZ_MAX_LEN - c->pos - c->len;
	memcpy(out, e->data, c->pos);
	memcpy(out + c->pos, c->to, c->len);
	memcpy(out + c->pos + c->len, e->data + c->pos + c->from, tail);
	return c->pos + c->len + tail;
}
