/* The cowvm guest's `forktest` workload: fills a region with the memtest
 * pattern, then in each round takes a snapshot, checks that registers and
 * memory survived it and writes pages chosen by the id the host returned. */
#include "workloads.h"
#include "cowvm_workload_abi.h"

#define FT_GOLDEN     0x9e3779b97f4a7c15ull
#define FT_FNV_OFFSET 0xcbf29ce484222325ull
#define FT_FNV_PRIME  0x100000001b3ull
#define FT_PAGE	      4096ull
#define FT_WORDS      (FT_PAGE / 8)
#define FT_STRIDE     13ull /* the round's page offset, cowvm_workload_abi.h */
/* Preset into ret under cowvm: the host must overwrite it. */
#define FT_RET_UNSET (-0x7fffffffffffffffll - 1)

/* Register values loaded before the snapshot and compared after it; the
 * layout is fixed by the offsets in guest/workloads/forktest_hc.S. */
struct forktest_regs {
	uint64_t xmm[32]; /* xmm0..xmm15, low then high quadword */
	uint64_t gpr[13]; /* rbx rcx rsi rdi rbp r8..r15 */
	uint64_t mxcsr;
	uint64_t fcw;
	int64_t x87[2];
	uint64_t rflags; /* CF PF AF ZF SF DF OF (mask 0xcd5) */
} __attribute__((aligned(16)));

_Static_assert(__builtin_offsetof(struct forktest_regs, gpr) == 256, "gpr");
_Static_assert(__builtin_offsetof(struct forktest_regs, mxcsr) == 360, "mx");
_Static_assert(__builtin_offsetof(struct forktest_regs, fcw) == 368, "fcw");
_Static_assert(__builtin_offsetof(struct forktest_regs, x87) == 376, "x87");
_Static_assert(__builtin_offsetof(struct forktest_regs, rflags) == 392, "fl");

/* Load *v, issue COWVM_HC_SNAPSHOT with s, compare; the mismatch bits
 * (guest/workloads/forktest_hc.S), 0 when every register survived. */
uint64_t guest_forktest_hc(struct cowvm_hc_snapshot *s,
			   const struct forktest_regs *v);

/* The splitmix64 output function applied to state z. */
static uint64_t ft_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The FNV-style checksum of words [0, n) at p, as memtest folds it. */
static uint64_t ft_checksum(const volatile uint64_t *p, uint64_t n)
{
	uint64_t h = FT_FNV_OFFSET;

	for (uint64_t i = 0; i < n; i++)
		h = (h ^ p[i]) * FT_FNV_PRIME;
	return h;
}

/* Fill words [first, first + n) at p with the memtest pattern of seed,
 * word positions counted from p (so any page matches a full fill). */
static void ft_fill(uint64_t *p, uint64_t first, uint64_t n, uint64_t seed)
{
	for (uint64_t i = first; i < first + n; i++)
		p[i] = ft_mix(seed + (i + 1) * FT_GOLDEN);
}

/* Register values for round r of seed: each a distinct pattern word, the
 * control registers a valid non-default mode that depends on r. */
static void ft_regs(struct forktest_regs *v, uint64_t seed, uint64_t r)
{
	uint64_t k = ft_mix(seed ^ (r * FT_GOLDEN)), n = 0;

	for (int i = 0; i < 32; i++)
		v->xmm[i] = ft_mix(k + ++n * FT_GOLDEN);
	for (int i = 0; i < 13; i++)
		v->gpr[i] = ft_mix(k + ++n * FT_GOLDEN);
	v->mxcsr = 0x1f80 | ((r & 3) << 13) | ((r & 4) ? 0x8000 : 0);
	v->fcw = 0x037f | ((r & 3) << 10);
	v->x87[0] = (int64_t)(ft_mix(k + ++n * FT_GOLDEN) >> 1);
	v->x87[1] = -(int64_t)(ft_mix(k + ++n * FT_GOLDEN) >> 2);
	v->rflags = ft_mix(k + ++n * FT_GOLDEN) & 0xcd5;
}

/* Parse "name=value" argument a into *out if it starts with name=;
 * 1 when it matched and parsed, 0 when it is another name, -1 on junk. */
