/* cowvm public API: create, run, snapshot and fork KVM virtual machines. */
#ifndef COWVM_H
#define COWVM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* All functions returning int return 0 (or a count) on success and -errno on
 * failure; functions returning pointers return NULL and set errno. Nothing
 * in the library prints to stdout or exits the process.
 *
 * Threads: a VM is used by one thread at a time (any thread); different
 * VMs, and clones and resets from one snapshot, may run in parallel.
 *
 * After fork(), the child may create VMs of its own. The VMs and snapshots
 * it inherited share guest memory with the parent's and are inert in the
 * child: every call on them fails with -ECHILD (NULL and ECHILD), and
 * cowvm_destroy and cowvm_snapshot_put leave them alone. */

/* Marks the library's exported functions (everything else is hidden). */
#if defined(__GNUC__)
#define COWVM_API __attribute__((visibility("default")))
#else
#define COWVM_API
#endif

struct cowvm;
struct cowvm_snapshot;

struct cowvm_config {
	uint64_t
		mem_size; /* bytes of guest RAM, COWVM_MEM_MIN..COWVM_MEM_MAX */
	unsigned vcpus;	  /* only 1 is supported */
	uint64_t timeout_ms; /* wall-clock limit per cowvm_run, 0 = none */
	int console_fd;	     /* guest console output goes here; -1 = dropped */
	enum cowvm_mem_mode {
		COWVM_MEM_DEFAULT = 0, /* the measured best: see README */
		COWVM_MEM_KERNEL,      /* host kernel copies on write
					* (MAP_PRIVATE); written pages are
					* folded into the table on snapshot,
					* fork and reset */
		COWVM_MEM_UFFD,	       /* cowvm resolves every first write
					* through userfaultfd */
	} mem_mode;
};

/* Fill a config with the defaults: 64 MiB, 1 vCPU, no timeout, stdout. */
COWVM_API void cowvm_config_init(struct cowvm_config *cfg);

/* Create a VM with empty (zero) RAM; NULL and errno on failure. */
COWVM_API struct cowvm *cowvm_create(const struct cowvm_config *cfg);

/* Load an x86-64 ELF kernel and set the vCPU up to enter it, with cmdline
 * (may be NULL) passed through the boot protocol of cowvm_abi.h. */
COWVM_API int cowvm_load_elf(struct cowvm *vm, const char *path,
			     const char *cmdline);

enum cowvm_exit_reason {
	COWVM_EXIT_GUEST = 1, /* the guest exited; status is its status */
	COWVM_EXIT_FAULT,     /* unhandled CPU exception; see fault */
	COWVM_EXIT_TIMEOUT,   /* config.timeout_ms elapsed */
	COWVM_EXIT_SNAPSHOT,  /* the guest requested a snapshot; run again
			       * (or fork) to resume it */
	COWVM_EXIT_SHUTDOWN,  /* triple fault or unexpected reset */
	COWVM_EXIT_ERROR,     /* the VM cannot continue; see detail */
	COWVM_EXIT_SIGNAL,    /* a Linux program died of signal status;
			       * fault.rip and fault.cr2 say where (the
			       * faulting instruction and address, or 0) */
};

struct cowvm_exit {
	enum cowvm_exit_reason reason;
	int status;   /* COWVM_EXIT_GUEST: the guest's exit status */
	uint64_t tag; /* COWVM_EXIT_SNAPSHOT: the guest's label */
	struct {
		uint64_t vector, error_code, rip, cr2, rsp, cs;
	} fault;	  /* COWVM_EXIT_FAULT */
	uint64_t rip;	  /* vCPU rip when the run stopped */
	char detail[160]; /* one human-readable line on what happened */
};

/*
 * Linux programs. cowvm_load_linux boots the Linux personality kernel and
 * loads an unmodified static x86-64 Linux executable (ET_EXEC or static-pie,
 * glibc or musl) to run in guest ring 3, as cowvm_linux_abi.h describes.
 * Its system calls are served inside the guest; its standard descriptors
 * 0, 1 and 2 are host descriptors chosen per VM (cowvm_set_stdio). It ends
 * with COWVM_EXIT_GUEST (status = its exit status, 0..255) or
 * COWVM_EXIT_SIGNAL; it may stop at COWVM_EXIT_SNAPSHOT (at its first read
 * of stdin with COWVM_LINUX_SNAPSHOT_STDIN, or where it asks).
 */
