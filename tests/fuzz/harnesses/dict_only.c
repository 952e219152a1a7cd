/* Test harness whose bug needs a 12-byte token anywhere in the input, found
 * through a dictionary (-x) or comparison feedback, not by havoc alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i + 12 <= n; i++)
		if (!memcmp(d + i, "cowvm-token!", 12))
			abort();
	return 0;
}
