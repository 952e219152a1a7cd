/* Test fixture: a target that never returns on inputs starting with 'H'. */
#include "fuzz_target.h"

/* Spin forever on "H...", return 0 otherwise. */
int cowvm_target(const uint8_t *d, size_t n)
{
	if (n && d[0] == 'H')
		for (volatile int spin = 1; spin;)
			;
	return 0;
}
