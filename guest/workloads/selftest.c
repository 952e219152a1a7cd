/* The cowvm guest's `selftest` workload: integer, stack, memory, SSE, x87
 * and hypercall checks, one line each, then a PASS/FAIL verdict. */
#include "workloads.h"

typedef unsigned __int128 u128;
typedef uint64_t u64_unaligned __attribute__((aligned(1), may_alias));

#define MIB    (1ull << 20)
#define DETAIL 160

/* Operands live in volatile globals so that the guest CPU computes the
 * results at run time, while the expected values are folded at build time
 * by the compiler from the same literals. */
static volatile uint64_t ia = 0x123456789abcdef1ull, ib = 0xfedcba9876543211ull;
static volatile uint64_t idiv = 12345;
static volatile int64_t ineg = -1234567890123ll;

/* Integer unit: 128-bit multiply, unsigned and signed division, shifts,
 * rotates and bit scans against compile-time results. */
static int check_integer(char *detail)
{
	u128 p = (u128)ia * ib;
	const u128 p_exp = (u128)0x123456789abcdef1ull * 0xfedcba9876543211ull;
	uint64_t a = ia, d = idiv;
	int64_t n = ineg;

	if (p != p_exp) {
		guest_snprintf(detail, DETAIL, "mul128 hi=0x%lx",
			       (uint64_t)(p >> 64));
		return -1;
	}
	if (a / d != 0x123456789abcdef1ull / 12345 ||
	    a % d != 0x123456789abcdef1ull % 12345) {
		guest_snprintf(detail, DETAIL, "div q=%lu r=%lu", a / d, a % d);
		return -1;
	}
	if (n / (int64_t)d != -1234567890123ll / 12345 ||
	    n % (int64_t)d != -1234567890123ll % 12345 ||
	    n >> 7 != -1234567890123ll >> 7) {
		guest_snprintf(detail, DETAIL, "idiv q=%ld r=%ld sar=%ld",
			       n / (int64_t)d, n % (int64_t)d, n >> 7);
		return -1;
	}
	if (((a << 13) | (a >> 51)) != ((0x123456789abcdef1ull << 13) |
					(0x123456789abcdef1ull >> 51)) ||
	    __builtin_clzll(a) != 3 || __builtin_ctzll(a) != 0 ||
	    __builtin_ctzll(d << 9) != 9) {
		guest_snprintf(detail, DETAIL, "rotate/bit scan");
		return -1;
	}
	return 0;
}

/* One recursion level: keeps a frame with a pad, tracks the lowest stack
 * address reached and returns the sum of squares 1..n. */
__attribute__((noinline, noipa)) static uint64_t deep(uint64_t n,
						      uintptr_t *lowest)
{
	volatile uint64_t pad[8];
	uint64_t r;

	pad[0] = n;
	pad[7] = ~n;
	if ((uintptr_t)pad < *lowest)
		*lowest = (uintptr_t)pad;
	r = n ? deep(n - 1, lowest) : 0;
	if (pad[7] != ~n)
		return 0;
	return r + pad[0] * pad[0];
}

/* Reports whether this function's frame is 16-byte aligned as the SysV
 * ABI requires (rsp + 8 aligned at entry, so rbp aligned after push). */
__attribute__((noinline, noipa)) static int frame_aligned(void)
{
	return ((uintptr_t)__builtin_frame_address(0) & 15) == 0;
}

/* Stack: deep recursion, a large local buffer, ABI alignment, and that the
 * stack pointer stays inside the ring-3 stack. */
static int check_stack(char *detail)
{
	const uint64_t depth = 200;
	uintptr_t lowest = UINTPTR_MAX;
	volatile uint8_t big[16384];
	uint64_t sum = deep(depth, &lowest);

	if (sum != depth * (depth + 1) * (2 * depth + 1) / 6) {
		guest_snprintf(detail, DETAIL, "recursion sum=%lu", sum);
		return -1;
	}
	if (lowest < (uintptr_t)guest_ustack ||
	    lowest >= (uintptr_t)guest_ustack_top) {
		guest_snprintf(detail, DETAIL, "rsp 0x%lx outside user stack",
			       (uint64_t)lowest);
		return -1;
	}
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(big); i++)
		if (big[i] != (uint8_t)(i * 7 + 3)) {
			guest_snprintf(detail, DETAIL, "local buffer byte %lu",
				       (uint64_t)i);
			return -1;
		}
	if (!frame_aligned()) {
		guest_snprintf(detail, DETAIL, "frame not 16-byte aligned");
		return -1;
	}
	return 0;
}

