/* The cowvm guest's small workloads: memtest, fault, spin, exit, hypercalls,
 * badcall and serial. All run in ring 3. */
#include "workloads.h"
#include "cowvm_workload_abi.h"

#define MEMTEST_GOLDEN 0x9e3779b97f4a7c15ull
#define FNV_OFFSET     0xcbf29ce484222325ull
#define FNV_PRIME      0x100000001b3ull

/* The splitmix64 output function applied to state z. */
static uint64_t splitmix64_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* memtest [seed=N] [mib=M]: fill M MiB at COWVM_MEMTEST_BASE with the ABI's
 * pattern, re-read it into the checksum and print it; 2 on bad arguments or
 * a range outside RAM. */
int guest_memtest(int argc, char **argv)
{
	uint64_t seed = 1, mib = 16, base = COWVM_MEMTEST_BASE, bytes, h, x;
	volatile const uint64_t *q;
	uint64_t *p;

	for (int i = 1; i < argc; i++) {
		int bad = 1;

		if (!memcmp(argv[i], "seed=", 5))
			bad = guest_parse_u64(argv[i] + 5, &seed);
		else if (!memcmp(argv[i], "mib=", 4))
			bad = guest_parse_u64(argv[i] + 4, &mib);
		if (bad) {
			guest_printf("memtest: bad argument '%s' (usage: "
				     "memtest [seed=N] [mib=M])\n",
				     argv[i]);
			return 2;
		}
	}
	if (mib > (1ull << 20)) {
		guest_printf("memtest: mib=%lu is too large\n", mib);
		return 2;
	}
	bytes = mib << 20;
	if (!guest_ram_contains(base, bytes) ||
	    base + bytes > guest_mapped_top()) {
		guest_printf("memtest: range 0x%lx..0x%lx is not in RAM "
			     "(RAM total 0x%lx, top 0x%lx)\n",
			     base, base + bytes, guest_ram_total(),
			     guest_ram_top());
		return 2;
	}
	p = (uint64_t *)(uintptr_t)base;
	x = seed;
	for (uint64_t i = 0; i < bytes / 8; i++) {
		x += MEMTEST_GOLDEN;
		p[i] = splitmix64_mix(x);
	}
	q = p;
	h = FNV_OFFSET;
	for (uint64_t i = 0; i < bytes / 8; i++)
		h = (h ^ q[i]) * FNV_PRIME;
	guest_printf(
		"memtest: seed=%lu base=0x%lx bytes=%lu checksum=0x%016lx\n",
		seed, base, bytes, h);
	return 0;
}

/* fault ud|pf|gp|de: execute the matching faulting instruction in ring 3;
 * returns 2 only for an unknown kind. */
int guest_fault(int argc, char **argv)
{
	static const struct {
		const char *kind;
		void (*site)(void);
		void (*run)(void);
	} kinds[] = {
		{"ud", guest_fault_ud, guest_fault_ud},
		{"pf", guest_fault_pf, guest_fault_pf},
		{"gp", guest_fault_gp, guest_fault_gp},
		{"de", guest_fault_de, guest_fault_de_setup},
	};

	for (size_t i = 0; argc > 1 && i < sizeof(kinds) / sizeof(kinds[0]);
	     i++) {
		if (strcmp(argv[1], kinds[i].kind))
			continue;
		guest_printf("fault: %s at rip=0x%lx\n", kinds[i].kind,
			     (uint64_t)(uintptr_t)kinds[i].site);
		kinds[i].run();
		guest_printf("fault: %s did not fault\n", kinds[i].kind);
		return 1;
	}
	guest_printf("fault: unknown kind '%s' (ud|pf|gp|de)\n",
		     argc > 1 ? argv[1] : "");
	return 2;
}

/* spin: loop forever in ring 3. */
int guest_spin(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	guest_printf("spin: looping forever\n");
	for (;;)
		__asm__ volatile("pause");
}

/* exit N: return status N (0..255); 2 on a missing or bad N. */
int guest_exit_cmd(int argc, char **argv)
{
	uint64_t status;

	if (argc < 2 || guest_parse_u64(argv[1], &status) || status > 255) {
		guest_printf("exit: need a status 0..255\n");
		return 2;
	}
	return (int)status;
}

/* genid [N]: N + 1 times (default 3), print the generation COWVM_HC_GENID
 * reports ("genid r=R id=HEX counter=C"), then, but for the last, request
 * a snapshot tagged R; exit 0. */
int guest_genid(int argc, char **argv)
{
	uint64_t rounds = 3;

	if (argc > 1 && guest_parse_u64(argv[1], &rounds)) {
		guest_printf("genid: need a round count\n");
		return 2;
	}
	for (uint64_t r = 0; r <= rounds; r++) {
		struct cowvm_hc_genid g = {{0}, 0, 1};
		struct cowvm_hc_snapshot s = {r, 0};

		guest_hc(COWVM_HC_GENID, &g);
		guest_printf("genid r=%lu id=", (unsigned long)r);
		for (unsigned i = 0; i < sizeof(g.id); i++)
			guest_printf("%02x", g.id[i]);
		guest_printf(" counter=%lu reserved=%lu\n",
			     (unsigned long)g.counter,
			     (unsigned long)g.reserved);
		if (r < rounds)
			guest_hc(COWVM_HC_SNAPSHOT, &s);
	}
	return 0;
}

