/* The real guest (guest/) under the library API: self-test, hypercalls,
 * serial, exceptions, timeout and memtest checked against the host. */
#include <inttypes.h>
#include <sys/mman.h>

#include "vmm_util.h"
#include "cowvm_workload_abi.h"

#define MIB (1ull << 20)

static const char *guest;

/* Assert that the console of t contains want. */
static void expect_console(struct tvm *t, const char *want)
{
	char *out = tvm_console(t);

	TEST_ASSERT(strstr(out, want), "console lacks '%s':\n%s", want, out);
	free(out);
}

/* Boot the guest with cmdline, run it to its end, expect exit status. */
static struct tvm run_to_exit(const char *cmdline, int status)
{
	struct tvm t = tvm_boot(64 * MIB, guest, cmdline);
	struct cowvm_exit e = tvm_run(&t);
	char *out;

	out = tvm_console(&t);
	TEST_ASSERT_EXIT_STATUS(e, status, "'%s': console:\n%s", cmdline, out);
	free(out);
	return t;
}

/* selftest passes and exits 0; report what boot costs. */
static void test_selftest(void)
{
	struct cowvm_config cfg;
	struct cowvm_exit e;
	double t0, t1, t2, t3;
	struct tvm t;

	t.console = memfd_create("console", MFD_CLOEXEC);
	cowvm_config_init(&cfg);
	cfg.console_fd = t.console;
	t0 = test_now();
	t.vm = cowvm_create(&cfg);
	t1 = test_now();
	TEST_ASSERT(t.vm, "cowvm_create: %s", cowvm_error(NULL));
	TEST_OK(cowvm_load_elf(t.vm, guest, "selftest"));
	t2 = test_now();
	e = tvm_run(&t);
	t3 = test_now();
	TEST_ASSERT_EXIT_STATUS(e, 0);
	expect_console(&t, "selftest: PASS\n");
	printf("selftest: create %.0f us, load %.0f us, run %.0f us\n",
	       (t1 - t0) * 1e6, (t2 - t1) * 1e6, (t3 - t2) * 1e6);
	tvm_free(&t);
}

/* hypercalls: SNAPSHOT stops the run with the tag, resuming finishes. */
static void test_hypercalls(void)
{
	struct tvm t = tvm_boot(64 * MIB, guest, "hypercalls");
	struct cowvm_exit e = tvm_run(&t);
	char want[64], *out;
	uint64_t tag = e.tag;

	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT);
	out = tvm_console(&t);
	TEST_ASSERT(!strstr(out, "PASS"), "PASS before the snapshot resumed");
	free(out);
	e = tvm_run(&t);
	TEST_ASSERT_EXIT_STATUS(e, 0);
	snprintf(want, sizeof(want), "snapshot tag=0x%" PRIx64 " ret=0", tag);
	expect_console(&t, want);
	expect_console(&t, "hypercalls: PASS\n");
	tvm_free(&t);
}

/* serial: output written through the 16550 reaches the console. */
static void test_serial(void)
{
	struct tvm t = run_to_exit("serial", 0);

	expect_console(&t, "serial: ");
	tvm_free(&t);
}

/* fault WHAT: the vector and rip of the faulting instruction. */
static void test_fault(const char *what, uint64_t vector)
{
	char cmdline[32], sym[32];
	struct cowvm_exit e;
	struct tvm t;
	uint64_t rip;

	snprintf(cmdline, sizeof(cmdline), "fault %s", what);
	snprintf(sym, sizeof(sym), "guest_fault_%s", what);
	rip = test_elf_symbol(guest, sym);
	t = tvm_boot(64 * MIB, guest, cmdline);
	e = tvm_run(&t);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_FAULT, "%s", cmdline);
	TEST_ASSERT_EQ(e.fault.vector, vector, "%s", cmdline);
	TEST_ASSERT_EQ(e.fault.rip, rip, "%s: rip, %s", cmdline, sym);
	TEST_ASSERT_EQ(e.fault.cs & 3, 3, "%s: cs 0x%" PRIx64, cmdline,
		       e.fault.cs);
	if (vector == 14)
		TEST_ASSERT_EQ(e.fault.cr2, 0x7ff000000000ull, "cr2");
	tvm_free(&t);
}