/* Word pattern of address a for pass k. */
static uint64_t word_at(uint64_t a, uint64_t k)
{
	return (a * 0x9e3779b97f4a7c15ull) ^ (k * 0x5a5a5a5a5a5a5a5aull) ^ a;
}

/* Memory: word patterns and their complements over a few MiB from 2 MiB,
 * unaligned stores straddling every page boundary and a 16-byte store
 * across the 2 MiB boundary, and string fill/copy across pages. */
static int check_memory(char *detail)
{
	static const uint64_t lens[] = {4 * MIB, 2 * MIB + 64 * 1024, MIB};
	const uint64_t base = 2 * MIB;
	uint64_t len = 0;
	volatile uint64_t *w;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]) && !len; i++)
		if (guest_ram_contains(base, lens[i]))
			len = lens[i];
	if (!len) {
		guest_snprintf(detail, DETAIL, "no RAM at 0x%lx", base);
		return -1;
	}
	w = (volatile uint64_t *)(uintptr_t)base;
	for (uint64_t k = 0; k < 2; k++) {
		uint64_t flip = k ? ~0ull : 0;

		for (uint64_t i = 0; i < len / 8; i++)
			w[i] = word_at(base + i * 8, k) ^ flip;
		for (uint64_t i = 0; i < len / 8; i++)
			if (w[i] != (word_at(base + i * 8, k) ^ flip)) {
				guest_snprintf(detail, DETAIL,
					       "pattern %lu at 0x%lx", k,
					       base + i * 8);
				return -1;
			}
	}
	for (uint64_t b = base + 4096; b < base + len; b += 4096) {
		volatile uint32_t *lo = (volatile uint32_t *)(uintptr_t)(b - 4);
		volatile uint32_t *hi = (volatile uint32_t *)(uintptr_t)b;
		uint64_t v = word_at(b, 3);

		*(volatile u64_unaligned *)(uintptr_t)(b - 4) = v;
		if (*lo != (uint32_t)v || *hi != (uint32_t)(v >> 32)) {
			guest_snprintf(detail, DETAIL, "straddle at 0x%lx", b);
			return -1;
		}
	}
	if (len > 2 * MIB) {
		uint64_t b = base + 2 * MIB - 8, out[2] = {0, 0};
		const uint64_t in[2] = {word_at(b, 4), word_at(b, 5)};

		__asm__ volatile("movdqu (%1), %%xmm0; movdqu %%xmm0, (%2);"
				 "movdqu (%2), %%xmm1; movdqu %%xmm1, (%3)"
				 :
				 : "m"(in), "r"(in), "r"(b), "r"(out)
				 : "xmm0", "xmm1", "memory");
		if (out[0] != in[0] || out[1] != in[1] ||
		    *(volatile uint64_t *)(uintptr_t)(b + 8) != in[1]) {
			guest_snprintf(detail, DETAIL,
				       "16-byte store across 0x%lx", b + 8);
			return -1;
		}
	}
	{
		uint8_t *s = (uint8_t *)(uintptr_t)(base + 100);
		size_t n = (size_t)(len / 2 - 200);
		volatile uint8_t *d = (volatile uint8_t *)(s + len / 2);

		memset(s, 0xc3, n);
		for (size_t i = 0; i < n; i += 509)
			s[i] = (uint8_t)i;
		memcpy((void *)(uintptr_t)d, s, n);
		for (size_t i = 0; i < n; i++)
			if (d[i] != (i % 509 ? 0xc3 : (uint8_t)i)) {
				guest_snprintf(detail, DETAIL,
					       "fill/copy at 0x%lx",
					       (uint64_t)(uintptr_t)(d + i));
				return -1;
			}
	}
	guest_snprintf(detail, DETAIL, "0x%lx..0x%lx", base, base + len);
	return 0;
}