static int ft_arg(const char *a, const char *name, uint64_t *out)
{
	size_t n = strlen(name);

	if (memcmp(a, name, n) || a[n] != '=')
		return 0;
	return guest_parse_u64(a + n + 1, out) ? -1 : 1;
}

/* Parse the command line into seed, mib, rounds and pages; 0 or -1. */
static int ft_parse(int argc, char **argv, uint64_t *v)
{
	static const char *const names[] = {"seed", "mib", "rounds", "pages"};

	for (int i = 1; i < argc; i++) {
		int hit = 0;

		for (int k = 0; k < 4 && !hit; k++)
			hit = ft_arg(argv[i], names[k], &v[k]);
		if (hit != 1) {
			guest_printf("forktest: bad argument '%s' (usage: "
				     "forktest [seed=S] [mib=M] [rounds=R] "
				     "[pages=K])\n",
				     argv[i]);
			return -1;
		}
	}
	return 0;
}

/* forktest [seed=S] [mib=M] [rounds=R] [pages=K]: see cowvm_workload_abi.h
 * for the pattern and output; 0 and "forktest: PASS" when every check held,
 * 1 and "forktest: FAIL <what>" otherwise, 2 on bad arguments. */
int guest_forktest(int argc, char **argv)
{
	uint64_t arg[4] = {1, 16, 4, 8}; /* seed, mib, rounds, pages */
	uint64_t base = COWVM_MEMTEST_BASE, bytes, npages, words, sum;
	uint64_t *p = (uint64_t *)(uintptr_t)base;
	struct forktest_regs regs;

	if (ft_parse(argc, argv, arg))
		return 2;
	if (arg[1] == 0 || arg[1] > (1ull << 20)) {
		guest_printf("forktest: mib=%lu is out of range\n", arg[1]);
		return 2;
	}
	bytes = arg[1] << 20;
	npages = bytes / FT_PAGE;
	words = bytes / 8;
	if (arg[3] > npages) {
		guest_printf("forktest: pages=%lu exceeds the %lu pages of the "
			     "region\n",
			     arg[3], npages);
		return 2;
	}
	if (!guest_ram_contains(base, bytes) ||
	    base + bytes > guest_mapped_top()) {
		guest_printf("forktest: range 0x%lx..0x%lx is not in RAM\n",
			     base, base + bytes);
		return 2;
	}
	ft_fill(p, 0, words, arg[0]);
	sum = ft_checksum(p, words);
	guest_printf("forktest: seed=%lu mib=%lu rounds=%lu pages=%lu "
		     "checksum=0x%016lx\n",
		     arg[0], arg[1], arg[2], arg[3], sum);
	for (uint64_t r = 1; r <= arg[2]; r++) {
		struct cowvm_hc_snapshot s = {r,
					      guest_cowvm ? FT_RET_UNSET : 0};
		uint64_t bad, id, t, start;

		ft_regs(&regs, arg[0], r);
		bad = guest_forktest_hc(&s, &regs);
		if (bad) {
			guest_printf("forktest: FAIL round=%lu registers "
				     "mismatch=0x%lx\n",
				     r, bad);
			return 1;
		}
		if (s.ret < 0 || s.tag != r) {
			guest_printf("forktest: FAIL round=%lu ret=%ld tag=%lu "
				     "(host did not write a valid id)\n",
				     r, (long)s.ret, s.tag);
			return 1;
		}
		id = (uint64_t)s.ret;
		t = ft_checksum(p, words);
		if (t != sum) {
			guest_printf("forktest: FAIL round=%lu id=%lu memory "
				     "checksum=0x%016lx expected=0x%016lx\n",
				     r, id, t, sum);
			return 1;
		}
		t = ft_mix(ft_mix(arg[0] + r * FT_GOLDEN) + id * FT_GOLDEN);
		start = (id * arg[3] + r * FT_STRIDE) % npages;
		for (uint64_t j = 0; j < arg[3]; j++)
			ft_fill(p, ((start + j) % npages) * FT_WORDS, FT_WORDS,
				t);
		sum = ft_checksum(p, words);
		guest_printf("forktest: round=%lu id=%lu checksum=0x%016lx\n",
			     r, id, sum);
	}
	guest_printf("forktest: PASS\n");
	return 0;
}
