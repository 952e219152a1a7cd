/* The cowvm boot and hypercall ABI (version COWVM_ABI_VERSION), shared by
 * every guest kernel (freestanding C99) and the VMM. The workloads', fuzz
 * harness's and serve workload's contracts have headers of their own. */
#ifndef COWVM_ABI_H
#define COWVM_ABI_H

#include <stdint.h>

#define COWVM_ABI_VERSION 2	      /* 2: COWVM_HC_GENID */
#define COWVM_ABI_MAGIC	  0x4d56574fu /* "OWVM" */

/*
 * Boot protocol.
 *
 * cowvm loads the ELF's PT_LOAD segments at their physical addresses
 * (p_paddr), which must lie in guest RAM at or above COWVM_LOAD_MIN, and
 * enters e_entry directly in 64-bit mode at CPL 0 with:
 *   - paging on (CR0.PG|PE|MP, CR4.PAE|OSFXSR|OSXMMEXCPT, EFER.LME|LMA; SCE
 *     clear, so SYSCALL raises #UD unless the guest enables it),
 *     an identity map of guest RAM (not of the hole below 4 GiB) built
 *     from 2 MiB pages with P|RW|US set, its tables at COWVM_BOOT_PML4 and
 *     above;
 *   - a flat 64-bit code segment (selector 0x08) and data segments (0x10)
 *     from a GDT at COWVM_BOOT_GDT; the guest installs its own GDT/IDT/TSS;
 *   - interrupts disabled, rsp = 0 (the guest sets its own stack);
 *   - rdi = rbx = guest-physical address of a struct cowvm_start_info.
 * The same ELF carries a PVH note (XEN_ELFNOTE_PHYS32_ENTRY) so that
 * `qemu-system-x86_64 -kernel` boots it in 32-bit protected mode with
 * ebx = start info; struct cowvm_start_info has the PVH layout, so one
 * parser serves both boots.
 *
 * Guest-physical layout: RAM is [0, min(mem, COWVM_LOW_MEM_MAX)) plus, when
 * mem is larger, [COWVM_HIGH_MEM_BASE, COWVM_HIGH_MEM_BASE + the rest). The
 * memory map in the start info lists both ranges as type 1 (RAM).
 */
#define COWVM_BOOT_INFO	    0x1000ull /* struct cowvm_start_info */
#define COWVM_BOOT_MEMMAP   0x1100ull /* struct cowvm_memmap_entry[] */
#define COWVM_BOOT_CMDLINE  0x2000ull
#define COWVM_CMDLINE_MAX   4096u
#define COWVM_BOOT_GDT	    0x3000ull
#define COWVM_BOOT_PML4	    0x10000ull /* then PDPT, then PDs: up to 0x60000 */
#define COWVM_LOAD_MIN	    0x100000ull
#define COWVM_LOW_MEM_MAX   0xc0000000ull
#define COWVM_HIGH_MEM_BASE 0x100000000ull
#define COWVM_MEM_MIN	    (4ull << 20)
#define COWVM_MEM_MAX	    (64ull << 30)

#define COWVM_START_MAGIC 0x336ec578u /* the PVH hvm_start_info magic */

struct cowvm_start_info {
	uint32_t magic;
	uint32_t version; /* 1: memmap fields valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr; /* NUL-terminated, 0 if none */
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* struct cowvm_memmap_entry[memmap_entries] */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct cowvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1: RAM */
	uint32_t reserved;
};

/*
 * Hypercalls: the guest writes (outl) the guest-physical address of the
 * argument struct, which must lie below 4 GiB, to port
 * COWVM_HC_PORT_BASE + nr. The host validates every field, performs the call,
 * writes results back into the struct and resumes the guest. Ports are
 * reachable from ring 3: the guest runs its workloads with IOPL 3 and an
 * all-open I/O permission bitmap in its TSS (PVM-based KVM runs guest user
 * mode at hardware IOPL 0 and emulates a user-mode in/out only when the
 * guest TSS bitmap allows the port; IOPL alone gives #GP there).
 * Under QEMU nothing answers: a guest detects cowvm with COWVM_HC_INFO.
 */
#define COWVM_HC_PORT_BASE 0x500u
#define COWVM_HC_PORT(nr)  (COWVM_HC_PORT_BASE + (nr))

