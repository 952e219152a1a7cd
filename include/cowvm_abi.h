/* The cowvm guest ABI: boot protocol and port-I/O hypercalls, shared by the
 * guest kernel (freestanding C99) and the VMM. */
#ifndef COWVM_ABI_H
#define COWVM_ABI_H

#include <stdint.h>

#define COWVM_ABI_VERSION 1
#define COWVM_ABI_MAGIC 0x4d56574fu /* "OWVM" */

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
#define COWVM_BOOT_INFO 0x1000ull   /* struct cowvm_start_info */
#define COWVM_BOOT_MEMMAP 0x1100ull /* struct cowvm_memmap_entry[] */
#define COWVM_BOOT_CMDLINE 0x2000ull
#define COWVM_CMDLINE_MAX 4096u
#define COWVM_BOOT_GDT 0x3000ull
#define COWVM_BOOT_PML4 0x10000ull /* then PDPT, then PDs: up to 0x60000 */
#define COWVM_LOAD_MIN 0x100000ull
#define COWVM_LOW_MEM_MAX 0xc0000000ull
#define COWVM_HIGH_MEM_BASE 0x100000000ull
#define COWVM_MEM_MIN (4ull << 20)
#define COWVM_MEM_MAX (64ull << 30)

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
#define COWVM_HC_PORT(nr) (COWVM_HC_PORT_BASE + (nr))

enum cowvm_hc_nr {
	COWVM_HC_INFO = 0,     /* struct cowvm_hc_info */
	COWVM_HC_PUTS = 1,     /* struct cowvm_hc_puts */
	COWVM_HC_EXIT = 2,     /* struct cowvm_hc_exit; does not return */
	COWVM_HC_FAULT = 3,    /* struct cowvm_hc_fault; does not return */
	COWVM_HC_SNAPSHOT = 4, /* struct cowvm_hc_snapshot */
	COWVM_HC_CMDLINE = 5,  /* struct cowvm_hc_cmdline */
	COWVM_HC_MAX = 16      /* ports up to BASE + MAX - 1 are reserved */
};

/* COWVM_HC_INFO: host fills every field. */
struct cowvm_hc_info {
	uint32_t magic;   /* out: COWVM_ABI_MAGIC */
	uint32_t version; /* out: COWVM_ABI_VERSION */
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
	uint64_t buf; /* in: guest-physical address */
	uint64_t size; /* in: bytes available at buf */
	uint64_t len; /* out: length without the NUL; truncated if >= size */
};

_Static_assert(sizeof(struct cowvm_start_info) == 56, "start info layout");
_Static_assert(sizeof(struct cowvm_memmap_entry) == 24, "memmap layout");
_Static_assert(sizeof(struct cowvm_hc_info) == 16, "hc_info layout");
_Static_assert(sizeof(struct cowvm_hc_puts) == 16, "hc_puts layout");
_Static_assert(sizeof(struct cowvm_hc_exit) == 8, "hc_exit layout");
_Static_assert(sizeof(struct cowvm_hc_fault) == 48, "hc_fault layout");
_Static_assert(sizeof(struct cowvm_hc_snapshot) == 16, "hc_snapshot layout");
_Static_assert(sizeof(struct cowvm_hc_cmdline) == 24, "hc_cmdline layout");

/*
 * The memtest pattern: the 64-bit word at index i (counting 8-byte words from
 * the start of the filled range) is splitmix64 of (seed + (i + 1) * golden),
 * and the reported checksum folds every word w in order as
 * h = (h ^ w) * 0x100000001b3, starting from h = 0xcbf29ce484222325.
 * golden = 0x9e3779b97f4a7c15 and splitmix64(z) is the standard finalizer:
 * z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
 * z = (z ^ (z >> 27)) * 0x94d049bb133111eb; result z ^ (z >> 31).
 * All arithmetic is modulo 2^64.
 * The guest prints "memtest: seed=S base=0xB bytes=N checksum=0xH" with S
 * and N in decimal, B in lowercase hex without padding and H as exactly 16
 * lowercase hex digits.
 */
#define COWVM_MEMTEST_BASE (8ull << 20)