/* SSE inputs (16-byte aligned) and build-time expected results. */
static const double sse_a0[2] __attribute__((aligned(16))) = {0.1, 1.5};
static const double sse_a1[2] __attribute__((aligned(16))) = {0.2, 2.25};
static const double sse_a2[2] __attribute__((aligned(16))) = {2.0, 9.0};
static const double sse_a3[2] __attribute__((aligned(16))) = {1.0, 1.0};
static const double sse_a4[2] __attribute__((aligned(16))) = {3.0, 7.0};
static const float sse_f0[4]
	__attribute__((aligned(16))) = {1.0f, 2.0f, 3.0f, 10.0f};
static const float sse_f1[4]
	__attribute__((aligned(16))) = {0.1f, 0.7f, 1e10f, 3.0f};
static const uint64_t sse_i0[2] __attribute__((aligned(16))) = {
	0x0123456789abcdefull, 0xfedcba9876543210ull};
static const uint64_t sse_i1[2] __attribute__((aligned(16))) = {
	0x1111111111111111ull, 0xf0f0f0f0f0f0f0f0ull};

#define I0A 0x0123456789abcdefull
#define I0B 0xfedcba9876543210ull
#define I1A 0x1111111111111111ull
#define I1B 0xf0f0f0f0f0f0f0f0ull

struct sse_expect {
	double x0[2], x1[2], x2[2], x3[2];
	float x4[4];
	uint64_t x5[2], x6[2];
	uint32_t x7[4];
	double x8[2], x9[2];
	uint64_t x10[2];
	float x11[4];
	uint64_t x12[2];
	int32_t x13[4];
	double x14[2];
	float x15[4];
};

static const struct sse_expect sse_exp = {
	.x0 = {0.1 + 0.2, 1.5 + 2.25},
	.x1 = {0.2, 2.25},
	.x2 = {__builtin_sqrt(2.0), __builtin_sqrt(9.0)},
	.x3 = {1.0 / 3.0, 1.0 / 7.0},
	.x4 = {1.0f * 0.1f, 2.0f * 0.7f, 3.0f * 1e10f, 10.0f * 3.0f},
	.x5 = {I0A + I1A, I0B + I1B},
	.x6 = {(I0A & 0xffffffffull) * (I1A & 0xffffffffull),
	       (I0B & 0xffffffffull) * (I1B & 0xffffffffull)},
	.x7 = {(uint32_t)(I0B >> 32), (uint32_t)I0B, (uint32_t)(I0A >> 32),
	       (uint32_t)I0A},
	.x8 = {(0.1 + 0.2) * __builtin_sqrt(2.0), (1.5 + 2.25) * 3.0},
	.x9 = {1.0 / 3.0 - (0.1 + 0.2), 1.0 / 7.0 - (1.5 + 2.25)},
	.x10 = {I0A ^ I1A, I0B ^ I1B},
	.x11 = {__builtin_sqrtf(0.1f), __builtin_sqrtf(0.7f),
		__builtin_sqrtf(1e10f), __builtin_sqrtf(3.0f)},
	.x12 = {I0A << 13, I0B << 13},
	.x13 = {(int32_t)(uint32_t)I0A >> 5,
		(int32_t)(uint32_t)(I0A >> 32) >> 5,
		(int32_t)(uint32_t)I0B >> 5,
		(int32_t)(uint32_t)(I0B >> 32) >> 5},
	.x14 = {3.0 / 2.0, 7.0 / 9.0},
	.x15 = {1.0f * 0.1f + 1.0f, 2.0f * 0.7f + 2.0f, 3.0f * 1e10f + 3.0f,
		10.0f * 3.0f + 10.0f},
};

/* x87 expected results, rounded to 64-bit mantissas at build time. */
static const long double x87_exp_sqrt2 = __builtin_sqrtl(2.0L);
static const long double x87_exp_pi3 =
	3.14159265358979323846264338327950288L * 3.0L;

/* SSE2 and x87: compute into all 16 xmm registers and two x87 registers,
 * issue a hypercall (an exit under cowvm) with the values live, then store
 * the registers and compare bit for bit with build-time results. */
/* Load known values into xmm0-15 and two x87 registers, issue the INFO
 * hypercall (an exit under cowvm) with all of them live, then store them
 * into out and x87. */
