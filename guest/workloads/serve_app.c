/* The serve workload's runtime in portable, library-free C: builds the hash
 * table and handles requests as cowvm_serve_abi.h specifies. */
#include "serve_app.h"
#include "cowvm_serve_abi.h"

#define SA_GOLDEN     0x9e3779b97f4a7c15ull
#define SA_FNV_OFFSET 0xcbf29ce484222325ull
#define SA_FNV_PRIME  0x100000001b3ull
#define SA_I_LIMIT    (1ull << 63)

enum sa_op { SA_GET, SA_PUT, SA_AGG, SA_CRASH };

/* One checked command: its operation and operands. */
struct sa_cmd {
	enum sa_op op;
	uint64_t i, v;	  /* get/put: I (and V) */
	const char *word; /* agg: WORD */
	uint32_t wlen;
};

/* A bounded output buffer. */
struct sa_out {
	char *p;
	uint32_t len, cap;
};

/* The splitmix64 output function applied to state z. */
static uint64_t sa_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The hash h(I) of the table spec. */
static uint64_t sa_hash(const struct serve_app *a, uint64_t i)
{
	return sa_mix(a->seed + (i + 1) * SA_GOLDEN);
}

/* The first slot of I's probe sequence. */
static uint64_t sa_home(const struct serve_app *a, uint64_t i)
{
	return (uint64_t)(((unsigned __int128)sa_hash(a, i) * a->nslots) >> 64);
}

/* The slot holding I, or the empty slot where it would go. */
static uint64_t *sa_find(const struct serve_app *a, uint64_t i)
{
	uint64_t s = sa_home(a, i);

	for (;;) {
		uint64_t *e = a->slots + 2 * s;

		if (e[0] == i + 1 || e[0] == 0)
			return e;
		if (++s == a->nslots)
			s = 0;
	}
}

/* Whether state_mib MiB make a table this code can build. */
int serve_app_size_ok(uint64_t state_mib)
{
	return state_mib >= 1 && state_mib <= 65536;
}

/* Build the table: clear every slot, then insert I = 0 .. n - 1. */
void serve_app_init(struct serve_app *a, void *mem, uint64_t state_mib,
		    uint64_t seed)
{
	volatile uint64_t *w = mem;

	a->slots = mem;
	a->nslots = state_mib << 16;
	a->nkeys = a->nslots / 2;
	a->seed = seed;
	a->served = 0;
	for (uint64_t k = 0; k < 2 * a->nslots; k++)
		w[k] = 0;
	for (uint64_t i = 0; i < a->nkeys; i++) {
		uint64_t *e = sa_find(a, i);

		e[0] = i + 1;
		e[1] = sa_mix(sa_hash(a, i) ^ COWVM_SERVE_VALUE_XOR);
	}
}

