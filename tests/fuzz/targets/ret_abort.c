/* Test fixture: 'R' makes the target return 7, 'A' calls the abort hook. */
#include "fuzz_target.h"

/* Return 7 on "R...", abort on "A...", 0 otherwise. */
int cowvm_target(const uint8_t *d, size_t n)
{
	if (n && d[0] == 'R')
		return 7;
	if (n && d[0] == 'A')
		cowvm_target_abort();
	return 0;
}
