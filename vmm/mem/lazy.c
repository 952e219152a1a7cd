/* Lazy extents: anonymous RAM whose pages a process-wide userfaultfd
 * handler fills, on first touch, with a copy of the frame the VM's table
 * holds for them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "mem_internal.h"

#define LAZY_MSGS 16 /* events read per read(2) */

/* The handler's state: the userfaultfd, and the VMs it serves. A VM is
 * pinned (lazy_busy) while one of its faults is served, so that
 * vmm_lazy_del never returns under a running fill; the registry lock is
 * never held while waiting for a VM's quiesce lock, so that a fold that
 * holds it may add its VM. */
static pthread_mutex_t lazy_start_lock = PTHREAD_MUTEX_INITIALIZER;
static int lazy_fd = -1;
static pthread_rwlock_t lazy_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct vmm_mem **lazy_mems;
static size_t lazy_n, lazy_cap;

/* The VM whose region holds addr, pinned; NULL if none. */
static struct vmm_mem *lazy_find(uint64_t addr)
{
	struct vmm_mem *mem = NULL;

	pthread_rwlock_rdlock(&lazy_lock);
	for (size_t i = 0; i < lazy_n && !mem; i++) {
		uint64_t base = (uint64_t)(uintptr_t)lazy_mems[i]->base;

		if (addr - base < lazy_mems[i]->size)
			mem = lazy_mems[i];
	}
	if (mem)
		atomic_fetch_add(&mem->lazy_busy, 1);
	pthread_rwlock_unlock(&lazy_lock);
	return mem;
}

/* Page off of mem is filled from now on. */
static void lazy_mark(struct vmm_mem *mem, uint64_t off)
{
	atomic_fetch_or((_Atomic uint64_t *)&mem->filled[off / 64],
			1ull << (off % 64));
}

/* Whether page off of mem has been filled. */
static bool lazy_filled(struct vmm_mem *mem, uint64_t off)
{
	return atomic_load((_Atomic uint64_t *)&mem->filled[off / 64]) &
	       (1ull << (off % 64));
}

/* Fill the page at addr with its frame's bytes (zeros when no VM or table
 * claims it: it is being unmapped). A page filled meanwhile (EEXIST) is
 * only woken. */
static void lazy_fill(uint64_t addr)
{
	struct vmm_mem *mem = lazy_find(addr);
	struct uffdio_range r = {addr, VMM_PAGE};
	void *src = NULL;
	int rc;

	if (mem) {
		pthread_mutex_lock(&mem->rec.quiesce);
		pthread_mutex_lock(&vmm_store_lock);
		if (mem->tree && mem->ext) {
			int64_t f = vmm_mem_page_frame(
				mem, (addr - (uint64_t)(uintptr_t)mem->base) /
					     VMM_PAGE);

			src = f >= 0 ? cow_frame_ptr(vmm_store(), (uint32_t)f)
				     : NULL;
		}
	}
	if (src) {
		struct uffdio_copy c = {addr, (uint64_t)(uintptr_t)src,
					VMM_PAGE, 0, 0};

		rc = ioctl(lazy_fd, UFFDIO_COPY, &c);
	} else {
		struct uffdio_zeropage z = {r, 0, 0};

		rc = ioctl(lazy_fd, UFFDIO_ZEROPAGE, &z);
	}
	if (mem && (rc == 0 || errno == EEXIST))
		lazy_mark(mem,
			  (addr - (uint64_t)(uintptr_t)mem->base) / VMM_PAGE);
	if (rc < 0) /* EEXIST: filled already; else let it retry */
		ioctl(lazy_fd, UFFDIO_WAKE, &r);
	if (mem) {
		pthread_mutex_unlock(&vmm_store_lock);
		pthread_mutex_unlock(&mem->rec.quiesce);
		atomic_fetch_sub(&mem->lazy_busy, 1);
	}
}

/* The handler thread: serve missing-page faults for ever. */
static void *lazy_thread(void *arg)
{
	struct uffd_msg msg[LAZY_MSGS];

	(void)arg;
	for (;;) {
		struct pollfd p = {lazy_fd, POLLIN, 0};
		ssize_t n;

		if (poll(&p, 1, -1) < 0)
			continue;
		n = read(lazy_fd, msg, sizeof(msg));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msg[0]); i++)
			if (msg[i].event == UFFD_EVENT_PAGEFAULT)
				lazy_fill(msg[i].arg.pagefault.address &
					  ~(VMM_PAGE - 1));
	}
	return NULL;
}

