/* Dictionaries of cowvm fuzz: AFL/libFuzzer dictionary files and the
 * tokens a target's comparisons give, used by a havoc step. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_dict.h"

/* Add one token (see fuzz_dict.h). */
int fuzz_dict_add(struct fuzz_dict *d, const uint8_t *data, size_t len)
{
	if (!len || len > FUZZ_TOKEN_MAX || d->n >= FUZZ_DICT_MAX)
		return 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->tok[i].len == len && !memcmp(d->tok[i].data, data, len))
			return 0;
	if (!d->tok) {
		d->tok = calloc(FUZZ_DICT_MAX, sizeof(*d->tok));
		if (!d->tok)
			return -ENOMEM;
	}
	d->tok[d->n].len = (uint8_t)len;
	memcpy(d->tok[d->n].data, data, len);
	d->n++;
	return 1;
}

/* The value of hex digit c, or -1. */
static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode the quoted value starting after the opening quote at p into tok;
 * NULL on success, else why the line is bad. */
static const char *parse_value(const char *p, struct fuzz_token *tok)
{
	size_t n = 0;

	for (; *p && *p != '"' && *p != '\n' && *p != '\r'; p++) {
		int c = (unsigned char)*p;

		if (c == '\\') {
			if (p[1] == '\\' || p[1] == '"') {
				c = (unsigned char)*++p;
			} else if (p[1] == 'x' && hexval(p[2]) >= 0 &&
				   hexval(p[3]) >= 0) {
				c = hexval(p[2]) * 16 + hexval(p[3]);
				p += 3;
			} else {
				return "bad escape (use \\\\, \\\" or \\xNN)";
			}
		} else if (c < 32 || c > 126) {
			return "unescaped control or non-ASCII byte in value";
		}
		if (n == FUZZ_TOKEN_MAX)
			return "value longer than 128 bytes";
		tok->data[n++] = (uint8_t)c;
	}
	if (*p != '"')
		return "no closing quote";
	for (p++; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		;
	if (*p)
		return "text after the closing quote";
	if (!n)
		return "empty value";
	tok->len = (uint8_t)n;
	return NULL;
}

/* Parse one line into tok: 1 for a token, 0 for a blank or comment line,
 * -1 with *why. */
static int parse_line(const char *line, struct fuzz_token *tok,
		      const char **why)
{
	const char *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#' || *p == '\n' || *p == '\r')
		return 0;
	while (*p && *p != '"' && *p != '=' && *p != ' ')
		p++; /* the optional name[@level] */
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '=')
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
	if (*p != '"') {
		*why = "expected \"value\" or name=\"value\"";
		return -1;
	}
	*why = parse_value(p + 1, tok);
	return *why ? -1 : 1;
}

/* Read a dictionary file (see fuzz_dict.h). */
int fuzz_dict_load(struct fuzz_dict *d, const char *path, char *err,
		   size_t errlen)
{
	FILE *fp = fopen(path, "r");
	struct fuzz_token tok;
	char line[1024];
	unsigned no = 0;
	const char *why;
	int r = 0;

	if (!fp) {
		r = -errno;
		snprintf(err, errlen, "dictionary %s: %s", path, strerror(-r));
		return r;
	}
	while (!r && fgets(line, sizeof(line), fp)) {
		int k = parse_line(line, &tok, &why);

		no++;
		if (k < 0) {
			snprintf(err, errlen, "dictionary %s:%u: %s", path, no,
				 why);
			r = -EINVAL;
		} else if (k > 0 && fuzz_dict_add(d, tok.data, tok.len) < 0) {
			snprintf(err, errlen, "out of memory");
			r = -ENOMEM;
		}
	}
	fclose(fp);
	return r;
}

/* Insert or overwrite one token (see fuzz_dict.h). */
void fuzz_dict_mutate(const struct fuzz_dict *d, struct fuzz_rng *r,
		      uint8_t *buf, size_t *len, size_t max)
{
	const struct fuzz_token *t;
	size_t pos;

	if (!d->n)
		return;
	t = &d->tok[fuzz_rng_below(r, d->n)];
	if (t->len > max)
		return;
	if (fuzz_rng_below(r, 2) && *len + t->len <= max) {
		pos = fuzz_rng_below(r, *len + 1);
		memmove(buf + pos + t->len, buf + pos, *len - pos);
		*len += t->len;
	} else {
		if (t->len > *len)
			*len = t->len;
		pos = fuzz_rng_below(r, *len - t->len + 1);
	}
	memcpy(buf + pos, t->data, t->len);
}

/* Free the tokens. */
void fuzz_dict_free(struct fuzz_dict *d)
{
	free(d->tok);
	d->tok = NULL;
	d->n = 0;
}
