/* The cowvm snapshot file format (version COWVM_SNAPFILE_VERSION), as
 * cowvm_snapshot_save writes it and cowvm_snapshot_open reads it (C99):
 *
 *   [0, 4096)      struct cowvm_snapfile_header (the rest zero)
 *   STATE section  the VM's non-RAM state as this cowvm build packs it
 *   PAGES section  page aligned. In a file without parent: guest RAM as
 *                  an image, mem_size bytes, RAM page i (the low range,
 *                  then the high one) at byte i * 4096, zero pages being
 *                  holes of the (sparse) file, so that they take no disk
 *                  space and a restore maps the section in place. In a
 *                  child: the pages it stores, 4096 bytes each, packed in
 *                  RAM order (nr_pages of them)
 *   MAP section    one bit per RAM page (bit i % 8 of byte i / 8): set
 *                  when this file stores page i
 *   SUMS section   one uint32_t per stored page, in RAM order: the
 *                  CRC-32C of its 4096 bytes (a hole reads as zero)
 *
 * Integers are little-endian. Each section but PAGES carries the CRC-32C
 * (Castagnoli, reflected, initial and final XOR 0xffffffff) of its bytes
 * (PAGES is covered by SUMS page by page; its crc32c is 0), and the
 * header the CRC-32C of its bytes before header_crc32c.
 *
 * A file without a parent stores every page (all MAP bits set). A child
 * file (parent[] not empty) stores only the pages whose contents may
 * differ from its parent file's, zero pages included, and restores as its
 * parent chain with its own pages on top and its own state; it names the
 * parent by path (relative to the child's folder unless absolute) and by
 * the parent's header_crc32c, so that a parent changed since is refused. */
#ifndef COWVM_SNAPFILE_H
#define COWVM_SNAPFILE_H

#include <stdint.h>

#if defined(__cplusplus) && !defined(_Static_assert)
#define _Static_assert static_assert /* C++ readers (benchmarks, tools) */
#endif

#define COWVM_SNAPFILE_MAGIC   "COWVMSNP" /* 8 bytes, no NUL */
#define COWVM_SNAPFILE_VERSION 2u
#define COWVM_SNAPFILE_ALIGN   4096u

enum cowvm_snapfile_section_id {
	COWVM_SNAPFILE_STATE,
	COWVM_SNAPFILE_PAGES,
	COWVM_SNAPFILE_MAP,
	COWVM_SNAPFILE_SUMS,
	COWVM_SNAPFILE_NSECTIONS
};

struct cowvm_snapfile_section {
	uint64_t offset; /* from the start of the file */
	uint64_t length; /* bytes */
	uint32_t crc32c;
	uint32_t reserved;
};

/* The CPUID feature words the guest saw, in cpu[]: leaf 1 ECX and EDX,
 * leaf 7 (subleaf 0) EBX, ECX and EDX, leaf 0xd (subleaf 0) EAX (XCR0
 * bits), leaf 0x80000001 ECX and EDX. A host that lacks one of the bits
 * set cannot run the snapshot: the guest may rely on it. */
#define COWVM_SNAPFILE_CPU_WORDS 8

struct cowvm_snapfile_header {
	uint8_t magic[8];	/* COWVM_SNAPFILE_MAGIC */
	uint32_t version;	/* COWVM_SNAPFILE_VERSION */
	uint32_t header_size;	/* sizeof(struct cowvm_snapfile_header) */
	uint32_t abi_version;	/* COWVM_ABI_VERSION of the saver */
	uint32_t linux_version; /* COWVM_LINUX_VERSION of the saver */
	uint32_t state_layout;	/* the saver's size of its packed state */
	uint32_t mem_mode;	/* enum cowvm_mem_mode it ran in */
	uint64_t mem_size;	/* bytes of guest RAM */
	uint64_t nr_pages;	/* pages stored */
	char cowvm_version[32]; /* NUL-terminated */
	uint32_t cpu[COWVM_SNAPFILE_CPU_WORDS];
	struct cowvm_snapfile_section section[COWVM_SNAPFILE_NSECTIONS];
	char parent[256];	       /* NUL-terminated; "" for none */
	uint32_t parent_header_crc32c; /* the parent's, when saved */
	uint32_t flags;		       /* 0 */
	uint32_t reserved;
	uint32_t header_crc32c;
};

_Static_assert(sizeof(struct cowvm_snapfile_section) == 24,
	       "snapfile section layout");
_Static_assert(sizeof(struct cowvm_snapfile_header) == 480,
	       "snapfile header layout");

#endif