/* spin with a 1 s limit times out after about 1 s. */
static void test_timeout(void)
{
	struct tvm t = tvm_boot(64 * MIB, guest, "spin");
	struct cowvm_exit e;
	double t0;

	TEST_OK(cowvm_set_timeout(t.vm, 1000));
	t0 = test_now();
	e = tvm_run(&t);
	t0 = test_now() - t0;
	TEST_ASSERT_EXIT(e, COWVM_EXIT_TIMEOUT);
	TEST_ASSERT(t0 >= 1.0 && t0 < 4.0, "timeout took %.3f s", t0);
	tvm_free(&t);
}

/* splitmix64's output function, as cowvm_workload_abi.h defines the pattern. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Pattern word i for seed. */
static uint64_t pattern(uint64_t seed, uint64_t i)
{
	return mix64(seed + (i + 1) * 0x9e3779b97f4a7c15ull);
}

/* memtest: the guest's checksum equals the host's; words match in RAM. */
static void test_memtest(uint64_t seed, uint64_t mib)
{
	uint64_t s, base, bytes, sum, h = 0xcbf29ce484222325ull;
	uint64_t *words = malloc(mib * MIB);
	char cmdline[64], *out, *line;
	struct tvm t;

	snprintf(cmdline, sizeof(cmdline),
		 "memtest seed=%" PRIu64 " mib=%" PRIu64, seed, mib);
	t = run_to_exit(cmdline, 0);
	out = tvm_console(&t);
	line = strstr(out, "memtest: seed=");
	TEST_ASSERT(line, "no memtest line:\n%s", out);
	TEST_ASSERT_EQ(sscanf(line,
			      "memtest: seed=%" SCNu64 " base=0x%" SCNx64
			      " bytes=%" SCNu64 " checksum=0x%" SCNx64,
			      &s, &base, &bytes, &sum),
		       4, "no memtest line:\n%s", out);
	TEST_ASSERT_EQ(s, seed, "memtest parameters: %s", line);
	TEST_ASSERT_EQ(base, COWVM_MEMTEST_BASE, "memtest parameters: %s",
		       line);
	TEST_ASSERT_EQ(bytes, mib * MIB, "memtest parameters: %s", line);
	for (uint64_t i = 0; i < bytes / 8; i++)
		h = (h ^ pattern(seed, i)) * 0x100000001b3ull;
	TEST_ASSERT_EQ(h, sum, "checksum: host, guest");
	TEST_ASSERT(words, "malloc");
	TEST_OK(cowvm_read(t.vm, base, words, bytes));
	for (uint64_t i = 0; i < bytes / 8; i++)
		TEST_ASSERT_EQ(words[i], pattern(seed, i),
			       "word %" PRIu64 " at 0x%" PRIx64, i,
			       base + i * 8);
	free(words);
	free(out);
	tvm_free(&t);
}

/* badcall: a PUTS beyond RAM stops the VM with an error. */
static void test_badcall(void)
{
	struct tvm t = tvm_boot(64 * MIB, guest, "badcall");
	struct cowvm_exit e = tvm_run(&t);

	TEST_ASSERT_EXIT(e, COWVM_EXIT_ERROR);
	TEST_ASSERT(strstr(e.detail, "bad hypercall 1 argument"), "%d %s",
		    e.reason, e.detail);
	tvm_free(&t);
}

/* Run every check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	TEST_ASSERT_EQ(argc, 2, "usage: test-vmm-guest GUEST.elf");
	guest = argv[1];
	test_require_kvm();
	test_selftest();
	test_hypercalls();
	test_serial();
	test_fault("ud", 6);
	test_fault("pf", 14);
	test_fault("gp", 13);
	test_fault("de", 0);
	test_memtest(5, 4);
	test_memtest(0xdeadbeefcafe, 9);
	test_badcall();
	test_timeout();
	printf("test-vmm-guest: PASS\n");
	return 0;
}
