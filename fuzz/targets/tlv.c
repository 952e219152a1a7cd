/* Example fuzz target: a type-length-value parser with a trailing checksum
 * byte. The planted bug sits behind nested conditions: a leading version-2
 * header record, then a scale record whose divisor of 0 is rejected only
 * for version 1, then a valid checksum: the scaling divides by zero
 * (#DE). */
#include "fuzz_target.h"

struct state {
	unsigned version, divisor, have_header, have_scale;
	volatile unsigned zero_scale; /* a store the compiler keeps */
	unsigned records;
	uint32_t total;
};

/* Apply one record; 0 to go on, -1 to reject the input. */
static int record(struct state *s, uint8_t type, const uint8_t *v, uint8_t len)
{
	switch (type) {
	case 1: /* header: version */
		if (len != 1 || s->have_header)
			return -1;
		if (v[0] != 1 && v[0] != 2)
			return -1;
		s->version = v[0];
		s->have_header = 1;
		return 0;
	case 2: /* data: summed */
		for (uint8_t i = 0; i < len; i++)
			s->total += v[i];
		return 0;
	case 3: /* scale: divisor */
		if (len != 1 || !s->have_header)
			return -1;
		if (v[0] == 0) {
			if (s->version == 1)
				return -1; /* the check forgets version 2 */
			s->zero_scale = 1;
		}
		s->divisor = v[0];
		s->have_scale = 1;
		return 0;
	default:
		return -1;
	}
}

/* Parse TYPE LEN VALUE... records (type 0: one byte of padding), the
 * first one a header, followed by one checksum byte (the sum of all bytes
 * before it, modulo 256). */
int cowvm_target(const uint8_t *d, size_t n)
{
	struct state s = {0, 1, 0, 0, 0, 0, 0};
	volatile unsigned result;
	uint8_t sum = 0;
	size_t i = 0;

	if (n < 5 || d[0] != 1) /* the header record comes first */
		return 0;
	while (i < n - 1) {
		uint8_t type = d[i], len = i + 1 < n - 1 ? d[i + 1] : 0;

		if (type == 0) { /* padding */
			i++;
			continue;
		}
		if (i + 2 + len > n - 1)
			return 0;
		if (record(&s, type, d + i + 2, len))
			return 0;
		s.records++;
		i += 2 + (size_t)len;
	}
	if (i != n - 1)
		return 0;
	for (size_t j = 0; j < n - 1; j++)
		sum = (uint8_t)(sum + d[j]);
	if (sum != d[n - 1])
		return 0;
	if (s.have_scale)
		result = s.total / s.divisor; /* #DE when the divisor is 0 */
	else
		result = s.total;
	(void)result;
	return 0;
}
