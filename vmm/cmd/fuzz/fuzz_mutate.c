/* cowvm fuzz's input mutations: AFL-style havoc and splicing, driven by a
 * seeded xoshiro256** generator so that a seed fixes every input. */
#include <string.h>

#include "fuzz.h"

#define ARITH_MAX    35
#define BLOCK_SMALL  32
#define BLOCK_MEDIUM 128
#define BLOCK_LARGE  1500

static const int8_t interesting8[] = {-128, -1, 0, 1, 16, 32, 64, 100, 127};
static const int16_t interesting16[] = {-32768, -129, 128,  255,  256,
					512,	1000, 1024, 4096, 32767};
static const int32_t interesting32[] = {-2147483647 - 1, -100663046, -32769,
					32768,		 65535,	     65536,
					100663045,	 2147483647};

/* splitmix64 step: advance *x and return the mixed value. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Seed r from seed through splitmix64. */
void fuzz_rng_seed(struct fuzz_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

/* Rotate x left by k bits (0 < k < 64). */
static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* The next 64 random bits (xoshiro256**). */
uint64_t fuzz_rng_next(struct fuzz_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* A uniform value in [0, n) (n > 0), by multiply-shift. */
uint64_t fuzz_rng_below(struct fuzz_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)fuzz_rng_next(r) * n) >> 64);
}

/* A block length for an input of len bytes (AFL's choose_block_len): small
 * blocks most of the time, at most len, at least 1. */
static size_t block_len(struct fuzz_rng *r, size_t len)
{
	size_t lo = 1, hi;

	switch (fuzz_rng_below(r, 3)) {
	case 0:
		hi = BLOCK_SMALL;
		break;
	case 1:
		hi = BLOCK_MEDIUM;
		break;
	default:
		lo = BLOCK_MEDIUM;
		hi = BLOCK_LARGE;
		break;
	}
	if (lo >= len)
		lo = 1;
	if (hi > len)
		hi = len;
	return lo + fuzz_rng_below(r, hi - lo + 1);
}

/* Byte-swap a 16-bit value. */
static uint16_t swap16(uint16_t v)
{
	return (uint16_t)(v << 8 | v >> 8);
}

/* Store v at p (unaligned). */
static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* Store v at p (unaligned). */
static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Load 16 bits at p (unaligned). */
static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* Load 32 bits at p (unaligned). */
static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Add delta to the 16-bit word at p, in random byte order. */
static void arith16(struct fuzz_rng *r, uint8_t *p, int delta)
{
	uint16_t v = get16(p);

	if (fuzz_rng_below(r, 2))
		put16(p, (uint16_t)(v + delta));
	else
		put16(p, swap16((uint16_t)(swap16(v) + delta)));
}

/* Add delta to the 32-bit word at p, in random byte order. */
static void arith32(struct fuzz_rng *r, uint8_t *p, int delta)
{
	uint32_t v = get32(p);

	if (fuzz_rng_below(r, 2))
		put32(p, v + (uint32_t)delta);
	else
		put32(p, __builtin_bswap32(__builtin_bswap32(v) +
					   (uint32_t)delta));
}

/* A nonzero delta in -ARITH_MAX..ARITH_MAX. */
static int delta(struct fuzz_rng *r)
{
	int d = 1 + (int)fuzz_rng_below(r, ARITH_MAX);

	return fuzz_rng_below(r, 2) ? d : -d;
}

/* A byte to fill a block of buf[0, n) with: random, or one of buf's. */
static int fill_byte(struct fuzz_rng *r, const uint8_t *buf, size_t n)
{
	return fuzz_rng_below(r, 2) ? (int)fuzz_rng_below(r, 256)
				    : buf[fuzz_rng_below(r, n)];
}

/* Set a random word of buf[0, n) to an interesting value, in either byte
 * order. */
static void interesting_word(struct fuzz_rng *r, uint8_t *buf, size_t n)
{
	size_t pos;

	if (n < 2)
		return;
	pos = fuzz_rng_below(r, n - 1);
	put16(buf + pos, (uint16_t)interesting16[fuzz_rng_below(r, 10)]);
	if (fuzz_rng_below(r, 2))
		put16(buf + pos, swap16(get16(buf + pos)));
}

/* Set a random dword of buf[0, n) to an interesting value, in either byte
 * order. */
static void interesting_dword(struct fuzz_rng *r, uint8_t *buf, size_t n)
{
	size_t pos;

	if (n < 4)
		return;
	pos = fuzz_rng_below(r, n - 3);
	put32(buf + pos, (uint32_t)interesting32[fuzz_rng_below(r, 8)]);
	if (fuzz_rng_below(r, 2))
		put32(buf + pos, __builtin_bswap32(get32(buf + pos)));
}

/* Delete a block of buf[0, n); returns the new length. */
static size_t delete_block(struct fuzz_rng *r, uint8_t *buf, size_t n)
{
	size_t bl, pos;

	if (n < 2)
		return n;
	bl = block_len(r, n - 1);
	pos = fuzz_rng_below(r, n - bl + 1);
	memmove(buf + pos, buf + pos + bl, n - pos - bl);
	return n - bl;
}

/* Insert into buf[0, n) (capacity max) a cloned block (3/4) or a run of
 * one byte; returns the new length. */
