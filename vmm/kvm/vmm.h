/* The kvm layer (vmm/kvm/): the internal state of a cowvm VM and what the
 * layers above (state/, the public entry points in vmm/) call it for. It
 * calls only mem/ (mem.h) below it. */
#ifndef VMM_H
#define VMM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <time.h>

#include <linux/kvm.h>

#include <pthread.h>

#include "cowvm.h"
#include "cowvm_abi.h"
#include "fault.h"
#include "mem.h"

/* The single vCPU: its fd and its mmap'ed kvm_run page. */
/* CPUID feature words a snapshot file records: a guest may use what it saw
 * (vcpu.c fills them from the CPUID the vCPU gets). */
enum vmm_cpu_word {
	VMM_CPU_1_ECX, /* leaf 1 */
	VMM_CPU_1_EDX,
	VMM_CPU_7_EBX, /* leaf 7, subleaf 0 */
	VMM_CPU_7_ECX,
	VMM_CPU_7_EDX,
	VMM_CPU_D_EAX,	/* leaf 0xd, subleaf 0: XCR0 bits 0-31 */
	VMM_CPU_81_ECX, /* leaf 0x80000001 */
	VMM_CPU_81_EDX,
	VMM_CPU_WORDS
};

struct vmm_vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
	bool sync_regs; /* run->s.regs holds the registers after each exit */
	bool nx;	/* CPUID offers NX: EFER.NXE may be set */
	/* the CPUID feature words the guest sees (enum vmm_cpu_word) */
	uint32_t features[VMM_CPU_WORDS];
	/* KVM still holds the completion of an OUT exit at linear rip
	 * out_rip, to run at the next KVM_RUN (state/restore.c) */
	bool out_pending;
	uint64_t out_rip;
};

/* The 16550 UART at COWVM_SERIAL_BASE: latched registers, THR -> console. */
struct vmm_serial {
	uint8_t ier, lcr, mcr, scr, dll, dlm, msr;
};

/* Lifecycle of a VM as seen by cowvm_run. */
enum vmm_life {
	VMM_CREATED, /* no guest loaded */
	VMM_READY,   /* guest loaded, can run */
	VMM_STOPPED, /* terminal exit recorded in stop_exit */
};

struct cowvm {
	int kvm_fd;
	int vm_fd;
	struct vmm_mem *mem; /* guest RAM realization (mem/mem.h) */
	struct vmm_vcpu vcpu;
	struct cowvm_config cfg;
	enum vmm_life state;
	bool pristine; /* vCPU and devices untouched since creation (state/) */
	struct cowvm *pool_next; /* reaper.c, pool.c, snapshot.c: list link */
	struct cowvm_snapshot *origin; /* snapshot.c: what vm was cloned from
					* (a reference), NULL if not a clone */
	struct vmm_verify *verify;     /* vmm/: the check of the snapshot file
					* vm's RAM is mapped from, or NULL */
	char *cmdline; /* host copy served by COWVM_HC_CMDLINE; NULL if none */
	size_t cmdline_len;
	struct vmm_serial serial;
	bool snap_pending; /* resume writes snap_ret into the struct at snap_gpa
			    * or, snap_io, replays the stdin read there */
	bool snap_io;	   /* the request is a COWVM_LINUX_IO_SNAPSHOT read */
	uint8_t gen_id[16]; /* COWVM_HC_GENID: drawn when first asked */
	bool gen_drawn;	    /* gen_id holds this generation's id */
	uint64_t gen_counter;
	uint64_t snap_gpa;
	int64_t snap_ret;
	struct cowvm_exit stop_exit; /* repeated by cowvm_run once stopped */
	int stdio[3];	/* hc_linux.c: the host fds of a Linux program's 0, 1
			 * and 2 (-1: EOF, discarded); 0, 1, 2 in a new VM,
			 * clone and fork, kept by a reset */
	uint64_t r3_id; /* state_r3.c: the state vm provably still holds */
	bool ran;	/* cowvm_run was called on it since it was made */
	uint64_t prefaulted; /* snapshot.c: pages warmed before it was handed
			      * out as a clone made ahead (0: none) */
	unsigned gen;	     /* vmm_fork_gen when vm was made */
	char err[256];	     /* last failure, cowvm_error() */
};

/* Result of handling one KVM exit: keep running, or stop (exit filled). */
enum vmm_verdict {
	VMM_CONTINUE = 0,
	VMM_STOP = 1,
};

/* Delivered to the vCPU thread when a run's timeout expires. */
#define COWVM_TIMER_SIGNAL (SIGRTMIN + 2)

