/* Clones made ahead: a background thread realizes clones of every snapshot
 * given to cowvm_snapshot_ahead into its spares (warmed for the pages an
 * earlier clone touched: snapshot.c records them) and refills them as
 * cowvm_clone takes them (snapshot.c announces each take), so that no clone is
 * made on the caller's thread while spares last. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "api.h"

/* One snapshot made ahead. */
struct ahead {
	struct ahead *next;
	struct cowvm_snapshot *snap; /* a reference */
	unsigned n;		     /* spares to hold */
	int err; /* the last failure: not retried before a take */
};

static pthread_mutex_t ahead_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ahead *ahead_list;
static pthread_t ahead_thread;
static bool ahead_on, ahead_stopping, ahead_atexit_on;

/* The link to snap's entry (*link NULL if none); under ahead_lock. */
static struct ahead **ahead_find(struct cowvm_snapshot *snap)
{
	struct ahead **link = &ahead_list;

	while (*link && (*link)->snap != snap)
		link = &(*link)->next;
	return link;
}

/* Realize one clone of snap into its spares, warmed for the pages an
 * earlier clone touched; 0 (also when there was no room) or -errno. */
static int ahead_make(struct cowvm_snapshot *snap)
{
	struct cowvm *vm = vmm_snapshot_realize(snap);
	int err;

	if (!vm)
		return -errno;
	err = vmm_snapshot_warm(snap, vm);
	if (err) {
		vmm_vm_set_error(vm->err);
		cowvm_destroy(vm);
		return err;
	}
	if (!vmm_snapshot_add_spare(snap, vm))
		cowvm_destroy(vm);
	return 0;
}

/* An entry whose snapshot lacks spares and did not fail; under lock. */
static struct ahead *ahead_pick(void)
{
	for (struct ahead *a = ahead_list; a; a = a->next)
		if (!a->err && vmm_snapshot_nspares(a->snap) < a->n)
			return a;
	return NULL;
}

/* Sleep until the next take announced after seen (snapshot.c), then let
 * failed entries retry; under lock, released meanwhile. */
static void ahead_sleep(unsigned long seen)
{
	pthread_mutex_unlock(&ahead_lock);
	vmm_snapshot_wait_take(seen);
	pthread_mutex_lock(&ahead_lock);
	for (struct ahead *a = ahead_list; a; a = a->next)
		a->err = 0;
}

/* The thread: fill every entry's spares, sleep until a take. */
static void *ahead_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ahead_lock);
	while (!ahead_stopping) {
		unsigned long seen = vmm_snapshot_takes();
		struct ahead *a = ahead_pick();
		struct cowvm_snapshot *snap;
		int err;

		if (!a) {
			ahead_sleep(seen);
			continue;
		}
		snap = cowvm_snapshot_get(a->snap);
		pthread_mutex_unlock(&ahead_lock);
		err = ahead_make(snap);
		pthread_mutex_lock(&ahead_lock);
		a = *ahead_find(snap); /* it may have gone meanwhile */
		if (a && err)
			a->err = err;
		pthread_mutex_unlock(&ahead_lock);
		cowvm_snapshot_put(snap);
		pthread_mutex_lock(&ahead_lock);
	}
	pthread_mutex_unlock(&ahead_lock);
	return NULL;
}

/* At exit: stop the thread (entries stay, reachable). */
static void ahead_shutdown(void)
{
	pthread_mutex_lock(&ahead_lock);
	ahead_stopping = true;
	pthread_mutex_unlock(&ahead_lock);
	vmm_snapshot_kick();
	if (ahead_on)
		pthread_join(ahead_thread, NULL);
	ahead_on = false;
}

/* Start the thread unless it runs; under lock. 0 or -errno. */
static int ahead_start(void)
{
	int err;

	if (ahead_on)
		return 0;
	if (!ahead_atexit_on && atexit(ahead_shutdown))
		return -ENOMEM;
	ahead_atexit_on = true;
	err = pthread_create(&ahead_thread, NULL, ahead_main, NULL);
	if (err)
		return -err;
	ahead_on = true;
	return 0;
}

/* Set snap's entry to n spares (n = 0: drop it); 0 or -errno. */
static int ahead_set(struct cowvm_snapshot *snap, unsigned n)
{
	struct ahead **link, *gone = NULL;
	int err = 0;

	pthread_mutex_lock(&ahead_lock);
	link = ahead_find(snap);
	if (!n && *link) {
		gone = *link;
		*link = gone->next;
	} else if (n && !*link && !(*link = calloc(1, sizeof(**link)))) {
		err = -ENOMEM;
	} else if (n) {
		if (!(*link)->snap)
			(*link)->snap = cowvm_snapshot_get(snap);
		(*link)->n = n;
		(*link)->err = 0;
		err = ahead_start();
	}
	pthread_mutex_unlock(&ahead_lock);
	vmm_snapshot_set_ahead(snap, err ? 0 : n);
	vmm_snapshot_kick();
	if (gone) {
		cowvm_snapshot_put(gone->snap);
		free(gone);
	}
	return err;
}

/* Keep n clones of snap made ahead; the first n are made now. */
int cowvm_snapshot_ahead(struct cowvm_snapshot *snap, unsigned n)
{
	int err;

	if (!snap)
		return -EINVAL;
	if (vmm_snapshot_inherited(snap))
		return -ECHILD;
	if (n)
		vmm_snapshot_keep_min(snap, n);
	err = ahead_set(snap, n);
	while (!err && n && vmm_snapshot_nspares(snap) < n)
		err = ahead_make(snap);
	return err;
}

/* In a forked child: no thread, and the parent's snapshots forgotten (they
 * are inert here). */
static void ahead_fork_child(void)
{
	pthread_mutex_init(&ahead_lock, NULL);
	ahead_list = NULL;
	ahead_on = false;
	ahead_stopping = false;
}

/* Install ahead_fork_child when the library is loaded. */
__attribute__((constructor)) static void ahead_install(void)
{
	(void)pthread_atfork(NULL, NULL, ahead_fork_child);
}