/*
 * The forktest workload, "forktest seed=S mib=M rounds=R pages=K" (defaults
 * 1, 16, 4, 8): it fills [COWVM_MEMTEST_BASE, + M MiB) with the memtest
 * pattern of seed S and prints
 * "forktest: seed=S mib=M rounds=R pages=K checksum=0xH" with the memtest
 * checksum H of the region. Each round r = 1..R loads known values into
 * rbx rcx rsi rdi rbp r8-r15, xmm0-xmm15, MXCSR, the x87 control word, two
 * x87 registers and the status flags and DF of RFLAGS, issues
 * COWVM_HC_SNAPSHOT with tag r (ret preset to 0 under QEMU, where nothing
 * answers), and takes id = ret, which must be >= 0.
 * It checks that every register survived and that the region's checksum
 * is still the one printed last, then writes K whole pages: with
 * npages = M * 256 and start = (id * K + 13 * r) mod npages (products and
 * sums modulo 2^64 before the mod), pages (start + j) mod npages for
 * j = 0..K-1, counted from COWVM_MEMTEST_BASE. Page p gets the memtest
 * pattern of seed t = splitmix64(splitmix64(S + r * golden) + id * golden)
 * at its own word positions: word i of the region (i = p * 512 .. p * 512
 * + 511) becomes splitmix64(t + (i + 1) * golden). It then prints
 * "forktest: round=r id=ID checksum=0xH" (r and ID decimal, H the checksum
 * of the whole region, 16 lowercase hex digits). After round R it prints
 * "forktest: PASS" and exits 0; a failed check prints "forktest: FAIL ..."
 * and exits 1; bad arguments exit 2.
 */

/*
 * The fuzz harness ABI (version COWVM_FUZZ_VERSION), between a fuzz target
 * ELF (guest kernel + guest/fuzz_harness.c + a target compiled with
 * -fsanitize-coverage=trace-pc-guard) and the host fuzzer (`cowvm fuzz`).
 *
 * At boot the harness numbers the target's coverage guards 1..N (guard g
 * counts in map byte g % COWVM_FUZZ_MAP_SIZE, skipping byte 0), calls
 * cowvm_target_init() if the target defines it, zeroes the map, fills in
 * struct cowvm_fuzz_ctl and issues COWVM_HC_SNAPSHOT with tag
 * COWVM_FUZZ_SNAPSHOT_TAG. Each time it resumes from there it reads struct
 * cowvm_fuzz_input (the host wrote it while the guest was stopped), calls
 * cowvm_target(data, len) once and stops with COWVM_HC_EXIT:
 *   COWVM_FUZZ_EXIT_OK      the target returned 0;
 *   COWVM_FUZZ_EXIT_RETURN  it returned nonzero (ctl.crash_value, rip 0);
 *   COWVM_FUZZ_EXIT_ABORT   it called cowvm_target_abort() (ctl.crash_rip
 *                           is the caller's return address).
 * A CPU exception (including __builtin_trap's #UD) stops the VM through
 * COWVM_HC_FAULT. The map holds one 8-bit hit counter per guard (they
 * saturate at 255); trace-pc-guard places guards on edges, so a guard id is
 * an edge id. Bytes 1..ctl.guards (at most COWVM_FUZZ_MAP_SIZE - 1) are
 * the ones in use. With COWVM_FUZZ_F_FXRSTOR in ctl.flags, the harness
 * saves its x87/SSE state (FXSAVE) right before the snapshot request and
 * restores it (FXRSTOR) right after each resume, before any other
 * instruction, so the host need not restore that state. Everything lies below the 4 MiB minimum of guest RAM and
 * above the guest image (which must end below COWVM_FUZZ_CTL).
 */
#define COWVM_FUZZ_VERSION 1
#define COWVM_FUZZ_MAGIC 0x5a5a5546u /* "FUZZ" */
#define COWVM_FUZZ_SNAPSHOT_TAG 0x7a7a7566ull /* "fuzz" */
#define COWVM_FUZZ_CTL 0x200000ull    /* struct cowvm_fuzz_ctl */
#define COWVM_FUZZ_MAP 0x201000ull    /* uint8_t[COWVM_FUZZ_MAP_SIZE] */
#define COWVM_FUZZ_MAP_SIZE 65536u
#define COWVM_FUZZ_INPUT 0x211000ull  /* struct cowvm_fuzz_input */
#define COWVM_FUZZ_INPUT_MAX (1u << 20) /* bytes of data */