/* Whether c separates words. */
static int sa_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Parse a whole word of n bytes as a decimal or 0x-hex number; 0 or -1. */
static int sa_number(const char *s, uint32_t n, uint64_t *out)
{
	uint64_t v = 0;
	uint32_t k = 0;
	unsigned base = 10;

	if (n > 2 && s[0] == '0' && s[1] == 'x') {
		base = 16;
		k = 2;
	}
	if (k == n)
		return -1;
	for (; k < n; k++) {
		char c = s[k];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -1;
		if (v > (UINT64_MAX - d) / base)
			return -1;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* Whether word w of n bytes is the NUL-terminated name. */
static int sa_is(const char *w, uint32_t n, const char *name)
{
	uint32_t k = 0;

	for (; k < n; k++)
		if (name[k] != w[k])
			return 0;
	return name[k] == 0;
}

/* Check one command of n bytes at s into *c; 1 if it is empty, 0 if
 * valid, -1 if bad. */
static int sa_parse(const char *s, uint32_t n, struct sa_cmd *c)
{
	const char *w[4];
	uint32_t wl[4], nw = 0, k = 0;

	while (k < n) {
		while (k < n && sa_space(s[k]))
			k++;
		if (k == n)
			break;
		if (nw == 4)
			return -1;
		w[nw] = s + k;
		while (k < n && !sa_space(s[k]))
			k++;
		wl[nw] = (uint32_t)(s + k - w[nw]);
		nw++;
	}
	if (!nw)
		return 1;
	if (sa_is(w[0], wl[0], "get") && nw == 2) {
		c->op = SA_GET;
		return sa_number(w[1], wl[1], &c->i) || c->i >= SA_I_LIMIT ? -1
									   : 0;
	}
	if (sa_is(w[0], wl[0], "put") && nw == 3) {
		c->op = SA_PUT;
		return sa_number(w[1], wl[1], &c->i) || c->i >= SA_I_LIMIT ||
				       sa_number(w[2], wl[2], &c->v)
			       ? -1
			       : 0;
	}
	if (sa_is(w[0], wl[0], "agg") && nw == 2) {
		c->op = SA_AGG;
		c->word = w[1];
		c->wlen = wl[1];
		return 0;
	}
	if (sa_is(w[0], wl[0], "crash") && nw == 1) {
		c->op = SA_CRASH;
		return 0;
	}
	return -1;
}

/* Append the NUL-terminated s. */
static void sa_puts(struct sa_out *o, const char *s)
{
	while (*s && o->len < o->cap)
		o->p[o->len++] = *s++;
}

/* Append v in decimal. */
static void sa_dec(struct sa_out *o, uint64_t v)
{
	char b[21];
	int n = 20;

	b[20] = 0;
	do {
		b[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sa_puts(o, b + n);
}

/* Append v as 16 lowercase hex digits. */
static void sa_hex(struct sa_out *o, uint64_t v)
{
	char b[17];

	for (int k = 15; k >= 0; k--) {
		b[k] = "0123456789abcdef"[v & 15];
		v >>= 4;
	}
	b[16] = 0;
	sa_puts(o, b);
}

/* Run the agg command over word w of n bytes. */
static void sa_agg(const struct serve_app *a, const char *w, uint32_t n,
		   struct sa_out *o)
{
	uint64_t h = SA_FNV_OFFSET, hits = 0, sum = 0;

	for (uint32_t k = 0; k < n; k++)
		h = (h ^ (unsigned char)w[k]) * SA_FNV_PRIME;
	for (uint64_t j = 1; j <= COWVM_SERVE_AGG_LOOKUPS; j++) {
		const uint64_t *e =
			sa_find(a, sa_mix(h + j * SA_GOLDEN) % (2 * a->nkeys));

		if (e[0]) {
			hits++;
			sum += e[1];
		}
	}
	sa_puts(o, "agg=");
	sa_dec(o, hits);
	sa_puts(o, ":");
	sa_hex(o, sum);
}

/* Run checked command c, appending its result. */
static void sa_run(struct serve_app *a, const struct sa_cmd *c,
		   struct sa_out *o)
{
	uint64_t *e;

	if (c->op == SA_AGG) {
		sa_agg(a, c->word, c->wlen, o);
		return;
	}
	e = sa_find(a, c->i);
	sa_dec(o, c->i);
	sa_puts(o, c->op == SA_GET ? "=" : ":");
	if (e[0])
		sa_hex(o, e[1]);
	else
		sa_puts(o, "none");
	if (c->op == SA_PUT) {
		sa_puts(o, "->");
		sa_hex(o, c->v);
		e[0] = c->i + 1;
		e[1] = c->v;
	}
}

/* Handle one request as cowvm_serve_abi.h specifies. */
int serve_app_handle(struct serve_app *a, const char *req, uint32_t len,
		     char *resp, uint32_t *resp_len)
{
	struct sa_cmd cmds[COWVM_SERVE_CMDS_MAX], extra;
	struct sa_out o = {resp, 0, COWVM_SERVE_DATA_MAX};
	uint32_t n = 0, start = 0;

	for (uint32_t k = 0; k <= len; k++) {
		int r;

		if (k < len && req[k] != ';' && req[k] != '\n')
			continue;
		r = sa_parse(req + start, k - start,
			     n < COWVM_SERVE_CMDS_MAX ? &cmds[n] : &extra);
		start = k + 1;
		if (r == 1)
			continue;
		if (r || n == COWVM_SERVE_CMDS_MAX) {
			sa_puts(&o, "error: command ");
			sa_dec(&o, n + 1);
			*resp_len = o.len;
			return COWVM_SERVE_BAD;
		}
		n++;
	}
	a->served++;
	sa_puts(&o, "req=");
	sa_dec(&o, a->served);
	for (uint32_t k = 0; k < n; k++) {
		if (cmds[k].op == SA_CRASH) {
			*resp_len = o.len;
			return SERVE_APP_CRASH;
		}
		sa_puts(&o, " ");
		sa_run(a, &cmds[k], &o);
	}
	*resp_len = o.len;
	return COWVM_SERVE_OK;
}
