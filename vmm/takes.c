/* Announcements of takes of spares of snapshots made ahead: snapshot.c
 * announces each take that leaves a snapshot short, ahead.c's thread waits
 * for them (a file of its own, so that the two never call each other). */
#include <pthread.h>

#include "api.h"

static pthread_mutex_t snap_take_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t snap_take_cv = PTHREAD_COND_INITIALIZER;
static unsigned long snap_takes;

/* In a forked child: the announcements start afresh. */
static void snap_take_fork_child(void)
{
	pthread_mutex_init(&snap_take_lock, NULL);
	pthread_cond_init(&snap_take_cv, NULL);
}

/* Install snap_take_fork_child when the library is loaded. */
__attribute__((constructor)) static void snap_take_install(void)
{
	(void)pthread_atfork(NULL, NULL, snap_take_fork_child);
}

/* Announce a take (or wake the waiter for another reason). */
void vmm_snapshot_kick(void)
{
	pthread_mutex_lock(&snap_take_lock);
	snap_takes++;
	pthread_cond_broadcast(&snap_take_cv);
	pthread_mutex_unlock(&snap_take_lock);
}

/* The announcements so far. */
unsigned long vmm_snapshot_takes(void)
{
	unsigned long n;

	pthread_mutex_lock(&snap_take_lock);
	n = snap_takes;
	pthread_mutex_unlock(&snap_take_lock);
	return n;
}

/* Wait until there were more announcements than seen; their number. */
unsigned long vmm_snapshot_wait_take(unsigned long seen)
{
	unsigned long n;

	pthread_mutex_lock(&snap_take_lock);
	while (snap_takes == seen)
		pthread_cond_wait(&snap_take_cv, &snap_take_lock);
	n = snap_takes;
	pthread_mutex_unlock(&snap_take_lock);
	return n;
}
