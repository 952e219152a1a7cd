/* The Linux personality's clock: guest time from the TSC against the
 * base the VMM gave at load (so a clone's clock goes on from its
 * snapshot's), and the sleeping and accounting calls built on it. */
#include "lx.h"

#define LX_NS 1000000000ull

/* Nanoseconds since the personality started, from the TSC. */
uint64_t lx_clock_ns(void)
{
	uint64_t khz = lx.boot->tsc_khz ? lx.boot->tsc_khz : 1000000;
	uint32_t lo, hi;
	uint64_t d;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	d = ((uint64_t)hi << 32 | lo) - lx.tsc0;
	return d / khz * 1000000ull + d % khz * 1000000ull / khz;
}

/* The time of clock clk in nanoseconds, or -EINVAL. */
static int64_t lx_clock(uint64_t clk, uint64_t *ns)
{
	uint64_t t = lx_clock_ns();

	switch (clk) {
	case 0:	 /* CLOCK_REALTIME */
	case 5:	 /* CLOCK_REALTIME_COARSE */
	case 8:	 /* CLOCK_REALTIME_ALARM */
	case 11: /* CLOCK_TAI */
		*ns = lx.realtime0 + t;
		return 0;
	case 1:
	case 2:
	case 3:
	case 4:
	case 6:
	case 7:
	case 9:
		*ns = t + LX_NS; /* monotonic and CPU time: since boot */
		return 0;
	}
	return -LX_EINVAL;
}

/* clock_gettime(clk, ts). */
static int64_t sys_clock_gettime(struct lx_regs *r, uint64_t clk, uint64_t uts,
				 uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	struct lx_timespec *ts = (struct lx_timespec *)(uintptr_t)uts;
	uint64_t ns;
	int64_t err = lx_clock(clk, &ns);

	(void)r, (void)c, (void)d, (void)e, (void)f;
	if (err)
		return err;
	if (!lx_user_ok(uts, sizeof(*ts)))
		return -LX_EFAULT;
	ts->sec = (int64_t)(ns / LX_NS);
	ts->nsec = (int64_t)(ns % LX_NS);
	return 0;
}

/* clock_getres(clk, res): 1 ns. */
static int64_t sys_clock_getres(struct lx_regs *r, uint64_t clk, uint64_t uts,
				uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	struct lx_timespec *ts = (struct lx_timespec *)(uintptr_t)uts;
	uint64_t ns;

	(void)r, (void)c, (void)d, (void)e, (void)f;
	if (lx_clock(clk, &ns))
		return -LX_EINVAL;
	if (uts) {
		if (!lx_user_ok(uts, sizeof(*ts)))
			return -LX_EFAULT;
		ts->sec = 0;
		ts->nsec = 1;
	}
	return 0;
}

/* gettimeofday(tv, tz). */
static int64_t sys_gettimeofday(struct lx_regs *r, uint64_t utv, uint64_t utz,
				uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	uint64_t ns = lx.realtime0 + lx_clock_ns();
	int64_t *tv = (int64_t *)(uintptr_t)utv;

	(void)r, (void)c, (void)d, (void)e, (void)f;
	if (utv) {
		if (!lx_user_ok(utv, 16))
			return -LX_EFAULT;
		tv[0] = (int64_t)(ns / LX_NS);
		tv[1] = (int64_t)(ns % LX_NS / 1000);
	}
	if (utz) {
		if (!lx_user_ok(utz, 8))
			return -LX_EFAULT;
		lx_zero((void *)(uintptr_t)utz, 8);
	}
	return 0;
}

/* time(t). */
static int64_t sys_time(struct lx_regs *r, uint64_t ut, uint64_t b, uint64_t c,
			uint64_t d, uint64_t e, uint64_t f)
{
	int64_t s = (int64_t)((lx.realtime0 + lx_clock_ns()) / LX_NS);

	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	if (ut) {
		if (!lx_user_ok(ut, 8))
			return -LX_EFAULT;
		*(int64_t *)(uintptr_t)ut = s;
	}
	return s;
}

/* Sleep ns nanoseconds in the host, in as many calls as the host cuts it
 * into, until the guest clock says they have passed; 0. */
static int64_t lx_sleep(uint64_t ns)
{
	uint64_t end = lx_clock_ns() + ns, now;

	lx_out_flush();
	while ((now = lx_clock_ns()) < end) {
		struct cowvm_hc_linux_sleep s = {end - now, 0};

		guest_hc(COWVM_HC_LINUX_SLEEP, &s);
	}
	return 0;
}

