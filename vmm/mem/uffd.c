/* UFFD mode: RAM write-protected through userfaultfd; a handler thread
 * records each first write to a page and lets it proceed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "mem_internal.h"

/* Newer than the 6.1 headers: write-protect never-touched pages too. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif

#define UFFD_MSGS 16 /* events read per read(2) */

/* Write-protect (wp) or open RAM pages [off, off + n); 0 or -errno.
 * Opening also wakes a thread waiting on the range. */
static int uffd_wp(struct vmm_mem *mem, uint64_t off, uint64_t n, bool wp)
{
	struct uffdio_writeprotect a = {
		.range = {(uint64_t)(uintptr_t)(mem->base + off * VMM_PAGE),
			  n * VMM_PAGE},
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return vmm_ioctl(mem->uffd.fd, UFFDIO_WRITEPROTECT, &a) < 0 ? -errno
								    : 0;
}

/* Register (when reg) and write-protect RAM pages [off, off + n). */
int vmm_uffd_protect(struct vmm_mem *mem, uint64_t off, uint64_t n, bool reg)
{
	struct uffdio_register r = {
		.range = {(uint64_t)(uintptr_t)(mem->base + off * VMM_PAGE),
			  n * VMM_PAGE},
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (reg && vmm_ioctl(mem->uffd.fd, UFFDIO_REGISTER, &r) < 0)
		return -errno;
	return uffd_wp(mem, off, n, true);
}

/* Record the pages (a failure to is kept in the record: the next fold
 * scans the mapping), then open them for writing. */
int vmm_uffd_unprotect(struct vmm_mem *mem, uint64_t off, uint64_t n)
{
	(void)vmm_mem_record(mem, off, n);
	return uffd_wp(mem, off, n, false);
}

/* Handle one event: a write-protect fault records and opens its page. */
static void uffd_event(struct vmm_mem *mem, const struct uffd_msg *m)
{
	uint64_t addr = m->arg.pagefault.address & ~(VMM_PAGE - 1);
	uint64_t off = (addr - (uint64_t)(uintptr_t)mem->base) / VMM_PAGE;
	int err;

	if (m->event != UFFD_EVENT_PAGEFAULT)
		return;
	mem->uffd.faults++;
	if (off < mem->pages &&
	    (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
		pthread_mutex_lock(&mem->rec.quiesce);
		err = vmm_uffd_unprotect(mem, off, 1);
		pthread_mutex_unlock(&mem->rec.quiesce);
	} else
		err = -EFAULT;
	if (err) {
		struct uffdio_range r = {addr, VMM_PAGE};

		pthread_mutex_lock(&mem->rec.lock);
		mem->rec.err = mem->rec.err ? mem->rec.err : err;
		pthread_mutex_unlock(&mem->rec.lock);
		vmm_ioctl(mem->uffd.fd, UFFDIO_WAKE, &r);
	}
}

/* The handler thread: wait for faults or the stop pipe. */
static void *uffd_thread(void *arg)
{
	struct vmm_mem *mem = arg;
	struct uffd_msg msg[UFFD_MSGS];

	for (;;) {
		struct pollfd p[2] = {{mem->uffd.fd, POLLIN, 0},
				      {mem->uffd.stop[0], POLLIN, 0}};
		ssize_t n;

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			return NULL;
		n = read(mem->uffd.fd, msg, sizeof(msg));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msg[0]); i++)
			uffd_event(mem, &msg[i]);
	}
}

/* Open userfaultfd with write-protection of shmem and unpopulated pages
 * and start the handler. */
int vmm_uffd_start(struct vmm_mem *mem)
{
	struct vmm_mem_uffd *u = &mem->uffd;
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM |
			    UFFD_FEATURE_WP_UNPOPULATED,
	};
	int err;

	u->fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->fd < 0)
		return -errno;
	if (vmm_ioctl(u->fd, UFFDIO_API, &api) < 0)
		return -errno;
	if (pipe2(u->stop, O_CLOEXEC) < 0)
		return -errno;
	err = pthread_create(&u->thread, NULL, uffd_thread, mem);
	if (err)
		return -err;
	u->running = true;
	return 0;
}

/* Stop and join the handler, close everything (safe when never started). */
void vmm_uffd_stop(struct vmm_mem *mem)
{
	struct vmm_mem_uffd *u = &mem->uffd;

	if (u->running) {
		ssize_t r = write(u->stop[1], "", 1);

		(void)r;
		pthread_join(u->thread, NULL);
		u->running = false;
	}
	for (int i = 0; i < 2; i++)
		if (u->stop[i] >= 0)
			close(u->stop[i]);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = u->stop[0] = u->stop[1] = -1;
}
