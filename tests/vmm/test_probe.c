/* VMM behaviour checked with the probe guest (probe.S): boot state, ports,
 * serial, hypercalls, exits, timeout; independent of guest/. */
#include <cpuid.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include "probe.h"
#include "vmm_util.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static const char *probe;

/* Boot the probe in mode cmdline with mem bytes and run it once. */
static struct cowvm_exit probe_run(struct tvm *t, uint64_t mem,
				   const char *cmdline)
{
	*t = tvm_boot(mem, probe, cmdline);
	return tvm_run(t);
}

/* Whether this CPU offers NX (CPUID 0x80000001 edx bit 20). */
static int host_nx(void)
{
	unsigned a, b, c, d;

	return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (d & (1u << 20));
}

/* Walk the boot page tables for va: the physical address or ~0. */
static uint64_t walk(struct tvm *t, uint64_t cr3, uint64_t va)
{
	uint64_t e = tvm_read64(t, cr3 + ((va >> 39) & 511) * 8);

	if (!(e & 1))
		return ~0ull;
	e = tvm_read64(t, (e & ~0xfffull) + ((va >> 30) & 511) * 8);
	if (!(e & 1))
		return ~0ull;
	e = tvm_read64(t, (e & ~0xfffull & ((1ull << 52) - 1)) +
				  ((va >> 21) & 511) * 8);
	if ((e & 0x87) != 0x87) /* P|RW|US|PS */
		return ~0ull;
	return (e & ~0x1fffffull & ((1ull << 52) - 1)) + (va & 0x1fffff);
}

/* Registers and memory the boot protocol promises. */
static void test_boot_state(uint64_t mem)
{
	struct cowvm_start_info si;
	struct cowvm_memmap_entry map[2];
	uint64_t cr3, top, gdt[3];
	struct tvm t;
	struct cowvm_exit e = probe_run(&t, mem, "s");
	char cmd[8];

	TEST_ASSERT_EXIT_STATUS(e, 7, "state probe");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT), COWVM_BOOT_INFO, "rdi");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 8), COWVM_BOOT_INFO, "rbx");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x10), 0, "rsp");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x18) & 0x80000033,
		       0x80000033, "cr0 0x%llx",
		       (unsigned long long)tvm_read64(&t, PROBE_OUT + 0x18));
	cr3 = tvm_read64(&t, PROBE_OUT + 0x20);
	TEST_ASSERT_EQ(cr3, COWVM_BOOT_PML4, "cr3");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x28) & 0x620, 0x620, "cr4");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x30) & 0x501, 0x500,
		       "efer: LME|LMA set, SCE clear");
	TEST_ASSERT_EQ(!!(tvm_read64(&t, PROBE_OUT + 0x30) & 0x800), host_nx(),
		       "EFER.NXE set exactly when the CPU has NX");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x38), 0x08, "cs");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x40), 0x10, "ds");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x48), 0x10, "ss");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x50) & 0x202, 2,
		       "rflags: bit 1 set, IF clear");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x68) & 0xffff, 23, "gdtr");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x6a), COWVM_BOOT_GDT,
		       "gdtr");
	TEST_OK(cowvm_read(t.vm, COWVM_BOOT_GDT, gdt, sizeof(gdt)));
	TEST_ASSERT_EQ(gdt[0], 0, "gdt entries");
	TEST_ASSERT_EQ(gdt[1] >> 40 & 0x209f, 0x209b, "gdt entries");
	TEST_ASSERT_EQ(gdt[2] >> 40 & 0x9f, 0x93, "gdt entries");

	TEST_OK(cowvm_read(t.vm, COWVM_BOOT_INFO, &si, sizeof(si)));
	TEST_ASSERT_EQ(si.magic, COWVM_START_MAGIC, "si");
	TEST_ASSERT_EQ(si.version, 1, "si");
	TEST_ASSERT_EQ(si.cmdline_paddr, COWVM_BOOT_CMDLINE, "cmdline");
	TEST_OK(cowvm_read(t.vm, si.cmdline_paddr, cmd, 2));
	TEST_ASSERT(!strcmp(cmd, "s"), "cmdline text");
	TEST_ASSERT_EQ(si.memmap_paddr, COWVM_BOOT_MEMMAP, "memmap %u entries",
		       si.memmap_entries);
	TEST_ASSERT_EQ(si.memmap_entries, mem > 3 * GIB ? 2u : 1u,
		       "memmap entries");
	TEST_OK(cowvm_read(t.vm, si.memmap_paddr, map,
			   si.memmap_entries * sizeof(map[0])));
	top = map[0].size;
	TEST_ASSERT_EQ(map[0].addr, 0, "low range");
	TEST_ASSERT_EQ(map[0].type, 1, "low range");
	if (mem > 3 * GIB) {
		TEST_ASSERT_EQ(map[0].size, 3 * GIB, "high range");
		TEST_ASSERT_EQ(map[1].type, 1, "high range");
		TEST_ASSERT_EQ(map[1].addr, COWVM_HIGH_MEM_BASE, "high range");
		TEST_ASSERT_EQ(map[1].size, mem - 3 * GIB, "high range");
		top = map[1].addr + map[1].size;
	} else {
		TEST_ASSERT_EQ(map[0].size, mem, "low range size");
	}
	for (uint64_t va = 0; va < top; va += 0x7654321) {
		int ram = va < map[0].size || va >= COWVM_HIGH_MEM_BASE;

		TEST_ASSERT_EQ(walk(&t, cr3, va), (ram ? va : ~0ull),
			       "identity map of RAM only, at 0x%llx",
			       (unsigned long long)va);
	}
	TEST_ASSERT_EQ(walk(&t, cr3, 0xfee00000), ~0ull,
		       "the LAPIC or IOAPIC page is mapped");
	TEST_ASSERT_EQ(walk(&t, cr3, 0xfec00000), ~0ull,
		       "the LAPIC or IOAPIC page is mapped");
	TEST_ASSERT_EQ(walk(&t, cr3, top - 1), top - 1, "map top");
	TEST_ASSERT_EQ(walk(&t, cr3, (top + 0x1fffff) & ~0x1fffffull), ~0ull,
		       "nothing mapped above RAM");
	tvm_free(&t);
}

