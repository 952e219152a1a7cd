/* The host's model of the serve workload: expected responses computed from
 * the definition of the table in cowvm_serve_abi.h (no hash table), and the
 * generated request load. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "cowvm_serve_abi.h"

#define SM_GOLDEN     0x9e3779b97f4a7c15ull
#define SM_FNV_OFFSET 0xcbf29ce484222325ull
#define SM_FNV_PRIME  0x100000001b3ull

/* A command the model parsed. */
struct sm_cmd {
	char op; /* 'g' get, 'p' put, 'a' agg, 'c' crash */
	uint64_t i, v;
	const char *word;
	size_t wlen;
};

/* The puts a request made so far, overriding the table's definition. */
struct sm_overlay {
	uint64_t i[COWVM_SERVE_CMDS_MAX], v[COWVM_SERVE_CMDS_MAX];
	size_t n;
};

/* splitmix64's output function. */
static uint64_t sm_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Set the model up for state_mib and seed; 0 or -EINVAL. */
int serve_model_init(struct serve_model *m, uint64_t state_mib, uint64_t seed)
{
	if (state_mib < 1 || state_mib > 65536)
		return -EINVAL;
	m->state_mib = state_mib;
	m->seed = seed;
	m->nslots = state_mib * (1ull << 20) / 16;
	m->nkeys = m->nslots / 2;
	return 0;
}

/* Look I up: 1 and *v when present (overlay first, then the initial
 * keys 0 .. n - 1), else 0. */
static int sm_lookup(const struct serve_model *m, const struct sm_overlay *o,
		     uint64_t i, uint64_t *v)
{
	for (size_t k = o->n; k-- > 0;)
		if (o->i[k] == i) {
			*v = o->v[k];
			return 1;
		}
	if (i >= m->nkeys)
		return 0;
	*v = sm_mix(sm_mix(m->seed + (i + 1) * SM_GOLDEN) ^
		    COWVM_SERVE_VALUE_XOR);
	return 1;
}

/* Parse word w (n bytes) as a number per cowvm_serve_abi.h; 0 or -1. */
static int sm_number(const char *w, size_t n, uint64_t *out)
{
	int hex = n > 2 && w[0] == '0' && w[1] == 'x';
	char *buf, *end;
	int bad = n == 0;

	/* strtoull would take signs, spaces and 0X: only digits pass. */
	for (size_t k = hex ? 2 : 0; k < n && !bad; k++)
		bad = !(w[k] >= '0' && w[k] <= '9') &&
		      !(hex && ((w[k] >= 'a' && w[k] <= 'f') ||
				(w[k] >= 'A' && w[k] <= 'F')));
	if (bad || (n == 2 && w[0] == '0' && w[1] == 'x'))
		return -1;
	buf = strndup(w, n);
	if (!buf)
		return -1;
	errno = 0;
	*out = strtoull(buf, &end, hex ? 16 : 10);
	bad = errno || *end;
	free(buf);
	return bad ? -1 : 0;
}

/* Parse one command (n bytes at s): 1 empty, 0 valid into *c, -1 bad. */
static int sm_parse(const char *s, size_t n, struct sm_cmd *c)
{
	const char *w[4];
	size_t wl[4], nw = 0;
	const char *p = s, *end = s + n;

	for (;;) {
		while (p < end && strchr(" \t\r", *p) && *p)
			p++;
		if (p == end)
			break;
		if (nw == 4)
			return -1;
		w[nw] = p;
		while (p < end && !(strchr(" \t\r", *p) && *p))
			p++;
		wl[nw] = (size_t)(p - w[nw]);
		nw++;
	}
	if (nw == 0)
		return 1;
#define SM_IS(k, name) (wl[k] == strlen(name) && !memcmp(w[k], name, wl[k]))
	if (SM_IS(0, "get") && nw == 2 && !sm_number(w[1], wl[1], &c->i) &&
	    c->i < (1ull << 63)) {
		c->op = 'g';
		return 0;
	}
	if (SM_IS(0, "put") && nw == 3 && !sm_number(w[1], wl[1], &c->i) &&
	    c->i < (1ull << 63) && !sm_number(w[2], wl[2], &c->v)) {
		c->op = 'p';
		return 0;
	}
	if (SM_IS(0, "agg") && nw == 2) {
		c->op = 'a';
		c->word = w[1];
		c->wlen = wl[1];
		return 0;
	}
	if (SM_IS(0, "crash") && nw == 1) {
		c->op = 'c';
		return 0;
	}
#undef SM_IS
	return -1;
}