enum cowvm_hc_nr {
	COWVM_HC_INFO = 0,     /* struct cowvm_hc_info */
	COWVM_HC_PUTS = 1,     /* struct cowvm_hc_puts */
	COWVM_HC_EXIT = 2,     /* struct cowvm_hc_exit; does not return */
	COWVM_HC_FAULT = 3,    /* struct cowvm_hc_fault; does not return */
	COWVM_HC_SNAPSHOT = 4, /* struct cowvm_hc_snapshot */
	COWVM_HC_CMDLINE = 5,  /* struct cowvm_hc_cmdline */
	COWVM_HC_GENID = 6,    /* struct cowvm_hc_genid (version 2) */
	COWVM_HC_MAX = 16      /* ports up to BASE + MAX - 1 are reserved */
};

/* COWVM_HC_INFO: host fills every field. */
struct cowvm_hc_info {
	uint32_t magic;	   /* out: COWVM_ABI_MAGIC */
	uint32_t version;  /* out: COWVM_ABI_VERSION */
	uint64_t mem_size; /* out: bytes of guest RAM */
};

/* COWVM_HC_PUTS: write len bytes at data to the console. */
struct cowvm_hc_puts {
	uint64_t data; /* in: guest-physical address */
	uint64_t len;  /* in: at most COWVM_PUTS_MAX */
};
#define COWVM_PUTS_MAX 65536u

/* COWVM_HC_EXIT: stop the VM with an exit status (0..255). */
struct cowvm_hc_exit {
	uint32_t status;
	uint32_t reserved;
};

/* COWVM_HC_FAULT: an unhandled CPU exception; the VM stops. */
struct cowvm_hc_fault {
	uint64_t vector;
	uint64_t error_code; /* 0 when the vector pushes none */
	uint64_t rip;
	uint64_t cr2;
	uint64_t rsp;
	uint64_t cs; /* cs & 3 is the CPL the fault came from */
};

/* COWVM_HC_SNAPSHOT: ask the host to take a snapshot here. The host's run
 * call returns to its caller; when the guest resumes (in the original or in
 * any clone), ret holds a value chosen by the host (0 by default). */
struct cowvm_hc_snapshot {
	uint64_t tag; /* in: the guest's label for this point */
	int64_t ret;  /* out */
};

/* COWVM_HC_CMDLINE: copy the NUL-terminated command line into buf. */
struct cowvm_hc_cmdline {
	uint64_t buf;  /* in: guest-physical address */
	uint64_t size; /* in: bytes available at buf */
	uint64_t len;  /* out: length without the NUL; truncated if >= size */
};

/* COWVM_HC_GENID: the VM's generation, for guests that must reseed their
 * random generators (or renew anything else meant to be unique) when they
 * find themselves copied, as Linux does on a VMGenID change. A generation
 * starts at boot and anew in every VM made from a snapshot: each clone,
 * each fork (the new VM; its parent keeps its generation), each reset.
 * id is 16 random bytes the host drew for this generation alone; counter
 * counts the generations of this VM's line (0 at boot; a VM made from a
 * snapshot taken at counter c is at c + 1). A guest that reads the id
 * before and after a point where it may have been copied (a snapshot
 * request, a long computation) knows whether it was. What a guest keeps
 * in its own memory, its generators' state among it, every copy shares
 * until the guest reseeds it. */
struct cowvm_hc_genid {
	uint8_t id[16];	   /* out */
	uint64_t counter;  /* out */
	uint64_t reserved; /* out: 0 */
};

_Static_assert(sizeof(struct cowvm_start_info) == 56, "start info layout");
_Static_assert(sizeof(struct cowvm_memmap_entry) == 24, "memmap layout");
_Static_assert(sizeof(struct cowvm_hc_info) == 16, "hc_info layout");
_Static_assert(sizeof(struct cowvm_hc_puts) == 16, "hc_puts layout");
_Static_assert(sizeof(struct cowvm_hc_exit) == 8, "hc_exit layout");
_Static_assert(sizeof(struct cowvm_hc_fault) == 48, "hc_fault layout");
_Static_assert(sizeof(struct cowvm_hc_snapshot) == 16, "hc_snapshot layout");
_Static_assert(sizeof(struct cowvm_hc_cmdline) == 24, "hc_cmdline layout");
_Static_assert(sizeof(struct cowvm_hc_genid) == 32, "hc_genid layout");

#endif