struct cowvm_linux_path {
	const char *host;  /* a file or, recursively, a directory */
	const char *guest; /* its absolute path in the guest */
};

struct cowvm_linux {
	const char *kernel;  /* the personality ELF (build/guest/linux.elf) */
	const char *program; /* host path of the executable */
	const char *const *argv; /* NULL-terminated; argv[0] as the program
				  * sees it (NULL: the program path) */
	const char *const *envp; /* NULL-terminated; NULL: empty */
	const struct cowvm_linux_path *files; /* read-only tree, copied into
					       * guest RAM at load */
	unsigned nr_files;
	unsigned flags; /* COWVM_LINUX_STRACE, _SNAPSHOT_STDIN, _BUFFER_OUTPUT
			 * (cowvm_linux_abi.h) */
};

/* Load lx into vm (once per VM, instead of cowvm_load_elf); 0 or -errno:
 * -ENOENT, -EACCES (cannot read the program or a file), -ENOEXEC (not a
 * static x86-64 Linux executable: dynamically linked, 32-bit, another
 * machine, truncated, segments overlapping the kernel or outside RAM),
 * -E2BIG (arguments or files do not fit), with the cause in cowvm_error. */
COWVM_API int cowvm_load_linux(struct cowvm *vm, const struct cowvm_linux *lx);

/* The host descriptors a Linux program's fds 0, 1 and 2 use in vm from its
 * next run on (-1: reads see EOF, writes are discarded). cowvm reads and
 * writes them but never closes them. A new VM, clone or fork starts with
 * 0, 1, 2; a reset keeps vm's. 0 or -errno. */
COWVM_API int cowvm_set_stdio(struct cowvm *vm, int in_fd, int out_fd,
			      int err_fd);

/* Run the VM until the guest exits, faults, times out, requests a snapshot,
 * or cannot continue; describe why in *exit. Returns 0 when *exit is filled,
 * -errno when the VMM itself failed. After a TIMEOUT or SNAPSHOT exit the
 * next run resumes the guest; after any other exit the VM is stopped and
 * every later run reports the same exit again.
 * With a timeout, the calling thread receives signal SIGRTMIN + 2 (cowvm
 * installs a handler for it once per process and unblocks it during runs). */
COWVM_API int cowvm_run(struct cowvm *vm, struct cowvm_exit *exit);

/* After a COWVM_EXIT_SNAPSHOT (in vm or inherited by a clone or fork),
 * choose the ret the guest finds in its request when vm next resumes
 * (0 unless set); -EINVAL when no snapshot request is pending. */
COWVM_API int cowvm_set_snapshot_ret(struct cowvm *vm, int64_t ret);

/* Change the wall-clock limit of later cowvm_run calls (0 = none). */
COWVM_API int cowvm_set_timeout(struct cowvm *vm, uint64_t timeout_ms);

/* One line describing the last failed call on vm, or, with vm NULL, the
 * last failed cowvm_create of this thread; "" if none was recorded. */
COWVM_API const char *cowvm_error(const struct cowvm *vm);

/* Host access to guest-physical memory [gpa, gpa + len); -EFAULT when the
 * range is not all guest RAM. */
COWVM_API int cowvm_read(struct cowvm *vm, uint64_t gpa, void *buf, size_t len);
COWVM_API int cowvm_write(struct cowvm *vm, uint64_t gpa, const void *buf,
			  size_t len);

/*
 * Snapshots and forks. A snapshot holds a VM's complete guest-visible state
 * (memory, vCPU, in-kernel devices, serial) at one instant; memory is shared
 * copy-on-write through the VM's guest page table, so taking one, cloning
 * from one and forking cost the same whatever the memory size. A snapshot is
 * reference counted (cowvm_snapshot_get/put); clones do not need it to stay:
 * they share memory through the page table, not through the snapshot.
 */

/* Snapshot vm now (it must be loaded and not stopped); vm may run on.
 * NULL and errno on failure. */
COWVM_API struct cowvm_snapshot *cowvm_snapshot(struct cowvm *vm);

/* A new VM in the state of snap, sharing its memory until written.
 * NULL and errno on failure. */
COWVM_API struct cowvm *cowvm_clone(struct cowvm_snapshot *snap);

/* A new VM identical to parent at this instant; both may run on. */
COWVM_API struct cowvm *cowvm_fork(struct cowvm *parent);