static size_t insert_block(struct fuzz_rng *r, uint8_t *buf, size_t n,
			   size_t max)
{
	size_t bl, pos, from;

	if (n >= max)
		return n;
	bl = block_len(r, n < max - n ? n : max - n);
	pos = fuzz_rng_below(r, n + 1);
	memmove(buf + pos + bl, buf + pos, n - pos);
	if (fuzz_rng_below(r, 4)) {
		uint8_t tmp[BLOCK_LARGE];

		from = fuzz_rng_below(r, n - (bl < n ? bl : n) + 1);
		/* the source may straddle the hole: copy from the original
		 * bytes */
		for (size_t i = 0; i < bl; i++) {
			size_t s = from + i % n;

			tmp[i] = s < pos ? buf[s] : buf[s + bl];
		}
		memcpy(buf + pos, tmp, bl);
	} else {
		memset(buf + pos, fill_byte(r, buf, n), bl);
	}
	return n + bl;
}

/* Overwrite a block of buf[0, n) with a copied block (3/4) or one byte. */
static void overwrite_block(struct fuzz_rng *r, uint8_t *buf, size_t n)
{
	size_t bl, pos, from;

	if (n < 2)
		return;
	bl = block_len(r, n - 1);
	pos = fuzz_rng_below(r, n - bl + 1);
	if (fuzz_rng_below(r, 4)) {
		from = fuzz_rng_below(r, n - bl + 1);
		memmove(buf + pos, buf + from, bl);
	} else {
		memset(buf + pos, fill_byte(r, buf, n), bl);
	}
}

/* One havoc mutation of buf[0..*len) (capacity max). */
static void havoc_one(struct fuzz_rng *r, uint8_t *buf, size_t *len, size_t max)
{
	size_t n = *len, pos;

	switch (fuzz_rng_below(r, 15)) {
	case 0: /* flip one bit */
		pos = fuzz_rng_below(r, n * 8);
		buf[pos / 8] ^= (uint8_t)(0x80 >> (pos % 8));
		break;
	case 1: /* interesting byte */
		buf[fuzz_rng_below(r, n)] = (uint8_t)
			interesting8[fuzz_rng_below(r, sizeof(interesting8))];
		break;
	case 2: /* interesting word, either byte order */
		interesting_word(r, buf, n);
		break;
	case 3: /* interesting dword, either byte order */
		interesting_dword(r, buf, n);
		break;
	case 4: /* byte arithmetic */
		pos = fuzz_rng_below(r, n);
		buf[pos] = (uint8_t)(buf[pos] + delta(r));
		break;
	case 5: /* word arithmetic */
		if (n >= 2)
			arith16(r, buf + fuzz_rng_below(r, n - 1), delta(r));
		break;
	case 6: /* dword arithmetic */
		if (n >= 4)
			arith32(r, buf + fuzz_rng_below(r, n - 3), delta(r));
		break;
	case 7: /* random byte: xor with a nonzero value */
	case 8:
		buf[fuzz_rng_below(r, n)] ^=
			(uint8_t)(1 + fuzz_rng_below(r, 255));
		break;
	case 9: /* delete a block */
	case 10:
		*len = delete_block(r, buf, n);
		break;
	case 11: /* insert a cloned block (3/4) or a run of one byte */
		*len = insert_block(r, buf, n, max);
		break;
	case 12: /* overwrite with a copied block (3/4) or one byte */
	case 13:
		overwrite_block(r, buf, n);
		break;
	default: /* set a byte to a random value */
		buf[fuzz_rng_below(r, n)] = (uint8_t)fuzz_rng_next(r);
		break;
	}
}

/* Apply 1 to 8 stacked havoc mutations to buf[0..*len) in place. */
void fuzz_havoc(struct fuzz_rng *r, uint8_t *buf, size_t *len, size_t max)
{
	unsigned stack = 1u << fuzz_rng_below(r, 4);

	if (!*len) {
		buf[0] = (uint8_t)fuzz_rng_next(r);
		*len = 1;
	}
	for (unsigned i = 0; i < stack; i++)
		havoc_one(r, buf, len, max);
}

/* Splice the head of a and the tail of b at a random point between their
 * first and last differing bytes; 0 when they differ in < 2 bytes. */
size_t fuzz_splice(struct fuzz_rng *r, const uint8_t *a, size_t alen,
		   const uint8_t *b, size_t blen, uint8_t *out, size_t max)
{
	size_t n = alen < blen ? alen : blen, first = n, last = 0, split;

	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i]) {
			if (first == n)
				first = i;
			last = i;
		}
	if (first == n || last - first < 2)
		return 0;
	split = first + fuzz_rng_below(r, last - first);
	if (blen > max)
		blen = max;
	memcpy(out, a, split);
	memcpy(out + split, b + split, blen - split);
	return blen;
}

/* AFL's count_class_lookup8. */
static const uint8_t bucket[256] = {
	[0] = 0,	  [1] = 1,	     [2] = 2,
	[3] = 4,	  [4 ... 7] = 8,     [8 ... 15] = 16,
	[16 ... 31] = 32, [32 ... 127] = 64, [128 ... 255] = 128,
};

/* Map hit counters to one bucket bit each, in place. */
void fuzz_classify(uint8_t *mem, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mem[i] = bucket[mem[i]];
}

/* Merge trace into virgin; 2 new edge, 1 new bucket, 0 nothing new. */
int fuzz_merge(uint8_t *virgin, const uint8_t *trace, size_t n, uint32_t *edges)
{
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t t = trace[i];

		if (!(t & ~virgin[i]))
			continue;
		if (!virgin[i]) {
			ret = 2;
			++*edges;
		} else if (!ret) {
			ret = 1;
		}
		virgin[i] |= t;
	}
	return ret;
}
