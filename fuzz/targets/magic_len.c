/* Example fuzz target: a 4-byte magic, then a length byte that must match
 * the rest of the input, then a write at an offset the input chooses (the
 * planted bug: the offset is never checked). */
#include "fuzz_target.h"

/* volatile: the compiler must not drop the stores */
static volatile uint8_t table[256];

/* Parse "CVM!" LEN CMD ...: command 'W' writes value at off. */
int cowvm_target(const uint8_t *d, size_t n)
{
	uint32_t off;

	if (n < 11)
		return 0;
	/* One comparison per byte, so coverage sees each one match. */
	if (d[0] != 'C')
		return 0;
	if (d[1] != 'V')
		return 0;
	if (d[2] != 'M')
		return 0;
	if (d[3] != '!')
		return 0;
	if (d[4] != n - 5)
		return 0;
	if (d[5] != 'W')
		return 0;
	off = (uint32_t)d[6] | (uint32_t)d[7] << 8 | (uint32_t)d[8] << 16 |
	      (uint32_t)d[9] << 24;
	/* The bug: off is trusted; past guest RAM the write faults (#PF). */
	table[off] = d[10];
	return 0;
}
