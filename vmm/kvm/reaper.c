/* The reaper: a thread that destroys discarded VMs off the caller's path
 * (closing a KVM VM with a PIT takes ~15 ms here); it starts on first use
 * and drains its queue at process exit. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "vmm.h"

#define REAP_MAX 64u /* beyond this, a discard destroys inline */

static pthread_mutex_t reap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reap_cv = PTHREAD_COND_INITIALIZER;  /* work queued */
static pthread_cond_t reap_done = PTHREAD_COND_INITIALIZER; /* one freed */
static struct cowvm *reap_head, *reap_tail; /* linked through pool_next */
static unsigned reap_n;
static bool reap_busy, reap_on, reap_atexit_on, reap_stopping;
static pthread_t reap_thread;
static unsigned long reap_count;
/* In a forked child: what the parent's queue held (never used or freed). */
static struct cowvm *reap_inherited;

/* Start fn on a thread with every signal blocked; 0 or -errno. */
int vmm_thread_spawn(pthread_t *t, void *(*fn)(void *))
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(t, NULL, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

/* Reaper thread: destroy queued VMs; at shutdown, drain then stop. */
static void *reap_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reap_lock);
	for (;;) {
		struct cowvm *vm;

		while (!reap_head && !reap_stopping)
			pthread_cond_wait(&reap_cv, &reap_lock);
		vm = reap_head;
		if (!vm)
			break;
		reap_head = vm->pool_next;
		if (!reap_head)
			reap_tail = NULL;
		reap_n--;
		reap_busy = true;
		pthread_mutex_unlock(&reap_lock);
		vmm_vm_free(vm);
		pthread_mutex_lock(&reap_lock);
		reap_busy = false;
		reap_count++;
		pthread_cond_broadcast(&reap_done);
	}
	pthread_mutex_unlock(&reap_lock);
	return NULL;
}

/* atexit: let the reaper drain its queue, then join it. */
static void reap_shutdown(void)
{
	bool on;

	pthread_mutex_lock(&reap_lock);
	reap_stopping = true;
	on = reap_on;
	pthread_cond_broadcast(&reap_cv);
	pthread_mutex_unlock(&reap_lock);
	if (on)
		pthread_join(reap_thread, NULL);
	reap_on = false;
}

/* Queue vm, starting the thread if needed; false when the caller must
 * free vm inline (shutdown, queue full, no thread). */
static bool reap_push(struct cowvm *vm)
{
	bool ok = false;

	pthread_mutex_lock(&reap_lock);
	if (reap_stopping || reap_n >= REAP_MAX)
		goto out;
	if (!reap_atexit_on) {
		if (atexit(reap_shutdown))
			goto out;
		reap_atexit_on = true;
	}
	if (!reap_on) {
		if (vmm_thread_spawn(&reap_thread, reap_main))
			goto out;
		reap_on = true;
	}
	vm->pool_next = NULL;
	if (reap_tail)
		reap_tail->pool_next = vm;
	else
		reap_head = vm;
	reap_tail = vm;
	reap_n++;
	pthread_cond_signal(&reap_cv);
	ok = true;
out:
	pthread_mutex_unlock(&reap_lock);
	return ok;
}

/* Free vm's guest page table (and the frames only it holds) now and leave
 * its fds (whose last close tears the KVM VM down) and then its RAM
 * mappings to the reaper, or free it all inline if the reaper cannot take
 * it. Unmapping after the close skips KVM's O(memory) invalidation of live
 * memslots. The frames may go before the VM fd: the vCPU never enters
 * KVM_RUN again, and KVM reaches guest RAM only for a vCPU. */
void vmm_vm_discard(struct cowvm *vm)
{
	if (!vm)
		return;
	if (vm->mem)
		vmm_mem_release(vm->mem);
	if (!reap_push(vm))
		vmm_vm_free(vm);
}

/* VMs queued for the reaper or being destroyed by it now. */
unsigned vmm_reaper_pending(void)
{
	unsigned n;

	pthread_mutex_lock(&reap_lock);
	n = reap_n + (reap_busy ? 1 : 0);
	pthread_mutex_unlock(&reap_lock);
	return n;
}

/* VMs the reaper destroyed so far. */
unsigned long vmm_reaper_count(void)
{
	unsigned long n;

	pthread_mutex_lock(&reap_lock);
	n = reap_count;
	pthread_mutex_unlock(&reap_lock);
	return n;
}

/* Wait until the queue is empty and no VM is being destroyed, or until
 * the monotonic deadline dl; 0 or -ETIMEDOUT. */
int vmm_reaper_wait(const struct timespec *dl)
{
	int r = 0;

	pthread_mutex_lock(&reap_lock);
	while ((reap_head || reap_busy) && r != ETIMEDOUT)
		r = pthread_cond_clockwait(&reap_done, &reap_lock,
					   CLOCK_MONOTONIC, dl);
	r = reap_head || reap_busy ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&reap_lock);
	return r;
}

/* In a forked child: no reaper runs and the queued VMs are the parent's
 * (inert here): start empty, keeping them out of use but within reach. */
void vmm_reaper_fork_child(void)
{
	if (reap_head)
		reap_inherited = reap_head;
	reap_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	reap_cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	reap_done = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	reap_head = reap_tail = NULL;
	reap_n = 0;
	reap_busy = reap_on = reap_stopping = false;
}