/* Open the userfaultfd and start the handler, once per process. */
static int lazy_start(void)
{
	struct uffdio_api api = {.api = UFFD_API};
	pthread_attr_t attr;
	pthread_t t;
	int fd, err = 0;

	pthread_mutex_lock(&lazy_start_lock);
	if (lazy_fd >= 0)
		goto out;
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || vmm_ioctl(fd, UFFDIO_API, &api) < 0) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	lazy_fd = fd;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = -pthread_create(&t, &attr, lazy_thread, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		close(fd);
		lazy_fd = -1;
	}
out:
	pthread_mutex_unlock(&lazy_start_lock);
	return err;
}

/* Start the handler if need be, then put mem in the registry. */
int vmm_lazy_add(struct vmm_mem *mem)
{
	int err = mem->lazy ? 0 : lazy_start();

	if (err || mem->lazy)
		return err;
	mem->filled =
		calloc(vmm_bitmap_words(mem->pages), sizeof(*mem->filled));
	if (!mem->filled)
		return -ENOMEM;
	pthread_rwlock_wrlock(&lazy_lock);
	if (lazy_n == lazy_cap) {
		size_t cap = lazy_cap ? 2 * lazy_cap : 16;
		struct vmm_mem **m =
			vmm_realloc(lazy_mems, cap * sizeof(*lazy_mems));

		if (!m)
			err = -ENOMEM;
		else {
			lazy_mems = m;
			lazy_cap = cap;
		}
	}
	if (!err) {
		lazy_mems[lazy_n++] = mem;
		mem->lazy = true;
	}
	pthread_rwlock_unlock(&lazy_lock);
	if (err) {
		free(mem->filled);
		mem->filled = NULL;
	}
	return err;
}

/* Out of the registry, then wait for the fills in flight. */
void vmm_lazy_del(struct vmm_mem *mem)
{
	if (!mem->lazy)
		return;
	pthread_rwlock_wrlock(&lazy_lock);
	for (size_t i = 0; i < lazy_n; i++)
		if (lazy_mems[i] == mem)
			lazy_mems[i] = lazy_mems[--lazy_n];
	pthread_rwlock_unlock(&lazy_lock);
	mem->lazy = false;
	while (atomic_load(&mem->lazy_busy))
		sched_yield();
	free(mem->filled);
	mem->filled = NULL;
}

/* Clear the filled bits of pages [off, off + n). */
void vmm_lazy_forget(struct vmm_mem *mem, uint64_t off, uint64_t n)
{
	for (uint64_t p = off, end = off + n, k; mem->filled && p < end;
	     p += k) {
		uint64_t bit = p % 64;

		k = end - p < 64 - bit ? end - p : 64 - bit;
		atomic_fetch_and((_Atomic uint64_t *)&mem->filled[p / 64],
				 ~((k == 64 ? ~0ull : (1ull << k) - 1) << bit));
	}
}

/* Read an unfilled lazy page from the frame its table holds. */
bool vmm_lazy_read(struct vmm_mem *mem, uint64_t off, uint64_t pos, void *buf,
		   uint64_t len)
{
	bool done = false;
	int64_t f;

	if (!mem->lazy || vmm_extents_frame(mem->ext, off) != VMM_FRAME_LAZY ||
	    lazy_filled(mem, off))
		return false;
	pthread_mutex_lock(&vmm_store_lock);
	f = vmm_mem_page_frame(mem, off);
	if (f >= 0) {
		memcpy(buf, cow_frame_ptr(vmm_store(), (uint32_t)f) + pos, len);
		done = true;
	}
	pthread_mutex_unlock(&vmm_store_lock);
	return done;
}

/* UFFDIO_REGISTER in missing mode on the process-wide userfaultfd. */
int vmm_lazy_register(struct vmm_mem *mem, uint64_t off, uint64_t n)
{
	struct uffdio_register r = {
		.range = {(uint64_t)(uintptr_t)(mem->base + off * VMM_PAGE),
			  n * VMM_PAGE},
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int err = vmm_lazy_add(mem);

	if (!err)
		vmm_lazy_forget(mem, off, n);
	if (!err && vmm_ioctl(lazy_fd, UFFDIO_REGISTER, &r) < 0)
		err = -errno;
	return err;
}

/* The child has no handler thread: forget the parent's (its fd stays
 * open, unused: the inherited VMs are inert) and the registry's copy. */
void vmm_lazy_fork_child(void)
{
	lazy_start_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	lazy_lock = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
	lazy_fd = -1;
	free(lazy_mems);
	lazy_mems = NULL;
	lazy_n = lazy_cap = 0;
}
