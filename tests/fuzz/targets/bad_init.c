/* Test fixture: a target whose init traps before the snapshot. */
#include "fuzz_target.h"

/* Trap (#UD) during init. */
void cowvm_target_init(void)
{
	__builtin_trap();
}

/* Never reached. */
int cowvm_target(const uint8_t *d, size_t n)
{
	(void)d;
	(void)n;
	return 0;
}