/* Unassigned ports read all-ones; the UART latches SCR, LSR is idle. */
static void test_ports(void)
{
	struct tvm t;
	struct cowvm_exit e = probe_run(&t, 64 * MIB, "p");

	TEST_ASSERT_EXIT_STATUS(e, 0);
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x18), 0xff, "inb");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x20), 0xffffffff, "inl");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x28), 0xa5, "uart scr");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x30), 0x60, "uart lsr");
	tvm_free(&t);
}

/* Bytes written to the UART THR reach the console in order. */
static void test_serial(void)
{
	struct tvm t;
	struct cowvm_exit e = probe_run(&t, 64 * MIB, "xserial says hi\n");
	char *out = tvm_console(&t);

	TEST_ASSERT_EXIT_STATUS(e, 0);
	TEST_ASSERT(!strcmp(out, "serial says hi\n"), "console '%s'", out);
	free(out);
	tvm_free(&t);
}

/* INFO, CMDLINE, PUTS, SNAPSHOT with resume, EXIT. */
static void test_hypercalls(void)
{
	const char *cmdline = "h with some words";
	struct tvm t;
	struct cowvm_exit e = probe_run(&t, 96 * MIB, cmdline);
	char *out;

	TEST_ASSERT_EXIT_TAG(e, PROBE_TAG);
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_ARG + 8), ~0ull,
		       "ret is written on resume, not before");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x18),
		       (COWVM_ABI_MAGIC | (uint64_t)COWVM_ABI_VERSION << 32),
		       "INFO magic/version");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x20), 96 * MIB, "INFO mem");
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x28), strlen(cmdline),
		       "CMDLINE len");
	e = tvm_run(&t);
	TEST_ASSERT_EXIT_STATUS(e, 42);
	TEST_ASSERT_EQ(tvm_read64(&t, PROBE_OUT + 0x30), 0, "SNAPSHOT ret");
	out = tvm_console(&t);
	TEST_ASSERT(!strcmp(out, cmdline), "PUTS of CMDLINE: '%s'", out);
	free(out);
	e = tvm_run(&t);
	TEST_ASSERT_EXIT_STATUS(e, 42, "a stopped VM reports its exit again");
	tvm_free(&t);
}