/* Append formatted text at *len within COWVM_SERVE_DATA_MAX. */
static void sm_append(char *resp, size_t *len, const char *fmt,
		      unsigned long long a, unsigned long long b,
		      unsigned long long c)
{
	size_t room = COWVM_SERVE_DATA_MAX - *len;
	int n = snprintf(resp + *len, room + 1, fmt, a, b, c);

	*len += (size_t)n < room ? (size_t)n : room;
}

/* Run command c on the model state, appending its result. */
static void sm_run(const struct serve_model *m, struct sm_overlay *o,
		   const struct sm_cmd *c, char *resp, size_t *len)
{
	uint64_t v = 0, h = SM_FNV_OFFSET, hits = 0, sum = 0;
	int found;

	if (c->op == 'a') {
		for (size_t k = 0; k < c->wlen; k++)
			h = (h ^ (unsigned char)c->word[k]) * SM_FNV_PRIME;
		for (uint64_t j = 1; j <= COWVM_SERVE_AGG_LOOKUPS; j++)
			if (sm_lookup(m, o,
				      sm_mix(h + j * SM_GOLDEN) %
					      (2 * m->nkeys),
				      &v)) {
				hits++;
				sum += v;
			}
		sm_append(resp, len, " agg=%llu:%016llx", hits, sum, 0);
		return;
	}
	found = sm_lookup(m, o, c->i, &v);
	if (c->op == 'g') {
		sm_append(resp, len, found ? " %llu=%016llx" : " %llu=none",
			  c->i, v, 0);
		return;
	}
	sm_append(resp, len,
		  found ? " %llu:%016llx->%016llx" : " %llu:none->%016llx",
		  c->i, found ? v : c->v, c->v);
	o->i[o->n] = c->i;
	o->v[o->n++] = c->v;
}

/* The response of a fresh state to req[0, len). */
int serve_model_respond(const struct serve_model *m, const char *req,
			size_t len, char *resp, size_t *resp_len)
{
	struct sm_cmd cmds[COWVM_SERVE_CMDS_MAX];
	struct sm_overlay o = {.n = 0};
	size_t n = 0, start = 0;

	*resp_len = 0;
	for (size_t k = 0; k <= len; k++) {
		struct sm_cmd c;
		int r;

		if (k < len && req[k] != ';' && req[k] != '\n')
			continue;
		r = sm_parse(req + start, k - start, &c);
		start = k + 1;
		if (r == 1)
			continue;
		if (r || n == COWVM_SERVE_CMDS_MAX) {
			sm_append(resp, resp_len, "error: command %llu",
				  (unsigned long long)n + 1, 0, 0);
			return COWVM_SERVE_BAD;
		}
		cmds[n++] = c;
	}
	sm_append(resp, resp_len, "req=1", 0, 0, 0);
	for (size_t k = 0; k < n; k++) {
		if (cmds[k].op == 'c')
			return SERVE_MODEL_CRASH;
		sm_run(m, &o, &cmds[k], resp, resp_len);
	}
	return COWVM_SERVE_OK;
}

/* Request k of the generated load. */
size_t serve_gen_request(const struct serve_model *m, uint64_t k, char *buf,
			 size_t cap)
{
	uint64_t a = sm_mix(m->seed ^ (k * SM_GOLDEN)) % m->nslots;
	uint64_t b = sm_mix(k + 0x1234) % m->nkeys;
	uint64_t prev = k ? sm_mix(k - 1 + 0x1234) % m->nkeys : 0;
	int n = snprintf(buf, cap,
			 "agg w%llu; get %llu; put %llu 0x%llx; get %llu; "
			 "get %llu",
			 (unsigned long long)k, (unsigned long long)a,
			 (unsigned long long)b, (unsigned long long)sm_mix(k),
			 (unsigned long long)b, (unsigned long long)prev);

	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