/* The nanoseconds of a user timespec, or -EFAULT / -EINVAL. */
static int64_t lx_timespec_ns(uint64_t uts, uint64_t *ns)
{
	const struct lx_timespec *ts = (const void *)(uintptr_t)uts;

	if (!lx_user_ok(uts, sizeof(*ts)))
		return -LX_EFAULT;
	if (ts->sec < 0 || ts->nsec < 0 || ts->nsec >= (int64_t)LX_NS)
		return -LX_EINVAL;
	*ns = (uint64_t)ts->sec * LX_NS + (uint64_t)ts->nsec;
	return 0;
}

/* nanosleep(req, rem). */
static int64_t sys_nanosleep(struct lx_regs *r, uint64_t ureq, uint64_t urem,
			     uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	uint64_t ns;
	int64_t err = lx_timespec_ns(ureq, &ns);

	(void)r, (void)urem, (void)c, (void)d, (void)e, (void)f;
	return err ? err : lx_sleep(ns);
}

/* clock_nanosleep(clk, flags, req, rem): TIMER_ABSTIME (1) sleeps until
 * the clock reaches req. */
static int64_t sys_clock_nanosleep(struct lx_regs *r, uint64_t clk,
				   uint64_t flags, uint64_t ureq, uint64_t urem,
				   uint64_t e, uint64_t f)
{
	uint64_t ns, now;
	int64_t err = lx_timespec_ns(ureq, &ns);

	(void)r, (void)urem, (void)e, (void)f;
	if (err)
		return err;
	if (lx_clock(clk, &now))
		return -LX_EINVAL;
	if (flags & 1)
		ns = ns > now ? ns - now : 0;
	return lx_sleep(ns);
}

/* times(buf): CPU time is the time since boot, in 100 Hz ticks. */
static int64_t sys_times(struct lx_regs *r, uint64_t ubuf, uint64_t b,
			 uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	int64_t ticks = (int64_t)(lx_clock_ns() / 10000000ull);

	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	if (ubuf) {
		if (!lx_user_ok(ubuf, 32))
			return -LX_EFAULT;
		lx_zero((void *)(uintptr_t)ubuf, 32);
		*(int64_t *)(uintptr_t)ubuf = ticks;
	}
	return ticks;
}

/* getrusage(who, ru): user time is the time since boot. */
static int64_t sys_getrusage(struct lx_regs *r, uint64_t who, uint64_t uru,
			     uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	uint64_t us = lx_clock_ns() / 1000;
	int64_t *ru = (int64_t *)(uintptr_t)uru;

	(void)r, (void)who, (void)c, (void)d, (void)e, (void)f;
	if (!lx_user_ok(uru, 144))
		return -LX_EFAULT;
	lx_zero(ru, 144);
	ru[0] = (int64_t)(us / 1000000);
	ru[1] = (int64_t)(us % 1000000);
	return 0;
}

/* sysinfo(info): uptime and the RAM the program may use. */
static int64_t sys_sysinfo(struct lx_regs *r, uint64_t ui, uint64_t b,
			   uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	uint64_t *s = (uint64_t *)(uintptr_t)ui;

	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	if (!lx_user_ok(ui, 112))
		return -LX_EFAULT;
	lx_zero(s, 112);
	s[0] = lx_clock_ns() / LX_NS;			    /* uptime */
	s[4] = lx.ram_top;				    /* totalram */
	s[5] = lx.mmap_top - (lx.brk + 4095) / 4096 * 4096; /* freeram */
	((uint16_t *)s)[40] = 1;			    /* procs */
	((uint32_t *)s)[26] = 1;			    /* mem_unit */
	return 0;
}

const struct lx_sys lx_time_calls[] = {
	{NR_clock_gettime, 2, 0, "clock_gettime", sys_clock_gettime},
	{NR_clock_getres, 2, 0, "clock_getres", sys_clock_getres},
	{NR_gettimeofday, 2, 0, "gettimeofday", sys_gettimeofday},
	{NR_time, 1, 0, "time", sys_time},
	{NR_nanosleep, 2, 0, "nanosleep", sys_nanosleep},
	{NR_clock_nanosleep, 4, 0, "clock_nanosleep", sys_clock_nanosleep},
	{NR_times, 1, 0, "times", sys_times},
	{NR_getrusage, 2, 0, "getrusage", sys_getrusage},
	{NR_sysinfo, 1, 0, "sysinfo", sys_sysinfo},
	{0, 0, 0, 0, 0},
};