/* Put vm back into the state of snap (which must come from vm or from the
 * VM vm was cloned from, same memory size) in time proportional to the
 * pages vm wrote since; 0 or -errno. */
COWVM_API int cowvm_reset(struct cowvm *vm, struct cowvm_snapshot *snap);

/* Keep up to n clones of snap as spares: a clone made while n > 0 holds a
 * reference to snap, and when it is destroyed while snap has other
 * references it is reset to snap (O(pages it wrote)) and the next
 * cowvm_clone(snap) takes it instead of a new VM. 0 (the default) keeps
 * none; a lower n destroys the spares beyond it. 0 or -errno. */
COWVM_API int cowvm_snapshot_keep(struct cowvm_snapshot *snap, unsigned n);

/* Keep at least n clones of snap made ahead as spares: the keep count
 * raised to n if lower (cowvm_snapshot_keep: destroyed clones still come
 * back as spares up to it, so keep more than n for clones in flight), the
 * first n realized now, and then a background thread of the library that
 * realizes new ones (from the VM pool) whenever a take leaves fewer than
 * n, so that while spares last cowvm_clone never creates or realizes a VM
 * on the calling thread. Each clone made ahead is warmed for the pages
 * snap holds (every page not known to be zero) and, once the first
 * destroyed clone of snap that ran had them recorded, the pages that
 * clone touched: they are mapped into KVM's page tables
 * (cowvm_mem_stats' pages_prefaulted), so that a first run that reads
 * them costs what a respawned spare's does: by KVM_PRE_FAULT_MEMORY
 * where KVM offers it, else (shadow paging) by a pass of code at CPL 3 in
 * the clone that reads each page the guest maps at its own address with
 * user access (the identity map of cowvm_abi.h), after which the clone is
 * reset. A state not at CPL 3 in 64-bit mode is not warmed that way. The
 * pass costs what that first run would, on the library's thread (or on
 * the caller's for the first n). While n > 0 the library holds a reference to
 * snap; n = 0 stops making them and drops it (the spares stay, as
 * cowvm_snapshot_keep says). 0 or -errno (the first failure making one). */
COWVM_API int cowvm_snapshot_ahead(struct cowvm_snapshot *snap, unsigned n);

/* Declare that the guest loads its own x87 and SSE state (FXRSTOR) each
 * time it resumes from snap, before any other instruction: a reset to snap
 * after a run that stayed in ring 3 then leaves that state as the run left
 * it. -EINVAL unless snap's CR4.OSXSAVE and CR4.PKE are clear (FXRSTOR
 * then restores all the FPU state the guest can use; with PKE, ring 3
 * could change PKRU, which FXRSTOR does not restore). 0 or -errno. */
COWVM_API int cowvm_snapshot_guest_fpu(struct cowvm_snapshot *snap);

/* Save snap to the file path (format: cowvm_snapfile.h): its state, every
 * page of RAM that is not zero (written through io_uring in large
 * batches) and a checksum per section, into a temporary file synced and
 * renamed over path, so that path holds the old file or the whole new
 * one. 0 or -errno, with the cause in cowvm_error(NULL). */
COWVM_API int cowvm_snapshot_save(struct cowvm_snapshot *snap,
				  const char *path);

/* Save snap to path as a child of parent, a snapshot of this process that
 * was saved at parent_path (and is still there): only the pages snap may
 * hold differently from parent are written, the file naming its parent
 * (by file name when both share a folder, else by absolute path) and the
 * parent's header checksum. Opening the child opens the chain. Typical
 * parent: the snapshot snap's VM was cloned from or last reset to. 0 or
 * -errno with the cause in cowvm_error(NULL). */
COWVM_API int cowvm_snapshot_save_child(struct cowvm_snapshot *snap,
					struct cowvm_snapshot *parent,
					const char *parent_path,
					const char *path);

