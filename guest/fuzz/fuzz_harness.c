/* The ring-3 main of a cowvm fuzz target ELF: numbers the coverage guards,
 * runs the target's init, snapshots, then runs one input per resume (see
 * the fuzz harness ABI in cowvm_fuzz_abi.h). */
#include "guest.h"
#include "fuzz_target.h"
#include "cowvm_fuzz_abi.h"
#include "fuzz_cov.h"

#define CTL   ((struct cowvm_fuzz_ctl *)(uintptr_t)COWVM_FUZZ_CTL)
#define MAP   ((uint8_t *)(uintptr_t)COWVM_FUZZ_MAP)
#define INPUT ((const struct cowvm_fuzz_input *)(uintptr_t)COWVM_FUZZ_INPUT)

/* The guard array of every instrumented object (guest/fuzz/fuzz.ld). */
extern uint32_t __start___sancov_guards[], __stop___sancov_guards[];
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop);

/* Optional in the target. */
void cowvm_target_init(void) __attribute__((weak));

uint8_t *const fuzz_cov_map = MAP;

/* Report a crash at the caller: exit with COWVM_FUZZ_EXIT_ABORT. */
void cowvm_target_abort(void)
{
	CTL->crash_rip = (uintptr_t)__builtin_return_address(0);
	guest_exit(COWVM_FUZZ_EXIT_ABORT);
}

/* Request the snapshot; save the x87/SSE state before and load it again
 * right after each resume (COWVM_FUZZ_F_FXRSTOR), so that every input
 * starts from it whatever the last one left. */
static void snapshot_fxrstor(struct cowvm_hc_snapshot *snap)
{
	static uint8_t fx[512] __attribute__((aligned(16)));

	__asm__ volatile(
		"fxsave %0\n\toutl %1, %2\n\tfxrstor %0"
		: "+m"(fx)
		: "a"((uint32_t)(uintptr_t)snap),
		  "Nd"((uint16_t)(COWVM_HC_PORT_BASE + COWVM_HC_SNAPSHOT))
		: "memory");
}

/* Ring-3 entry from guest_common64: set up, snapshot, run one input. */
__attribute__((noreturn)) void guest_main(const struct cowvm_start_info *si);
void guest_main(const struct cowvm_start_info *si)
{
	static struct cowvm_hc_snapshot snap = {COWVM_FUZZ_SNAPSHOT_TAG, 0};
	struct cowvm_hc_info info = {0, 0, 0};
	uint32_t mxcsr = 0x1f80;
	uint64_t len;
	int r;

	__asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
	guest_start = si;
	guest_hc(COWVM_HC_INFO, &info);
	guest_cowvm = info.magic == COWVM_ABI_MAGIC;
	if (!guest_cowvm) {
		guest_printf("fuzz: this target runs under cowvm fuzz only\n");
		guest_exit(2);
	}
	__sanitizer_cov_trace_pc_guard_init(__start___sancov_guards,
					    __stop___sancov_guards);
	if (cowvm_target_init)
		cowvm_target_init();
	memset(MAP, 0, COWVM_FUZZ_MAP_SIZE);
	CTL->magic = COWVM_FUZZ_MAGIC;
	CTL->version = COWVM_FUZZ_VERSION;
	CTL->guards = fuzz_cov_guards();
	CTL->flags = COWVM_FUZZ_F_FXRSTOR;
	CTL->map = COWVM_FUZZ_MAP;
	CTL->input = COWVM_FUZZ_INPUT;
	CTL->cmp = COWVM_FUZZ_CMP;
	fuzz_cov_cmp = (struct cowvm_fuzz_cmp_log *)(uintptr_t)COWVM_FUZZ_CMP;
	snapshot_fxrstor(&snap);
	fuzz_cov_cmp_on = INPUT->flags & COWVM_FUZZ_IN_CMPLOG;
	len = INPUT->len;
	if (len > COWVM_FUZZ_INPUT_MAX)
		len = COWVM_FUZZ_INPUT_MAX;
	r = cowvm_target(INPUT->data, len);
	fuzz_cov_cmp_on = 0;
	if (r) {
		CTL->crash_value = r;
		guest_exit(COWVM_FUZZ_EXIT_RETURN);
	}
	guest_exit(COWVM_FUZZ_EXIT_OK);
}
