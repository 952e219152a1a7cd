/* Dictionaries of cowvm fuzz: tokens from AFL/libFuzzer dictionary files
 * (-x) and from the target's own comparisons, and the havoc steps that
 * insert or overwrite them. */
#ifndef VMM_FUZZ_DICT_H
#define VMM_FUZZ_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"

#define FUZZ_TOKEN_MAX 128u /* longest token (AFL's MAX_DICT_FILE) */
#define FUZZ_DICT_MAX  1024u

struct fuzz_token {
	uint8_t len;
	uint8_t data[FUZZ_TOKEN_MAX];
};

struct fuzz_dict {
	struct fuzz_token *tok;
	size_t n;
};

/* Add data[0..len) unless it is already there or the dictionary is full
 * (len 1..FUZZ_TOKEN_MAX); 1 if added, 0 if not, -ENOMEM. */
int fuzz_dict_add(struct fuzz_dict *d, const uint8_t *data, size_t len);

/* Read a dictionary file: lines `"value"` or `name="value"` (or
 * `name@level="value"`), with \\, \" and \xNN escapes, # comments and
 * blank lines; 0, or -errno with "FILE:LINE: why" in err. */
int fuzz_dict_load(struct fuzz_dict *d, const char *path, char *err,
		   size_t errlen);

/* Insert or overwrite one random token of d at a random place in
 * buf[0..*len) (capacity max); nothing when d is empty. */
void fuzz_dict_mutate(const struct fuzz_dict *d, struct fuzz_rng *r,
		      uint8_t *buf, size_t *len, size_t max);

/* Free the tokens. */
void fuzz_dict_free(struct fuzz_dict *d);

#endif