#define COWVM_FUZZ_F_FXRSTOR 1u /* restores x87/SSE after each resume */

enum cowvm_fuzz_exit {
	COWVM_FUZZ_EXIT_OK = 0,
	COWVM_FUZZ_EXIT_RETURN = 100,
	COWVM_FUZZ_EXIT_ABORT = 101,
};

/* Written by the harness: at boot (magic..guards), before a crash exit
 * (crash_*). */
struct cowvm_fuzz_ctl {
	uint32_t magic;	   /* COWVM_FUZZ_MAGIC */
	uint32_t version;  /* COWVM_FUZZ_VERSION */
	uint32_t guards;   /* coverage guards numbered (map bytes 1..) */
	uint32_t flags;	   /* COWVM_FUZZ_F_* */
	int64_t crash_value; /* COWVM_FUZZ_EXIT_RETURN: what the target
			      * returned */
	uint64_t crash_rip;  /* COWVM_FUZZ_EXIT_ABORT: the caller */
};

/* Written by the host before each run: len bytes of data follow. */
struct cowvm_fuzz_input {
	uint64_t len; /* at most COWVM_FUZZ_INPUT_MAX */
	uint8_t data[];
};

_Static_assert(sizeof(struct cowvm_fuzz_ctl) == 32, "fuzz ctl layout");
_Static_assert(sizeof(struct cowvm_fuzz_input) == 8, "fuzz input layout");
_Static_assert(COWVM_FUZZ_CTL + sizeof(struct cowvm_fuzz_ctl) <=
		       COWVM_FUZZ_MAP &&
	       COWVM_FUZZ_MAP + COWVM_FUZZ_MAP_SIZE <= COWVM_FUZZ_INPUT &&
	       COWVM_FUZZ_INPUT + 8 + COWVM_FUZZ_INPUT_MAX <= COWVM_MEM_MIN,
	       "fuzz areas overlap or leave the minimum RAM");

/*
 * The serve workload, "serve [state_mib=M] [seed=S] [fault=init]"
 * (defaults 16, 1): a warm runtime for `cowvm serve`.
 *
 * Init builds a hash table of M MiB at COWVM_SERVE_STATE mapping numbers
 * I (below 2^63) to values: S = M * 65536 slots of 16 bytes {I + 1, value},
 * 0 in the first word marking an empty slot. It inserts I -> value(I) for
 * I = 0 .. n - 1, n = S / 2, in order, where h(I) = splitmix64(seed +
 * (I + 1) * golden) (the memtest pattern) and value(I) = splitmix64(h(I)
 * ^ COWVM_SERVE_VALUE_XOR). The probe for I starts at slot (h(I) * S) >>
 * 64 (the high half of the 128-bit product) and goes on linearly,
 * wrapping. Init prints "serve: state_mib=M seed=S slots=S keys=n" and
 * issues COWVM_HC_SNAPSHOT with tag COWVM_SERVE_TAG: the template point.
 * fault=init takes a ud2 fault in ring 3 before the snapshot (a test
 * hook); bad arguments or a state outside RAM exit COWVM_SERVE_ARGS.
 *
 * Each resume (the original VM, a clone or a reset VM) serves exactly one
 * request and exits: it reads a struct cowvm_serve_msg with magic
 * COWVM_SERVE_REQ_MAGIC at COWVM_SERVE_REQ followed by len bytes, writes
 * one with magic COWVM_SERVE_RESP_MAGIC at COWVM_SERVE_RESP, and exits
 * through COWVM_HC_EXIT with the response's status (enum
 * cowvm_serve_status). A host serves the next request from a new clone of
 * the template snapshot or after cowvm_reset of the VM to it, so no request
 * sees another's writes.
 *
 * Request data: commands separated by ';' or '\n', each of words separated
 * by ' ', '\t' or '\r'; empty commands are skipped; at most
 * COWVM_SERVE_CMDS_MAX commands, all checked before any runs. A number I
 * or V is decimal digits or "0x" and hex digits (either case), spanning
 * the whole word, I below 2^63, V below 2^64. Commands:
 *   get I      -> "I=VVVVVVVVVVVVVVVV" (the value of I) or "I=none"
 *   put I V    -> "I:OOOOOOOOOOOOOOOO->VVVVVVVVVVVVVVVV" or "I:none->V..."
 *                 (sets the value of I, inserting I if absent; later
 *                 commands of the same request see it)
 *   agg WORD   -> "agg=H:SSSSSSSSSSSSSSSS": h = FNV-1a 64 of WORD's bytes
 *                 (offset 0xcbf29ce484222325, prime 0x100000001b3); for
 *                 j = 1 .. COWVM_SERVE_AGG_LOOKUPS it looks up
 *                 I = splitmix64(h + j * golden) mod 2n; H counts the
 *                 lookups that found I, S sums their values mod 2^64
 *   crash      -> the handler takes a ud2 fault (a test hook)
 * I and H are printed in decimal, values as 16 lowercase hex digits. The
 * response data is "req=C" (C counts the requests this VM's memory has
 * served since init: always 1 for a host that clones or resets), then for
 * each command in order one space and its result, with status
 * COWVM_SERVE_OK. Any other command, word count or number makes the whole
 * response "error: command N" (N the 1-based index of the first bad
 * non-empty command; N = COWVM_SERVE_CMDS_MAX + 1 when there are too
 * many) with status COWVM_SERVE_BAD. A request header with a wrong magic
 * or version or len > COWVM_SERVE_DATA_MAX gets the response "error: no
 * request" with status COWVM_SERVE_NOREQ.
 */