static void fpu_exercise(uint64_t out[16][2], unsigned char x87[2][16])
{
	struct cowvm_hc_info info = {0, 0, 0};

	__asm__ volatile("movapd %[a0], %%xmm0\n\t"
			 "movapd %[a1], %%xmm1\n\t"
			 "addpd %%xmm1, %%xmm0\n\t"
			 "sqrtpd %[a2], %%xmm2\n\t"
			 "movapd %[a3], %%xmm3\n\t"
			 "divpd %[a4], %%xmm3\n\t"
			 "movaps %[f0], %%xmm4\n\t"
			 "mulps %[f1], %%xmm4\n\t"
			 "movdqa %[i0], %%xmm5\n\t"
			 "paddq %[i1], %%xmm5\n\t"
			 "movdqa %[i0], %%xmm6\n\t"
			 "pmuludq %[i1], %%xmm6\n\t"
			 "pshufd $0x1b, %[i0], %%xmm7\n\t"
			 "movapd %%xmm0, %%xmm8\n\t"
			 "mulpd %%xmm2, %%xmm8\n\t"
			 "movapd %%xmm3, %%xmm9\n\t"
			 "subpd %%xmm0, %%xmm9\n\t"
			 "movdqa %[i0], %%xmm10\n\t"
			 "pxor %[i1], %%xmm10\n\t"
			 "sqrtps %[f1], %%xmm11\n\t"
			 "movdqa %[i0], %%xmm12\n\t"
			 "psllq $13, %%xmm12\n\t"
			 "movdqa %[i0], %%xmm13\n\t"
			 "psrad $5, %%xmm13\n\t"
			 "movapd %[a4], %%xmm14\n\t"
			 "divpd %[a2], %%xmm14\n\t"
			 "movaps %%xmm4, %%xmm15\n\t"
			 "addps %[f0], %%xmm15\n\t"
			 "fld1\n\t"
			 "fld1\n\t"
			 "faddp\n\t"
			 "fsqrt\n\t"
			 "fldpi\n\t"
			 "fmuls %[three]\n\t"
			 /* The hypercall (an exit under cowvm) with every
			  * value above live in a register. */
			 "outl %%eax, %%dx\n\t"
			 "fstpt %[x87a]\n\t"
			 "fstpt %[x87b]\n\t"
			 "movdqa %%xmm0, 0x00(%[out])\n\t"
			 "movdqa %%xmm1, 0x10(%[out])\n\t"
			 "movdqa %%xmm2, 0x20(%[out])\n\t"
			 "movdqa %%xmm3, 0x30(%[out])\n\t"
			 "movdqa %%xmm4, 0x40(%[out])\n\t"
			 "movdqa %%xmm5, 0x50(%[out])\n\t"
			 "movdqa %%xmm6, 0x60(%[out])\n\t"
			 "movdqa %%xmm7, 0x70(%[out])\n\t"
			 "movdqa %%xmm8, 0x80(%[out])\n\t"
			 "movdqa %%xmm9, 0x90(%[out])\n\t"
			 "movdqa %%xmm10, 0xa0(%[out])\n\t"
			 "movdqa %%xmm11, 0xb0(%[out])\n\t"
			 "movdqa %%xmm12, 0xc0(%[out])\n\t"
			 "movdqa %%xmm13, 0xd0(%[out])\n\t"
			 "movdqa %%xmm14, 0xe0(%[out])\n\t"
			 "movdqa %%xmm15, 0xf0(%[out])\n\t"
			 : [x87a] "=m"(x87[0]), [x87b] "=m"(x87[1])
			 : [a0] "m"(sse_a0), [a1] "m"(sse_a1), [a2] "m"(sse_a2),
			   [a3] "m"(sse_a3), [a4] "m"(sse_a4), [f0] "m"(sse_f0),
			   [f1] "m"(sse_f1), [i0] "m"(sse_i0), [i1] "m"(sse_i1),
			   [three] "m"((float){3.0f}), [out] "r"(out),
			   "a"((uint32_t)(uintptr_t)&info),
			   "d"((uint16_t)COWVM_HC_PORT(COWVM_HC_INFO))
			 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
			   "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
			   "xmm12", "xmm13", "xmm14", "xmm15", "st", "st(1)",
			   "memory");
}

/* The FPU check: values survive the hypercall exit; 0, or -1 with the
 * first difference in detail (xmm) and x87_detail, *x87_rc (x87). */
