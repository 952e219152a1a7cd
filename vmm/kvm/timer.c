/* Per-run wall-clock limit: a POSIX timer per thread signals that thread,
 * whose handler sets kvm_run->immediate_exit so KVM_RUN returns EINTR. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

/* This thread's timer, created at its first run and deleted at its exit;
 * the kvm_run of the vCPU it is running, seen by the handler. */
struct vmm_timer {
	timer_t id;
	struct kvm_run *volatile run;
	sigset_t old_mask;
	bool made;
};

static _Thread_local struct vmm_timer vmm_timer_tls;
static pthread_once_t vmm_timer_once = PTHREAD_ONCE_INIT;
static pthread_key_t vmm_timer_key;
static int vmm_timer_ready;

/* Signal handler: kick the vCPU of this thread out of (or before) KVM_RUN. */
static void vmm_timer_handler(int sig)
{
	struct kvm_run *run = vmm_timer_tls.run;

	(void)sig;
	if (run)
		run->immediate_exit = 1;
}

/* Thread exit: delete the thread's timer. */
static void vmm_timer_thread_exit(void *arg)
{
	struct vmm_timer *t = arg;

	timer_delete(t->id);
	t->made = false;
}

/* Install the handler for COWVM_TIMER_SIGNAL and the thread-exit hook once
 * per process. */
static void vmm_timer_install(void)
{
	struct sigaction sa = {.sa_handler = vmm_timer_handler};

	sigemptyset(&sa.sa_mask);
	vmm_timer_ready =
		sigaction(COWVM_TIMER_SIGNAL, &sa, NULL) == 0 &&
		pthread_key_create(&vmm_timer_key, vmm_timer_thread_exit) == 0;
}

/* Create this thread's timer, aimed at this thread; 0 or -errno. */
static int vmm_timer_make(struct vmm_timer *t)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = COWVM_TIMER_SIGNAL,
	};

	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &t->id) < 0)
		return -errno;
	if (pthread_setspecific(vmm_timer_key, t)) {
		timer_delete(t->id);
		return -ENOMEM;
	}
	t->made = true;
	return 0;
}

/* In a forked child: the thread's timer was not inherited. */
void vmm_timer_fork_child(void)
{
	if (vmm_timer_tls.made && vmm_timer_ready)
		pthread_setspecific(vmm_timer_key, NULL);
	vmm_timer_tls.made = false;
	vmm_timer_tls.run = NULL;
}

/* Arm this thread's timer to kick vm's vCPU at deadline; *handle is for
 * vmm_timer_disarm. 0 or -errno with vm->err. */
int vmm_timer_arm(struct cowvm *vm, const struct timespec *deadline,
		  void **handle)
{
	struct vmm_timer *t = &vmm_timer_tls;
	struct itimerspec its = {.it_value = *deadline};
	sigset_t set;
	int err = 0;

	pthread_once(&vmm_timer_once, vmm_timer_install);
	if (!vmm_timer_ready)
		return vmm_fail(vm, EAGAIN, "cannot install the timer signal");
	if (!t->made)
		err = vmm_timer_make(t);
	if (err)
		return vmm_fail(vm, -err, "cannot create the run timer");
	t->run = vm->vcpu.run;
	sigemptyset(&set);
	sigaddset(&set, COWVM_TIMER_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, &t->old_mask);
	if (timer_settime(t->id, TIMER_ABSTIME, &its, NULL) < 0) {
		err = errno;
		t->run = NULL;
		pthread_sigmask(SIG_SETMASK, &t->old_mask, NULL);
		return vmm_fail(vm, err, "cannot arm the run timer: %m");
	}
	*handle = t;
	return 0;
}

/* Stop the timer, forget the vCPU, restore the caller's signal mask. */
void vmm_timer_disarm(struct cowvm *vm, void *handle)
{
	struct vmm_timer *t = handle;
	struct itimerspec off = {0};

	if (!t)
		return;
	timer_settime(t->id, 0, &off, NULL);
	t->run = NULL;
	vm->vcpu.run->immediate_exit = 0;
	pthread_sigmask(SIG_SETMASK, &t->old_mask, NULL);
}