#define COWVM_SERVE_VERSION	1
#define COWVM_SERVE_TAG		0x5e7eull /* snapshot tag of the template */
#define COWVM_SERVE_REQ		0x600000ull /* struct cowvm_serve_msg */
#define COWVM_SERVE_RESP	0x610000ull /* struct cowvm_serve_msg */
#define COWVM_SERVE_BUF_SIZE	0x10000u    /* each, header included */
#define COWVM_SERVE_DATA_MAX	(COWVM_SERVE_BUF_SIZE - 16u)
#define COWVM_SERVE_STATE	COWVM_MEMTEST_BASE
#define COWVM_SERVE_CMDS_MAX	64u
#define COWVM_SERVE_AGG_LOOKUPS	16u
#define COWVM_SERVE_VALUE_XOR	0x5e7e5e7e5e7e5e7eull
#define COWVM_SERVE_REQ_MAGIC	0x51524553u /* "SERQ" */
#define COWVM_SERVE_RESP_MAGIC	0x50524553u /* "SERP" */

enum cowvm_serve_status {
	COWVM_SERVE_OK = 0,    /* every command ran */
	COWVM_SERVE_BAD = 1,   /* a bad command: "error: command N" */
	COWVM_SERVE_ARGS = 2,  /* init: bad arguments or state outside RAM */
	COWVM_SERVE_NOREQ = 3, /* no valid request header */
};

/* The header of a request (host -> guest) or response (guest -> host);
 * len bytes of data follow it. */
struct cowvm_serve_msg {
	uint32_t magic;	  /* COWVM_SERVE_REQ_MAGIC or COWVM_SERVE_RESP_MAGIC */
	uint32_t version; /* COWVM_SERVE_VERSION */
	uint32_t len;	  /* data bytes, at most COWVM_SERVE_DATA_MAX */
	uint32_t status;  /* response: enum cowvm_serve_status; request: 0 */
};

_Static_assert(sizeof(struct cowvm_serve_msg) == 16, "serve msg layout");
_Static_assert(COWVM_SERVE_REQ + COWVM_SERVE_BUF_SIZE <= COWVM_SERVE_RESP,
	       "serve buffers overlap");
_Static_assert(COWVM_SERVE_RESP + COWVM_SERVE_BUF_SIZE <= COWVM_SERVE_STATE,
	       "serve response overlaps the state");

#endif