static int check_fpu(char *detail, char *x87_detail, int *x87_rc)
{
	uint64_t out[16][2] __attribute__((aligned(16)));
	unsigned char x87[2][16];
	const uint64_t *e = (const uint64_t *)&sse_exp;

	memset(x87, 0, sizeof(x87));
	fpu_exercise(out, x87);
	*x87_rc = 0;
	if (memcmp(x87[0], &x87_exp_pi3, 10) ||
	    memcmp(x87[1], &x87_exp_sqrt2, 10)) {
		uint64_t m0, m1;

		memcpy(&m0, x87[0], 8);
		memcpy(&m1, x87[1], 8);
		guest_snprintf(x87_detail, DETAIL,
			       "st0 mantissa=%016lx st1 mantissa=%016lx", m0,
			       m1);
		*x87_rc = -1;
	}
	for (int r = 0; r < 16; r++)
		if (out[r][0] != e[2 * r] || out[r][1] != e[2 * r + 1]) {
			guest_snprintf(detail, DETAIL,
				       "xmm%d=%016lx%016lx expected "
				       "%016lx%016lx",
				       r, out[r][1], out[r][0], e[2 * r + 1],
				       e[2 * r]);
			return -1;
		}
	return 0;
}

static const char *first_failure;

/* Print one check's line and remember the first failing check. */
static void report(const char *name, int rc, const char *detail)
{
	if (rc) {
		guest_printf("selftest: %s FAIL %s\n", name, detail);
		if (!first_failure)
			first_failure = name;
	} else if (detail[0]) {
		guest_printf("selftest: %s ok (%s)\n", name, detail);
	} else {
		guest_printf("selftest: %s ok\n", name);
	}
}

/* selftest: run every check, print a line each and the verdict; 0 on
 * "selftest: PASS", 1 on "selftest: FAIL <check>". */
int guest_selftest(int argc, char **argv)
{
	const char *cl = "";
	char detail[DETAIL], x87_detail[DETAIL];
	int x87_rc, rc;

	(void)argc;
	(void)argv;
	if (guest_start->cmdline_paddr)
		cl = (const char *)(uintptr_t)guest_start->cmdline_paddr;
	guest_printf("selftest: boot=%s ram=0x%lx cmdline='%s'\n",
		     guest_cowvm ? "cowvm" : "qemu", guest_ram_total(), cl);

	detail[0] = 0;
	report("integer", check_integer(detail), detail);
	detail[0] = 0;
	report("stack", check_stack(detail), detail);
	detail[0] = 0;
	report("memory", check_memory(detail), detail);
	detail[0] = 0;
	x87_detail[0] = 0;
	rc = check_fpu(detail, x87_detail, &x87_rc);
	report("sse", rc, detail);
	report("x87", x87_rc, x87_detail);

	if (guest_cowvm) {
		struct cowvm_hc_info info;
		struct cowvm_hc_cmdline c;
		static char buf[COWVM_CMDLINE_MAX];

		memset(&info, 0x5a, sizeof(info));
		guest_hc(COWVM_HC_INFO, &info);
		rc = !(info.magic == COWVM_ABI_MAGIC &&
		       info.version == COWVM_ABI_VERSION &&
		       info.mem_size == guest_ram_total());
		guest_snprintf(detail, DETAIL,
			       "magic=0x%x version=%u mem_size=0x%lx",
			       info.magic, info.version, info.mem_size);
		report("hc-info", rc, detail);

		memset(buf, '#', sizeof(buf));
		c.buf = (uintptr_t)buf;
		c.size = sizeof(buf);
		c.len = ~0ull;
		guest_hc(COWVM_HC_CMDLINE, &c);
		rc = !(c.len == strlen(cl) && !strcmp(buf, cl));
		guest_snprintf(detail, DETAIL, "len=%lu", c.len);
		report("hc-cmdline", rc, detail);
	} else {
		guest_printf("selftest: hc-info skipped (not under cowvm)\n");
		guest_printf(
			"selftest: hc-cmdline skipped (not under cowvm)\n");
	}

	if (first_failure) {
		guest_printf("selftest: FAIL %s\n", first_failure);
		return 1;
	}
	guest_printf("selftest: PASS\n");
	return 0;
}