/* Open a snapshot saved by cowvm_snapshot_save (or _save_child: then its
 * parents too, each checked as it is, and refused when missing or changed
 * since the child was saved), in this process or any other on a host
 * whose CPU offers every feature the guest saw; its VMs get cfg's settings
 * (NULL: the defaults; cfg->mem_size must be 0 or the file's).
 *
 * The RAM image of the oldest file of the chain is mapped in place
 * (MAP_PRIVATE: demand paged from the page cache, shared by every clone
 * and every process that opens the file, copied only where written), so
 * opening costs the same at any size; a child file's own pages are read
 * in. The file may be removed or renamed over while the snapshot lives,
 * but must not be rewritten in place. Its pages are checked against their
 * sums in the background (which also reads them ahead): cowvm_run of a
 * VM made from it reports only once they passed, and fails with -EBADMSG
 * when a block did not (-ESTALE when the file changed in place), as do
 * later clones; cowvm_snapshot_verify waits for the verdict.
 *
 * NULL with errno and one line in cowvm_error(NULL) naming the file and
 * the cause: truncated, a checksum mismatch (which section), another
 * format version, saved by a cowvm whose machine state this build cannot
 * read, or "saved where the guest saw X; this host lacks X". */
COWVM_API struct cowvm_snapshot *
cowvm_snapshot_open(const char *path, const struct cowvm_config *cfg);

/* Wait until the pages of the snapshot file snap (or the snapshot it was
 * made from) is mapped from passed their check: 0, or -EBADMSG (a block's
 * checksum), -EIO (a read), -ESTALE (the file changed in place), with the
 * cause in cowvm_error(NULL). 0 at once for a snapshot of no file. */
COWVM_API int cowvm_snapshot_verify(struct cowvm_snapshot *snap);

/* Take one more reference to snap; returns snap. */
COWVM_API struct cowvm_snapshot *
cowvm_snapshot_get(struct cowvm_snapshot *snap);

/* Drop a reference to a snapshot. NULL is ignored. */
COWVM_API void cowvm_snapshot_put(struct cowvm_snapshot *snap);

struct cowvm_mem_stats {
	uint64_t pages_mapped;	/* guest pages backed by memory */
	uint64_t pages_private; /* pages only this VM holds (incl. written
				 * pages not yet folded into the table) */
	uint64_t pages_shared;	/* pages shared with snapshots or other VMs */
	uint64_t table_bytes;	/* guest page-table bytes this VM reaches */
	uint64_t table_private_bytes; /* of which only this VM holds */
	uint64_t pages_kept; /* host copies of pages that read as shared: a
			      * reset refilled them for the next write to
			      * reuse (KERNEL mode, at most 4096 per VM) */
	uint64_t mappings;   /* host mappings of its RAM (at most
			      * COWVM_MAPPINGS_MAX) */
	uint64_t pages_lazy; /* pages realized lazily: copied, not shared,
			      * when first touched (see COWVM_MAPPINGS_MAX) */
	uint64_t pages_prefaulted; /* pages mapped into KVM's page tables
				    * before it was handed out as a clone
				    * made ahead (cowvm_snapshot_ahead) */
};

/* Most host mappings one VM's RAM takes, whatever its history of
 * snapshots, forks and writes (a process has vm.max_map_count, 65530 by
 * default, in all), so that a clone of any snapshot maps at most this
 * many. Past it (KERNEL mode), the most fragmented parts of a VM's layout
 * are realized lazily: anonymous memory whose pages are each filled with
 * a copy of their frame when first touched, so that they are no longer
 * shared with the snapshot. The largest runs stay mapped and shared.
 * COWVM_MAPPINGS_MAX=N in the environment sets another bound (4 to
 * 65536) for the process: higher keeps more pages shared, at the cost of
 * more mappings per clone. */
#define COWVM_MAPPINGS_MAX 64

/* Fill *st with vm's memory accounting; 0 or -errno. */
COWVM_API int cowvm_mem_stats(struct cowvm *vm, struct cowvm_mem_stats *st);

/* Keep n ready-made VMs of cfg's size and memory mode, created and refilled
 * in the background, so that clone and fork skip KVM VM and vCPU creation.
 * n = 0 stops keeping them. 0 or -errno. */
COWVM_API int cowvm_pool_reserve(const struct cowvm_config *cfg, unsigned n);

/* Wait until the pool holds all n VMs reserved for cfg's class, or until
 * timeout_ms passes; 0 or -ETIMEDOUT. */
COWVM_API int cowvm_pool_wait(const struct cowvm_config *cfg,
			      unsigned timeout_ms);

/* Destroy a VM and release everything it holds, unless it is kept as a
 * spare of the snapshot it was cloned from (cowvm_snapshot_keep), until
 * that snapshot goes. NULL is ignored. */
COWVM_API void cowvm_destroy(struct cowvm *vm);

#ifdef __cplusplus
}
#endif

#endif
