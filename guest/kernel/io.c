/* The cowvm guest's console, exit path, memory-map queries and the ring-0
 * exception reporter. */
#include "guest.h"

int guest_cowvm;
const struct cowvm_start_info *guest_start;

/* The fault record lives outside the kernel stack so that a nested fault
 * cannot corrupt it before the host reads it. */
static struct cowvm_hc_fault fault_record;
static int fault_depth;

/* Write len bytes to the 16550 at GUEST_SERIAL_PORT, polling LSR. */
void guest_serial_write(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		/* Bounded poll: a UART model without LSR must not hang us. */
		for (unsigned spin = 0; spin < 100000; spin++)
			if (inb(GUEST_SERIAL_PORT + 5) & 0x20)
				break;
		outb(GUEST_SERIAL_PORT, (uint8_t)s[i]);
	}
}

/* Write len bytes to the console: one COWVM_HC_PUTS per call (split only
 * above COWVM_PUTS_MAX) under cowvm, the 16550 otherwise. */
void guest_console_write(const char *s, size_t len)
{
	if (!guest_cowvm) {
		guest_serial_write(s, len);
		return;
	}
	do {
		size_t n = len > COWVM_PUTS_MAX ? COWVM_PUTS_MAX : len;
		struct cowvm_hc_puts p = {(uintptr_t)s, n};

		guest_hc(COWVM_HC_PUTS, &p);
		s += n;
		len -= n;
	} while (len);
}

/* Format and write to the console in one piece (up to 1 KiB). */
void guest_printf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = guest_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	guest_console_write(buf, n);
}

/* Stop the guest with status: COWVM_HC_EXIT under cowvm, isa-debug-exit
 * otherwise; if neither stops it, spin (hlt is privileged in ring 3). */
void guest_exit(unsigned status)
{
	if (guest_cowvm) {
		struct cowvm_hc_exit e = {status, 0};

		guest_hc(COWVM_HC_EXIT, &e);
	} else {
		outb(GUEST_DEBUG_EXIT_PORT, (uint8_t)status);
	}
	for (;;)
		__asm__ volatile("pause");
}

/* The memory map of the start info, or NULL with *n = 0 if it has none. */
static const struct cowvm_memmap_entry *memmap(uint32_t *n)
{
	if (!guest_start || guest_start->version < 1 ||
	    !guest_start->memmap_paddr) {
		*n = 0;
		return NULL;
	}
	*n = guest_start->memmap_entries;
	return (const struct cowvm_memmap_entry *)(uintptr_t)
		guest_start->memmap_paddr;
}

/* Sum of the sizes of the type-1 (RAM) entries of the memory map. */
uint64_t guest_ram_total(void)
{
	uint32_t n;
	const struct cowvm_memmap_entry *m = memmap(&n);
	uint64_t total = 0;

	for (uint32_t i = 0; i < n; i++)
		if (m[i].type == 1)
			total += m[i].size;
	return total;
}

/* Nonzero if [base, base + len) lies in one RAM entry of the memory map. */
int guest_ram_contains(uint64_t base, uint64_t len)
{
	uint32_t n;
	const struct cowvm_memmap_entry *m = memmap(&n);

	if (base + len < base)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (m[i].type == 1 && base >= m[i].addr &&
		    base + len <= m[i].addr + m[i].size)
			return 1;
	return 0;
}

/* End of the highest RAM entry of the memory map. */
uint64_t guest_ram_top(void)
{
	uint32_t n;
	const struct cowvm_memmap_entry *m = memmap(&n);
	uint64_t top = 0;

	for (uint32_t i = 0; i < n; i++)
		if (m[i].type == 1 && m[i].addr + m[i].size > top)
			top = m[i].addr + m[i].size;
	return top;
}

/* Highest address our page tables map: all of RAM under cowvm, 4 GiB under
 * the PVH boot's own tables. */
uint64_t guest_mapped_top(void)
{
	return guest_cowvm ? guest_ram_top() : 4ull << 30;
}

/* Ring 0, from guest_isr_common: report the exception described by frame
 * (vector, error, rip, cs, rflags, rsp, ss) and cr2 through COWVM_HC_FAULT;
 * if nothing answers (QEMU), print it on the serial port and exit through
 * isa-debug-exit with status 3. Never returns. */
void guest_fault_report(const uint64_t *frame, uint64_t cr2);
void guest_fault_report(const uint64_t *frame, uint64_t cr2)
{
	char buf[256];
	size_t n;

	if (fault_depth++) {
		/* A fault while reporting one: stop without touching more. */
		outb(GUEST_DEBUG_EXIT_PORT, 4);
		return;
	}
	fault_record.vector = frame[0];
	fault_record.error_code = frame[1];
	fault_record.rip = frame[2];
	fault_record.cs = frame[3];
	fault_record.rsp = frame[5];
	fault_record.cr2 = cr2;
	/* Issued even before cowvm was detected: under QEMU it is a no-op. */
	guest_hc(COWVM_HC_FAULT, &fault_record);
	n = guest_snprintf(buf, sizeof(buf),
			   "guest: fault vector=%lu error=0x%lx rip=0x%lx "
			   "cr2=0x%lx rsp=0x%lx cs=0x%lx\n",
			   fault_record.vector, fault_record.error_code,
			   fault_record.rip, fault_record.cr2, fault_record.rsp,
			   fault_record.cs);
	guest_serial_write(buf, n);
	outb(GUEST_DEBUG_EXIT_PORT, 3);
}