/* Fill len bytes at buf with lowercase letters ending in a newline. */
static void puts_pattern(char *buf, size_t len)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = (char)('a' + k % 26);
	if (len)
		buf[len - 1] = '\n';
}

/* One PUTS payload buffer, offset so that payloads cross page boundaries. */
static char puts_buf[COWVM_PUTS_MAX + 8192] __attribute__((aligned(4096)));

/* INFO: the ABI identification and RAM size; whether they are right. */
static int hc_info_ok(void)
{
	struct cowvm_hc_info info;
	int ok;

	memset(&info, 0xa5, sizeof(info));
	guest_hc(COWVM_HC_INFO, &info);
	ok = info.magic == COWVM_ABI_MAGIC &&
	     info.version == COWVM_ABI_VERSION &&
	     info.mem_size == guest_ram_total();
	guest_printf("hypercalls: info magic=0x%x version=%u mem_size=%lu "
		     "memmap_ram=%lu %s\n",
		     info.magic, info.version, info.mem_size, guest_ram_total(),
		     ok ? "ok" : "FAIL");
	return ok;
}

/* CMDLINE into a 4-byte buffer (truncated) and a whole one; the name of
 * the first check that failed, or NULL. */
static const char *hc_cmdline_check(const char *cl, uint64_t full)
{
	static char big[COWVM_CMDLINE_MAX];
	struct cowvm_hc_cmdline c;
	const char *failed;
	char small[8];
	uint64_t keep = full < 3 ? full : 3;
	int ok;

	memset(small, '#', sizeof(small));
	c.buf = (uintptr_t)small;
	c.size = 4;
	c.len = ~0ull;
	guest_hc(COWVM_HC_CMDLINE, &c);
	ok = c.len == full && !memcmp(small, cl, keep) && small[keep] == 0 &&
	     small[4] == '#' && small[7] == '#';
	guest_printf("hypercalls: cmdline size=4 len=%lu (expected %lu) "
		     "buf='%s' %s\n",
		     c.len, full, small[keep] == 0 ? small : "<unterminated>",
		     ok ? "ok" : "FAIL");
	failed = ok ? NULL : "cmdline-truncated";
	memset(big, '#', sizeof(big));
	c.buf = (uintptr_t)big;
	c.size = sizeof(big);
	c.len = ~0ull;
	guest_hc(COWVM_HC_CMDLINE, &c);
	ok = c.len == full && full < sizeof(big) && !strcmp(big, cl);
	guest_printf("hypercalls: cmdline size=%lu len=%lu %s\n",
		     (uint64_t)sizeof(big), c.len, ok ? "ok" : "FAIL");
	return failed ? failed : ok ? NULL : "cmdline";
}

/* hypercalls: INFO, CMDLINE (truncated and full), PUTS of several sizes and
 * SNAPSHOT round trips under cowvm; 0 and "hypercalls: PASS" when all
 * checks hold, 1 otherwise. */
int guest_hypercalls(int argc, char **argv)
{
	static const uint64_t sizes[] = {0, 1, 4095, 4096, 4097, 60000};
	const char *cl = (const char *)(uintptr_t)guest_start->cmdline_paddr;
	const char *failed = NULL, *cmdline;
	struct cowvm_hc_snapshot s;

	(void)argc;
	(void)argv;
	if (!guest_cowvm) {
		guest_printf("hypercalls: FAIL not under cowvm\n");
		return 1;
	}
	if (!guest_start->cmdline_paddr)
		cl = "";
	if (!hc_info_ok())
		failed = "info";
	cmdline = hc_cmdline_check(cl, strlen(cl));
	if (!failed)
		failed = cmdline;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *data = puts_buf + 4000;
		struct cowvm_hc_puts p = {(uintptr_t)data, sizes[i]};

		guest_printf("hypercalls: puts len=%lu\n", sizes[i]);
		puts_pattern(data, sizes[i]);
		guest_hc(COWVM_HC_PUTS, &p);
	}

	s.tag = 0xc0e5a9ull;
	s.ret = -7777;
	guest_hc(COWVM_HC_SNAPSHOT, &s);
	guest_printf("hypercalls: snapshot tag=0x%lx ret=%ld\n", s.tag,
		     (long)s.ret);

	if (failed) {
		guest_printf("hypercalls: FAIL %s\n", failed);
		return 1;
	}
	guest_printf("hypercalls: PASS\n");
	return 0;
}

/* badcall: issue a PUTS whose data lies beyond RAM; the host must stop the
 * VM, so reaching the "survived" line returns 1. */
int guest_badcall(int argc, char **argv)
{
	uint64_t gpa = guest_ram_top() + (1ull << 20);
	struct cowvm_hc_puts p = {gpa, 16};

	(void)argc;
	(void)argv;
	guest_printf("badcall: PUTS data=0x%lx len=16 (beyond RAM)\n", gpa);
	guest_hc(COWVM_HC_PUTS, &p);
	guest_printf("badcall: survived\n");
	return 1;
}

/* serial: write one line straight to the 16550, even under cowvm. */
int guest_serial(int argc, char **argv)
{
	static const char line[] = "serial: hello from the 16550\n";

	(void)argc;
	(void)argv;
	guest_serial_write(line, sizeof(line) - 1);
	return 0;
}