/* FAULT passes every field through. */
static void test_fault_hypercall(void)
{
	struct tvm t;
	struct cowvm_exit e = probe_run(&t, 64 * MIB, "f");

	TEST_ASSERT_EXIT(e, COWVM_EXIT_FAULT);
	TEST_ASSERT_EQ(e.fault.vector, 14, "fault fields");
	TEST_ASSERT_EQ(e.fault.error_code, 6, "fault fields");
	TEST_ASSERT_EQ(e.fault.rip, 0x123456, "fault fields");
	TEST_ASSERT_EQ(e.fault.cr2, 0x7ff000000000ull, "fault fields");
	TEST_ASSERT_EQ(e.fault.rsp, 0x8000, "fault fields");
	TEST_ASSERT_EQ(e.fault.cs, 0x2b, "fault fields");
	TEST_ASSERT(strstr(e.detail, "#PF"), "%s", e.detail);
	tvm_free(&t);
}

/* Bad hypercalls and non-RAM accesses stop the VM with an error. */
static void test_errors(void)
{
	static const struct {
		const char *mode;
		uint64_t mem;
		const char *want;
		enum cowvm_exit_reason reason;
	} cases[] = {
		{"b", 64 * MIB, "bad hypercall 1 argument", COWVM_EXIT_ERROR},
		{"e", 64 * MIB, "bad hypercall 2 argument: status 300",
		 COWVM_EXIT_ERROR},
		{"k", 64 * MIB, "unknown hypercall 15", COWVM_EXIT_ERROR},
		{"w", 64 * MIB, "bad hypercall 2 access", COWVM_EXIT_ERROR},
		{"m", 5 * GIB, "non-RAM address 0xd0000000", COWVM_EXIT_ERROR},
		{"t", 64 * MIB, "triple fault", COWVM_EXIT_SHUTDOWN},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tvm t;
		struct cowvm_exit e =
			probe_run(&t, cases[i].mem, cases[i].mode);

		TEST_ASSERT_EXIT(e, cases[i].reason, "mode %s", cases[i].mode);
		TEST_ASSERT(strstr(e.detail, cases[i].want),
			    "mode %s: '%s' lacks '%s'", cases[i].mode, e.detail,
			    cases[i].want);
		tvm_free(&t);
	}
}

/* A spinning guest times out, can be resumed, and times out again. */
static void test_timeout(void)
{
	struct cowvm_exit e;
	uint64_t n1, n2;
	struct tvm t = tvm_boot(64 * MIB, probe, "l");
	double t0;

	TEST_OK(cowvm_set_timeout(t.vm, 300));
	t0 = test_now();
	e = tvm_run(&t);
	t0 = test_now() - t0;
	TEST_ASSERT_EXIT(e, COWVM_EXIT_TIMEOUT);
	TEST_ASSERT(t0 >= 0.3 && t0 < 3, "took %.3f s", t0);
	n1 = tvm_read64(&t, PROBE_OUT + 0x18);
	TEST_ASSERT_GT(n1, 0, "the guest ran");
	TEST_ASSERT_GE(e.rip, 0x100000, "rip");
	TEST_ASSERT_LT(e.rip, 0x101000, "rip");
	e = tvm_run(&t);
	n2 = tvm_read64(&t, PROBE_OUT + 0x18);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_TIMEOUT, "resumed after a timeout");
	TEST_ASSERT_GT(n2, n1, "the guest ran on after a timeout");
	tvm_free(&t);
}

