/* Test fixture: an input starting with 'F' changes the rounding modes of
 * SSE (MXCSR) and x87 (the control word) and returns; every input first
 * checks that it starts with the modes of the snapshot and returns 9 if a
 * change from an earlier input is still there. */
#include "fuzz_target.h"

static uint32_t mxcsr0;
static uint16_t fcw0;

/* MXCSR without its sticky exception flags. */
static uint32_t mxcsr_control(void)
{
	uint32_t m;

	__asm__ volatile("stmxcsr %0" : "=m"(m));
	return m & ~0x3fu;
}

/* The x87 control word. */
static uint16_t fcw(void)
{
	uint16_t c;

	__asm__ volatile("fnstcw %0" : "=m"(c));
	return c;
}

/* Record the modes the snapshot holds. */
void cowvm_target_init(void)
{
	mxcsr0 = mxcsr_control();
	fcw0 = fcw();
}

/* 9 if the modes differ from the snapshot's; 'F' flips both to round
 * toward zero. */
int cowvm_target(const uint8_t *d, size_t n)
{
	uint32_t m = mxcsr_control() ^ 0x6000u;
	uint16_t c = (uint16_t)(fcw() ^ 0x0c00u);

	if (mxcsr_control() != mxcsr0 || fcw() != fcw0)
		return 9;
	if (n && d[0] == 'F') {
		__asm__ volatile("ldmxcsr %0" : : "m"(m));
		__asm__ volatile("fldcw %0" : : "m"(c));
	}
	return 0;
}
