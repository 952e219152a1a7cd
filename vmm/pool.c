/* The VM pool: per (mem_size, mem_mode) class a list of ready VMs that a
 * filler thread keeps at its reserve; it starts lazily and stops at process
 * exit. VMs it lets go go to the reaper (kvm/reaper.c). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "api.h"

#define POOL_BACKOFF_MIN 50u /* ms before retrying a failed creation */
#define POOL_BACKOFF_MAX 5000u

/* One (mem_size, mem_mode) class of pooled VMs. */
struct pool_class {
	struct pool_class *next;
	uint64_t mem_size;
	enum cowvm_mem_mode mode;
	unsigned target;	  /* reserve asked for */
	unsigned nready;	  /* VMs on ready */
	unsigned creating;	  /* VMs the filler is creating now */
	struct cowvm *ready;	  /* linked through pool_next */
	unsigned backoff_ms;	  /* after a failed creation */
	struct timespec retry_at; /* CLOCK_MONOTONIC */
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_fill_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done_cv = PTHREAD_COND_INITIALIZER;
static struct pool_class *pool_classes;
static pthread_t pool_filler;
static bool pool_filler_on, pool_atexit_on, pool_stopping;
static unsigned long pool_taken, pool_missed, pool_created;
static int pool_last_err;
/* In a forked child: what the parent's pool held (never used or freed). */
static struct pool_class *pool_inherited_classes;

static void pool_shutdown(void);

/* Now plus ms on the monotonic clock. */
static struct timespec pool_after(unsigned ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Whether monotonic time a is before b. */
static bool pool_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Start fn on a thread with every signal blocked, the pool's shutdown
 * registered first; 0 or -errno. Lock held. */
static int pool_spawn(pthread_t *t, void *(*fn)(void *))
{
	if (!pool_atexit_on) {
		if (atexit(pool_shutdown))
			return -ENOMEM;
		pool_atexit_on = true;
	}
	return vmm_thread_spawn(t, fn);
}

/* The realization COWVM_MEM_DEFAULT stands for, once a VM showed it. */
static enum cowvm_mem_mode pool_default_mode = COWVM_MEM_DEFAULT;

/* mode with DEFAULT replaced by what it resolves to, when known. Lock
 * held. */
static enum cowvm_mem_mode pool_norm(enum cowvm_mem_mode mode)
{
	return mode == COWVM_MEM_DEFAULT ? pool_default_mode : mode;
}

/* Learn what DEFAULT resolves to from a VM created with mode. Lock held. */
static void pool_learn(enum cowvm_mem_mode mode, struct cowvm *vm)
{
	if (mode == COWVM_MEM_DEFAULT && vm->mem)
		pool_default_mode = vmm_mem_mode(vm->mem);
}

/* The class for (size, mode), DEFAULT matching what it resolves to, or
 * NULL. Lock held. */
static struct pool_class *pool_find(uint64_t size, enum cowvm_mem_mode mode)
{
	for (struct pool_class *c = pool_classes; c; c = c->next)
		if (c->mem_size == size &&
		    (c->mode == mode || pool_norm(c->mode) == pool_norm(mode)))
			return c;
	return NULL;
}

/* A class below its reserve and not backing off, or NULL with *wake set
 * to the earliest retry time (tv_sec 0 if none). Lock held. */
static struct pool_class *pool_wanting(struct timespec *wake)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	wake->tv_sec = 0;
	for (struct pool_class *c = pool_classes; c; c = c->next) {
		if (c->nready + c->creating >= c->target)
			continue;
		if (c->backoff_ms && pool_before(&now, &c->retry_at)) {
			if (!wake->tv_sec || pool_before(&c->retry_at, wake))
				*wake = c->retry_at;
			continue;
		}
		return c;
	}
	return NULL;
}

/* Create one VM for c outside the lock and shelve or discard it. */
static void pool_fill_one(struct pool_class *c)
{
	struct cowvm_config cfg;
	struct cowvm *vm;
	int err;

	vmm_config_default(&cfg);
	cfg.mem_size = c->mem_size;
	cfg.mem_mode = c->mode;
	cfg.console_fd = -1;
	c->creating++;
	pthread_mutex_unlock(&pool_lock);
	err = vmm_vm_new(&cfg, true, &vm);
	if (!err)
		vmm_vm_warm(vm);
	pthread_mutex_lock(&pool_lock);
	c->creating--;
	if (err) {
		pool_last_err = err;
		c->backoff_ms =
			c->backoff_ms ? c->backoff_ms * 2 : POOL_BACKOFF_MIN;
		if (c->backoff_ms > POOL_BACKOFF_MAX)
			c->backoff_ms = POOL_BACKOFF_MAX;
		c->retry_at = pool_after(c->backoff_ms);
	} else {
		c->backoff_ms = 0;
		pool_created++;
		pool_learn(c->mode, vm);
		if (!pool_stopping && c->nready < c->target) {
			vm->pool_next = c->ready;
			c->ready = vm;
			c->nready++;
		} else {
			pthread_mutex_unlock(&pool_lock);
			vmm_vm_discard(vm);
			pthread_mutex_lock(&pool_lock);
		}
	}
	pthread_cond_broadcast(&pool_done_cv);
}

/* Filler thread: keep every class at its reserve until shutdown. */
static void *pool_fill_main(void *arg)
{
	(void)arg;
	vmm_state_init(); /* the once-per-process probe, off the fork path */
	pthread_mutex_lock(&pool_lock);
	while (!pool_stopping) {
		struct timespec wake;
		struct pool_class *c = pool_wanting(&wake);

		if (c)
			pool_fill_one(c);
		else if (wake.tv_sec)
			pthread_cond_clockwait(&pool_fill_cv, &pool_lock,
					       CLOCK_MONOTONIC, &wake);
		else
			pthread_cond_wait(&pool_fill_cv, &pool_lock);
	}
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

/* Discard every VM of list (linked through pool_next). */
static void pool_discard_list(struct cowvm *list)
{
	while (list) {
		struct cowvm *next = list->pool_next;

		vmm_vm_discard(list);
		list = next;
	}
}

/* Keep n ready VMs of cfg's class; 0 or -errno. */
int vmm_pool_reserve(const struct cowvm_config *cfg, unsigned n)
{
	struct cowvm *extra = NULL;
	struct pool_class *c;
	int err = 0;

	if (!cfg || cfg->mem_size < COWVM_MEM_MIN ||
	    cfg->mem_size > COWVM_MEM_MAX || cfg->mem_size % 4096 ||
	    (unsigned)cfg->mem_mode > COWVM_MEM_UFFD)
		return -EINVAL;
	pthread_mutex_lock(&pool_lock);
	c = pool_find(cfg->mem_size, cfg->mem_mode);
	if (pool_stopping) {
		err = -ESHUTDOWN;
	} else if (!c && n) {
		c = vmm_calloc(1, sizeof(*c));
		if (c) {
			c->mem_size = cfg->mem_size;
			c->mode = cfg->mem_mode;
			c->next = pool_classes;
			pool_classes = c;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err && c) {
		c->target = n;
		c->backoff_ms = 0;
		while (c->nready > n) {
			struct cowvm *vm = c->ready;

			c->ready = vm->pool_next;
			c->nready--;
			vm->pool_next = extra;
			extra = vm;
		}
		if (n && !pool_filler_on) {
			err = pool_spawn(&pool_filler, pool_fill_main);
			pool_filler_on = !err;
		}
		pthread_cond_signal(&pool_fill_cv);
	}
	pthread_mutex_unlock(&pool_lock);
	pool_discard_list(extra);
	return err;
}

/* A ready VM of cfg's class, else one created now; NULL and errno. */
struct cowvm *vmm_pool_take(const struct cowvm_config *cfg)
{
	struct cowvm_config c;
	struct cowvm *vm = NULL;
	struct pool_class *cls;
	int err;

	if (cfg)
		c = *cfg;
	else
		vmm_config_default(&c);
	pthread_mutex_lock(&pool_lock);
	cls = c.vcpus == 1 ? pool_find(c.mem_size, c.mem_mode) : NULL;
	if (cls && cls->ready) {
		vm = cls->ready;
		cls->ready = vm->pool_next;
		cls->nready--;
		pool_taken++;
		pthread_cond_signal(&pool_fill_cv);
		pthread_cond_broadcast(&pool_done_cv);
	} else {
		pool_missed++;
	}
	pthread_mutex_unlock(&pool_lock);
	if (vm) {
		vm->pool_next = NULL;
		vm->cfg = c;
		for (int i = 0; i < 3; i++)
			vm->stdio[i] = i;
		return vm;
	}
	err = vmm_vm_new(&c, true, &vm);
	if (err) {
		errno = -err;
		return NULL;
	}
	pthread_mutex_lock(&pool_lock);
	pool_learn(c.mem_mode, vm);
	pthread_mutex_unlock(&pool_lock);
	return vm;
}

/* The counters, ready/target for cfg's class. */
struct vmm_pool_stats vmm_pool_stats(const struct cowvm_config *cfg)
{
	struct vmm_pool_stats s = {0};
	struct pool_class *c;

	pthread_mutex_lock(&pool_lock);
	c = cfg ? pool_find(cfg->mem_size, cfg->mem_mode) : NULL;
	if (c) {
		s.ready = c->nready;
		s.target = c->target;
	}
	s.taken = pool_taken;
	s.missed = pool_missed;
	s.created = pool_created;
	s.last_error = pool_last_err;
	pthread_mutex_unlock(&pool_lock);
	s.reaping = vmm_reaper_pending();
	s.reaped = vmm_reaper_count();
	return s;
}

/* Wait on pool_done_cv until done() holds or the deadline dl passes. */
static int pool_wait(bool (*done)(const void *), const void *arg,
		     const struct timespec *dl)
{
	int r = 0;

	pthread_mutex_lock(&pool_lock);
	while (!done(arg) && r != ETIMEDOUT)
		r = pthread_cond_clockwait(&pool_done_cv, &pool_lock,
					   CLOCK_MONOTONIC, dl);
	r = done(arg) ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&pool_lock);
	return r;
}

/* Whether the filler is creating no VM (one it would let go). Lock
 * held. */
static bool pool_idle(const void *arg)
{
	(void)arg;
	for (struct pool_class *c = pool_classes; c; c = c->next)
		if (c->creating)
			return false;
	return true;
}

/* Wait until no VM is being created and the reaper is idle; 0 or
 * -ETIMEDOUT. */
int vmm_pool_wait_reaped(unsigned timeout_ms)
{
	struct timespec dl = pool_after(timeout_ms);
	int r = pool_wait(pool_idle, NULL, &dl);

	return r ? r : vmm_reaper_wait(&dl);
}

struct pool_ready_arg {
	const struct cowvm_config *cfg;
	unsigned n;
};

/* Whether the class of arg holds arg->n ready VMs. Lock held. */
static bool pool_has_ready(const void *arg)
{
	const struct pool_ready_arg *a = arg;
	struct pool_class *c = pool_find(a->cfg->mem_size, a->cfg->mem_mode);

	return c && c->nready >= a->n;
}

/* Wait until cfg's class holds n ready VMs; 0 or -ETIMEDOUT. */
int vmm_pool_wait_ready(const struct cowvm_config *cfg, unsigned n,
			unsigned timeout_ms)
{
	struct pool_ready_arg a = {cfg, n};
	struct timespec dl = pool_after(timeout_ms);

	return pool_wait(pool_has_ready, &a, &dl);
}

/* atexit: stop the filler and destroy every pooled VM. */
static void pool_shutdown(void)
{
	struct cowvm *left = NULL;
	bool filler;

	pthread_mutex_lock(&pool_lock);
	pool_stopping = true;
	filler = pool_filler_on;
	pthread_cond_broadcast(&pool_fill_cv);
	pthread_mutex_unlock(&pool_lock);
	if (filler)
		pthread_join(pool_filler, NULL);
	pthread_mutex_lock(&pool_lock);
	pool_filler_on = false;
	while (pool_classes) {
		struct pool_class *c = pool_classes;

		while (c->ready) {
			struct cowvm *vm = c->ready;

			c->ready = vm->pool_next;
			vm->pool_next = left;
			left = vm;
		}
		pool_classes = c->next;
		free(c);
	}
	pthread_mutex_unlock(&pool_lock);
	pool_discard_list(left);
}

/* In a forked child: no pool thread runs and the pooled VMs are the
 * parent's (inert here): start empty, keeping them out of use but within
 * reach (they are never freed). */
void vmm_pool_fork_child(void)
{
	if (pool_classes)
		pool_inherited_classes = pool_classes;
	pool_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	pool_fill_cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	pool_done_cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	pool_classes = NULL;
	pool_filler_on = pool_stopping = false;
}

/* Public: keep n ready VMs of cfg's size and memory mode. */
COWVM_API int cowvm_pool_reserve(const struct cowvm_config *cfg, unsigned n)
{
	return vmm_pool_reserve(cfg, n);
}

/* Public: wait until cfg's class holds its whole reserve, or timeout_ms. */
COWVM_API int cowvm_pool_wait(const struct cowvm_config *cfg,
			      unsigned timeout_ms)
{
	struct vmm_pool_stats st = vmm_pool_stats(cfg);

	return vmm_pool_wait_ready(cfg, st.target, timeout_ms);
}