/* Timeouts hit a guest that exits to the VMM constantly, so the timer
 * signal often arrives while the vCPU thread is outside KVM_RUN: no run may
 * lose that wakeup (an alarm kills the test if one hangs). */
static void test_timeout_exit_storm(void)
{
	struct tvm t = tvm_boot(64 * MIB, probe, "o");
	uint64_t before = 0, after;

	TEST_OK(cowvm_set_timeout(t.vm, 20));
	alarm(60);
	for (int i = 0; i < 100; i++) {
		struct cowvm_exit e = tvm_run(&t);

		TEST_ASSERT_EXIT(e, COWVM_EXIT_TIMEOUT, "run %d", i);
	}
	alarm(0);
	after = tvm_read64(&t, PROBE_OUT + 0x18);
	TEST_ASSERT_GT(after, before, "the guest made progress");
	tvm_free(&t);
}

/* Number of POSIX timers this process holds (/proc/self/timers), or -1. */
static int count_timers(void)
{
	FILE *f = fopen("/proc/self/timers", "r");
	char line[256];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, "ID:", 3);
	fclose(f);
	return n;
}

/* Runs with a timeout leave no timer, no pending signal and the caller's
 * signal mask behind, even when the caller blocks the timer signal. */
static void test_timer_hygiene(void)
{
	int sig = SIGRTMIN + 2;
	sigset_t set, now, pending;
	struct cowvm_exit e;
	struct tvm t;

	sigemptyset(&set);
	sigaddset(&set, sig);
	TEST_ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, NULL), 0, "block");
	t = tvm_boot(64 * MIB, probe, "s");
	TEST_OK(cowvm_set_timeout(t.vm, 10000));
	e = tvm_run(&t);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_GUEST);
	tvm_free(&t);
	t = tvm_boot(64 * MIB, probe, "l");
	TEST_OK(cowvm_set_timeout(t.vm, 200));
	e = tvm_run(&t);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_TIMEOUT,
			 "times out with the signal blocked by the caller");
	tvm_free(&t);
	TEST_ASSERT_EQ(pthread_sigmask(SIG_BLOCK, NULL, &now), 0,
		       "the caller's mask is restored");
	TEST_ASSERT(sigismember(&now, sig), "the caller's mask is restored");
	TEST_ASSERT_EQ(sigpending(&pending), 0, "no timer signal left pending");
	TEST_ASSERT(!sigismember(&pending, sig),
		    "no timer signal left pending");
	TEST_ASSERT_EQ(count_timers(), 1, "POSIX timers, want this thread's");
	TEST_ASSERT_EQ(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0, "unblock");
}

/* A thread that runs a VM under a timeout. */
static void *timer_thread(void *arg)
{
	struct tvm t = tvm_boot(64 * MIB, probe, "s");
	struct cowvm_exit e;

	(void)arg;
	TEST_OK(cowvm_set_timeout(t.vm, 10000));
	e = tvm_run(&t);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_GUEST);
	tvm_free(&t);
	return NULL;
}

/* Each thread's run timer goes with the thread. */
static void test_timer_per_thread(void)
{
	int before = count_timers();
	pthread_t th;

	TEST_ASSERT_EQ(pthread_create(&th, NULL, timer_thread, NULL), 0,
		       "pthread_create");
	TEST_ASSERT_EQ(pthread_join(th, NULL), 0, "pthread_join");
	TEST_ASSERT_EQ(count_timers(), before,
		       "POSIX timers after the thread exited, before");
}

/* Run every check against the probe ELF given as argv[1]. */
int main(int argc, char **argv)
{
	TEST_ASSERT_EQ(argc, 2, "usage: test-vmm-probe PROBE.elf");
	probe = argv[1];
	test_require_kvm();
	test_boot_state(64 * MIB);
	test_boot_state(5 * GIB);
	test_ports();
	test_serial();
	test_hypercalls();
	test_fault_hypercall();
	test_errors();
	test_timeout();
	test_timer_hygiene();
	test_timer_per_thread();
	test_timeout_exit_storm();
	printf("test-vmm-probe: PASS\n");
	return 0;
}
