/* Per-run wall-clock limit: a POSIX timer signals the vCPU thread, whose
 * handler sets kvm_run->immediate_exit so KVM_RUN returns EINTR. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

/* The kvm_run of the vCPU this thread is running, seen by the handler. */
static _Thread_local struct kvm_run *volatile vmm_timer_run;
static pthread_once_t vmm_timer_once = PTHREAD_ONCE_INIT;
static int vmm_timer_installed;

/* A per-run timer and the signal mask to restore. */
struct vmm_timer {
	timer_t id;
	sigset_t old_mask;
};

/* Signal handler: kick the vCPU of this thread out of (or before) KVM_RUN. */
static void vmm_timer_handler(int sig)
{
	struct kvm_run *run = vmm_timer_run;

	(void)sig;
	if (run)
		run->immediate_exit = 1;
}

/* Install the handler for COWVM_TIMER_SIGNAL once per process. */
static void vmm_timer_install(void)
{
	struct sigaction sa = {.sa_handler = vmm_timer_handler};

	sigemptyset(&sa.sa_mask);
	vmm_timer_installed = sigaction(COWVM_TIMER_SIGNAL, &sa, NULL) == 0;
}

/* Start t->id firing once at the absolute monotonic time deadline. */
static int vmm_timer_start(struct vmm_timer *t, const struct timespec *dl)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = COWVM_TIMER_SIGNAL,
	};
	struct itimerspec its = {.it_value = *dl};

	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &t->id) < 0)
		return -errno;
	if (timer_settime(t->id, TIMER_ABSTIME, &its, NULL) < 0) {
		int err = -errno;

		timer_delete(t->id);
		return err;
	}
	return 0;
}

/* Arm a one-shot timer that kicks this thread's vCPU at deadline. */
int vmm_timer_arm(struct cowvm *vm, const struct timespec *deadline,
		  void **handle)
{
	struct vmm_timer *t;
	sigset_t set;
	int err;

	pthread_once(&vmm_timer_once, vmm_timer_install);
	if (!vmm_timer_installed)
		return vmm_fail(vm, EAGAIN, "cannot install the timer signal");
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	vmm_timer_run = vm->vcpu.run;
	sigemptyset(&set);
	sigaddset(&set, COWVM_TIMER_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, &t->old_mask);
	err = vmm_timer_start(t, deadline);
	if (err) {
		vmm_timer_run = NULL;
		pthread_sigmask(SIG_SETMASK, &t->old_mask, NULL);
		free(t);
		return vmm_fail(vm, -err, "cannot create the run timer");
	}
	*handle = t;
	return 0;
}

/* Delete the timer, forget the vCPU, restore the caller's signal mask. */
void vmm_timer_disarm(struct cowvm *vm, void *handle)
{
	struct vmm_timer *t = handle;

	if (!t)
		return;
	timer_delete(t->id);
	vmm_timer_run = NULL;
	vm->vcpu.run->immediate_exit = 0;
	pthread_sigmask(SIG_SETMASK, &t->old_mask, NULL);
	free(t);
}