#define COWVM_SERIAL_BASE  0x3f8u
#define COWVM_SERIAL_PORTS 8u

/* base.c: record a failure description in vm->err; returns -err for tail
 * calls. */
int vmm_fail(struct cowvm *vm, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* base.c: fill exit as COWVM_EXIT_ERROR with a formatted detail; returns
 * VMM_STOP. */
int vmm_stop_error(struct cowvm_exit *exit, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Stop with "bad hypercall N argument: ..." (vmm_stop_error); for the
 * hypercall handlers of hypercall.c and hc_linux.c. */
#define VMM_HC_BAD(exit, nr, fmt, ...)                                         \
	vmm_stop_error(exit, "bad hypercall %u argument: " fmt,                \
		       (unsigned)(nr), __VA_ARGS__)

/* base.c: THE translation of guest-physical [gpa, gpa + len) to a host
 * pointer; NULL unless the whole range is guest RAM (len 0: gpa itself
 * must be). */
void *vmm_gpa(struct cowvm *vm, uint64_t gpa, uint64_t len);
/* base.c: copy guest RAM [gpa, gpa + len) to buf (not filling lazy pages,
 * for host reads of many pages); 0 or -EFAULT unless RAM. */
int vmm_read(struct cowvm *vm, uint64_t gpa, void *buf, uint64_t len);
/* base.c: vmm_gpa for host writes: the pages are recorded as written
 * (mem.h). */
void *vmm_gpa_write(struct cowvm *vm, uint64_t gpa, uint64_t len);

/* vm.c: the defaults cowvm_config_init gives. */
void vmm_config_default(struct cowvm_config *cfg);
/* vm.c: the process generation new VMs are stamped with (vm->gen); the
 * fork handler (vmm/fork.c) bumps it in a forked child. */
extern unsigned vmm_fork_gen;
/* vm.c: a new VM for cfg (NULL: defaults): KVM VM with irqchip and PIT,
 * RAM (memslots over empty RAM when empty_ram), vCPU 0 with CPUID;
 * 0 and *out, or -errno with the reason in vmm_vm_error(). */
int vmm_vm_new(const struct cowvm_config *cfg, bool empty_ram,
	       struct cowvm **out);
/* vm.c: pay the vCPU's first-KVM_RUN cost now (two immediate exits); the
 * VM stays pristine. */
void vmm_vm_warm(struct cowvm *vm);
/* vm.c: close the vCPU and VM fds, release RAM and free vm now; NULL is
 * ignored. */
void vmm_vm_free(struct cowvm *vm);
/* vm.c: why the last vmm_vm_new of this thread failed ("" if it did not). */
const char *vmm_vm_error(void);
/* vm.c: record msg as why a VM could not be made on this thread. */
void vmm_vm_set_error(const char *msg);

/* kvm.c: open /dev/kvm and check the API version and capabilities. */
int vmm_kvm_open(struct cowvm *vm);
/* kvm.c: create the VM with its irqchip, PIT and system regions. */
int vmm_kvm_create_vm(struct cowvm *vm);
/* kvm.c: whether KVM offers KVM_PRE_FAULT_MEMORY (not under shadow
 * paging, nor before Linux 6.10); then map guest-physical [gpa, gpa +
 * size) of vm's RAM into KVM's page tables ahead of the guest, in vm's
 * vCPU's current mode, as if it had read every page: 0 or -errno. */
bool vmm_kvm_can_prefault(struct cowvm *vm);
int vmm_kvm_prefault(struct cowvm *vm, uint64_t gpa, uint64_t size);

/* vcpu.c: create vCPU 0, map its kvm_run and set its CPUID. */
int vcpu_create(struct cowvm *vm);
/* vcpu.c: the CPUID feature words this process's vCPUs get into out;
 * false before the first vCPU. */
bool vmm_cpu_features(uint32_t out[VMM_CPU_WORDS]);
/* vcpu.c: the same, asking /dev/kvm when no vCPU was made yet (the words
 * a vCPU would get); 0 or -errno. */
int vmm_cpu_features_probe(uint32_t out[VMM_CPU_WORDS]);
/* vcpu.c: unmap and close the vCPU; safe on a partially created one. */
void vcpu_destroy(struct vmm_vcpu *vcpu);
/* vcpu.c: one KVM_RUN (which completes any pending exit); ioctl's result,
 * errno set on failure. */
int vcpu_kvm_run(struct vmm_vcpu *vcpu);
/* vcpu.c: the vCPU's current rip (0 if it cannot be read). */
uint64_t vcpu_rip(struct cowvm *vm);

/* elf.c: load the ELF's PT_LOAD segments into RAM; *entry = e_entry. */
int vmm_elf_load(struct cowvm *vm, const char *path, uint64_t *entry);

/* boot.c: write start info, memmap, cmdline, GDT and page tables. */
int vmm_boot_memory(struct cowvm *vm, const char *cmdline);
/* boot.c: set sregs, regs and FPU so the vCPU enters entry in long mode. */
int vmm_boot_vcpu(struct cowvm *vm, uint64_t entry);
/* boot.c: after vmm_boot_memory, map [0, 2 MiB) through a 4 KiB-page
 * table written at pt (a free page past the boot PDs, below 1 MiB) with
 * page 0 absent, so that a NULL access faults; 0 or -errno. */
int vmm_boot_null_guard(struct cowvm *vm, uint64_t pt);
/* boot.c: after vmm_boot_vcpu, set CR4.FSGSBASE; -EOPNOTSUPP when KVM
 * refuses it (the CPU lacks it). */
int vmm_boot_fsgsbase(struct cowvm *vm);

/* run.c: translate one KVM exit; VMM_CONTINUE, VMM_STOP or -errno. */
int vmm_handle_exit(struct cowvm *vm, struct cowvm_exit *exit);
/* run.c: run vm until a stop under its timeout (cowvm_run without the
 * fork check); 0 with *exit, or -errno. */
int vmm_vm_run(struct cowvm *vm, struct cowvm_exit *exit);

/* timer.c: make KVM_RUN on the calling thread return EINTR once the
 * monotonic clock reaches deadline; *handle is for vmm_timer_disarm. */
int vmm_timer_arm(struct cowvm *vm, const struct timespec *deadline,
		  void **handle);
/* timer.c: disarm and free what vmm_timer_arm set up; restore the mask. */
void vmm_timer_disarm(struct cowvm *vm, void *handle);

/* io.c: dispatch one KVM_EXIT_IO to the port handlers. */
int vmm_io(struct cowvm *vm, struct cowvm_exit *exit);

/* serial.c: access one 16550 register (port - COWVM_SERIAL_BASE = reg). */
int vmm_serial_io(struct cowvm *vm, unsigned reg, bool out, uint8_t *val);

/* hypercall.c: perform hypercall nr with its argument struct at gpa. */
int vmm_hypercall(struct cowvm *vm, unsigned nr, uint64_t gpa,
		  struct cowvm_exit *exit);
/* hypercall.c: write the pending snapshot's ret before the guest resumes. */
int vmm_hypercall_resume(struct cowvm *vm, struct cowvm_exit *exit);

/* hc_linux.c: the hypercalls of cowvm_linux_abi.h, for hypercall.c's
 * table: I/O on vm->stdio, random bytes, a sleep, death by a signal. */
int vmm_hc_linux_io(struct cowvm *vm, void *arg, struct cowvm_exit *exit);
int vmm_hc_linux_random(struct cowvm *vm, void *arg, struct cowvm_exit *exit);
int vmm_hc_linux_sleep(struct cowvm *vm, void *arg, struct cowvm_exit *exit);
int vmm_hc_linux_signal(struct cowvm *vm, void *arg, struct cowvm_exit *exit);
int vmm_hc_linux_exit(struct cowvm *vm, void *arg, struct cowvm_exit *exit);

/* console.c: write all of buf to the console fd (dropped when -1). */
void vmm_console_write(struct cowvm *vm, const void *buf, size_t len);

/* timer.c: in a forked child, forget the parent's run timer. */
void vmm_timer_fork_child(void);

/* reaper.c: free vm's page table now and its fds and RAM mappings on the
 * reaper thread (or now, on this thread, if the reaper cannot take it);
 * NULL is ignored. */
void vmm_vm_discard(struct cowvm *vm);
/* reaper.c: VMs queued for the reaper or being destroyed by it. */
unsigned vmm_reaper_pending(void);
/* reaper.c: VMs the reaper destroyed so far. */
unsigned long vmm_reaper_count(void);
/* reaper.c: wait until the reaper is idle or the monotonic deadline dl
 * passes; 0 or -ETIMEDOUT. */
int vmm_reaper_wait(const struct timespec *dl);
/* reaper.c: in a forked child, start with an empty queue and no thread. */
void vmm_reaper_fork_child(void);
/* reaper.c: start fn on a new thread with every signal blocked; 0 or
 * -errno. */
int vmm_thread_spawn(pthread_t *t, void *(*fn)(void *));

#endif
