/* The Linux personality's ring-3 entry: check the boot block the VMM wrote,
 * point the #UD and fault gates at the personality, open the standard
 * descriptors and enter the program. */
#include "lx.h"

struct lx_proc lx;

extern unsigned char guest_idt[];
extern unsigned char guest_tss[];
extern unsigned char lx_rsp0_top[];

/* The IDT gate vectors the personality takes over (the CPU faults a
 * program can cause); #DF, NMI and #MC stay the kernel's. */
static const uint8_t lx_fault_vectors[] = {0,  1,  3,  4,  5,  7,  10, 11,
					   12, 13, 14, 16, 17, 19, 20, 21};

/* Point IDT gate v at handler (the gate's selector and type stay). */
static void lx_gate(unsigned v, uint64_t handler)
{
	unsigned char *g = guest_idt + 16 * v;

	g[0] = (unsigned char)handler;
	g[1] = (unsigned char)(handler >> 8);
	g[6] = (unsigned char)(handler >> 16);
	g[7] = (unsigned char)(handler >> 24);
	g[8] = g[9] = g[10] = g[11] = 0;
}

/* Stop with a message when the boot block is missing or inconsistent. */
__attribute__((noreturn)) static void lx_bad_boot(const char *why)
{
	guest_printf("cowvm-linux: %s\n", why);
	guest_exit(125);
}

/* Validate the boot block and copy what the process needs into lx. */
static void lx_boot(const struct cowvm_linux_boot *b)
{
	uint64_t top = guest_ram_top();

	if (b->magic != COWVM_LINUX_MAGIC)
		lx_bad_boot("no Linux program loaded (boot with cowvm exec)");
	if (b->version != COWVM_LINUX_VERSION)
		lx_bad_boot("boot block of another version");
	if (b->stack_top > top || b->stack_lo >= b->stack_top ||
	    b->files_lo > b->stack_lo || b->brk_start > b->files_lo ||
	    b->brk_start < COWVM_LINUX_LOAD_MIN || b->brk_start & 4095 ||
	    b->files_lo & 4095)
		lx_bad_boot("boot block memory map is inconsistent");
	lx.boot = b;
	lx.flags = b->flags;
	lx.ram_top = b->stack_top;
	lx.files = (const struct cowvm_linux_file *)(uintptr_t)b->files;
	lx.nr_files = b->nr_files;
	if (!lx_user_ok(b->files, (uint64_t)b->nr_files * sizeof(*lx.files)))
		lx_bad_boot("file table outside RAM");
	lx.brk_start = lx.brk = lx.brk_dirty = b->brk_start;
	lx.mmap_top = lx.mmap_dirty = b->files_lo;
	lx.umask = 022;
	lx.cwd[0] = '/';
}

/* Ring-3 entry from the kernel's boot path. Never returns. */
__attribute__((noreturn)) void guest_main(const struct cowvm_start_info *si);
void guest_main(const struct cowvm_start_info *si)
{
	struct cowvm_hc_info info = {0, 0, 0};
	const struct cowvm_linux_boot *b =
		(const struct cowvm_linux_boot *)(uintptr_t)COWVM_LINUX_BOOT;
	uint32_t mxcsr = 0x1f80;
	uint32_t lo, hi;

	__asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
	guest_start = si;
	guest_hc(COWVM_HC_INFO, &info);
	guest_cowvm = info.magic == COWVM_ABI_MAGIC;
	if (!guest_cowvm)
		lx_bad_boot("not running under cowvm");
	lx_boot(b);
	/* ring-3 entries push their frame in the page of the personality's
	 * stack top (lx_entry.S); 64-bit TSS: rsp0 at byte 4 */
	lx_copy(guest_tss + 4, &(uint64_t){(uint64_t)(uintptr_t)lx_rsp0_top},
		8);
	lx_gate(6, (uint64_t)(uintptr_t)lx_ud_gate);
	for (unsigned i = 0; i < sizeof(lx_fault_vectors); i++)
		lx_gate(lx_fault_vectors[i],
			(uint64_t)(uintptr_t)lx_fault_gate +
				16u * lx_fault_vectors[i]);
	lx_fs_init();
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	lx.tsc0 = (uint64_t)hi << 32 | lo;
	lx.realtime0 = b->realtime_ns;
	lx_start(b->entry, b->rsp);
}
