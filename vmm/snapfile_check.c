/* The check of a mapped snapshot file's pages: a thread reads the RAM
 * image block by block against the file's sums (warming the page cache
 * for the clones as it goes), while the file is also watched for changes
 * in place; runs of VMs made from the file report only once it passed. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "cowvm_snapfile.h"
#include "snapfile.h"

#define VC_BLOCK ((size_t)SF_BLOCK * 4096)

struct vmm_verify {
	atomic_uint refs;
	atomic_bool stop;
	int fd;
	uint64_t off, pages;
	uint32_t *sums;
	struct cowvm_snapfile_section map, sum;
	struct stat st; /* of the file when opened */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done;
	int err; /* once done: 0, or -EBADMSG / -EIO */
	char path[256];
	char why[400];
};

/* Record v's verdict and wake the waiters. */
static void vc_finish(struct vmm_verify *v, int err, const char *why)
{
	pthread_mutex_lock(&v->lock);
	v->err = err;
	if (err)
		snprintf(v->why, sizeof(v->why), "%s: %s", v->path, why);
	v->done = true;
	pthread_cond_broadcast(&v->done_cv);
	pthread_mutex_unlock(&v->lock);
}

/* The map of a file without parent: its checksum, every page stored;
 * 0 or -EBADMSG / -errno with why. */
static int vc_map(struct vmm_verify *v, char *why, size_t n)
{
	uint8_t *m = malloc(v->map.length ? v->map.length : 1);
	int err = m ? sf_io(false, v->fd, m, v->map.length, v->map.offset)
		    : -ENOMEM;

	if (!err && vmm_crc32c(0, m, v->map.length) != v->map.crc32c)
		err = -EBADMSG;
	for (uint64_t i = 0; !err && i < v->pages; i += 8) {
		unsigned want =
			v->pages - i >= 8 ? 0xff : (1u << (v->pages - i)) - 1;

		if ((m[i / 8] & want) != want)
			err = -ENOEXEC;
	}
	free(m);
	snprintf(why, n, "map section: %s",
		 err == -EBADMSG   ? "checksum mismatch"
		 : err == -ENOEXEC ? "a page is missing in a file without "
				     "parent"
				   : strerror(-err));
	return err == -ENOEXEC ? -EBADMSG : err;
}

/* The sums section into v->sums, its checksum checked; 0 or -errno. */
static int vc_sums(struct vmm_verify *v, char *why, size_t n)
{
	int err = v->sum.length == v->pages * 4 ? 0 : -EBADMSG;

	v->sums = err ? NULL : malloc(v->sum.length ? v->sum.length : 1);
	if (!err && !v->sums)
		err = -ENOMEM;
	if (!err)
		err = sf_io(false, v->fd, v->sums, v->sum.length,
			    v->sum.offset);
	if (!err && vmm_crc32c(0, v->sums, v->sum.length) != v->sum.crc32c)
		err = -EBADMSG;
	snprintf(why, n, "sums section: %s",
		 err == -EBADMSG ? "checksum mismatch" : strerror(-err));
	return err;
}

/* Block b of the image: every page against its sum. */
static int vc_block(struct vmm_verify *v, uint8_t *buf, uint64_t b, char *why,
		    size_t n)
{
	uint64_t first = b * SF_BLOCK, k = v->pages - first;
	size_t len = (k < SF_BLOCK ? k : SF_BLOCK) * 4096;
	int err = sf_io(false, v->fd, buf, len, v->off + b * VC_BLOCK);

	if (err) {
		snprintf(why, n, "pages: %s", strerror(-err));
		return err;
	}
	for (uint64_t i = 0; i < len / 4096; i++)
		if (vmm_crc32c(0, buf + i * 4096, 4096) != v->sums[first + i]) {
			snprintf(why, n,
				 "pages section: checksum mismatch at RAM "
				 "page %llu",
				 (unsigned long long)(first + i));
			return -EBADMSG;
		}
	return 0;
}

/* The thread: the map, the sums, then every page against its sum; stops
 * at the first mismatch. */
static void *vc_thread(void *arg)
{
	struct vmm_verify *v = arg;
	uint8_t *buf = malloc(VC_BLOCK);
	uint64_t nblk = (v->pages + SF_BLOCK - 1) / SF_BLOCK;
	char why[120] = "out of memory";
	int err = buf ? 0 : -ENOMEM;
	struct sched_param none = {0};

	/* background work: only what the VMs leave of the CPUs (advice) */
	(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
	if (!err)
		err = vc_map(v, why, sizeof(why));
	if (!err)
		err = vc_sums(v, why, sizeof(why));
	for (uint64_t b = 0; !err && b < nblk && !atomic_load(&v->stop); b++)
		err = vc_block(v, buf, b, why, sizeof(why));
	free(buf);
	vc_finish(v, err, why);
	return NULL;
}

/* Start checking the pages pages of fd at off against sums[] (taken
 * over); 0 with *out holding one reference, or -errno. */
int vmm_verify_start(int fd, const char *path, uint64_t off, uint64_t pages,
		     const struct cowvm_snapfile_section *map,
		     const struct cowvm_snapfile_section *sums,
		     struct vmm_verify **out)
{
	struct vmm_verify *v = vmm_calloc(1, sizeof(*v));
	int err;

	if (!v)
		return -ENOMEM;
	v->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (v->fd < 0 || fstat(v->fd, &v->st)) {
		err = -errno;
		if (v->fd >= 0)
			close(v->fd);
		free(v);
		return err;
	}
	atomic_init(&v->refs, 1);
	v->off = off;
	v->pages = pages;
	v->map = *map;
	v->sum = *sums;
	snprintf(v->path, sizeof(v->path), "%s", path);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->done_cv, NULL);
	err = -pthread_create(&v->thread, NULL, vc_thread, v);
	if (err) {
		close(v->fd);
		free(v);
		return err;
	}
	*out = v;
	return 0;
}

/* One more reference on v (NULL is ignored); returns v. */
struct vmm_verify *vmm_verify_get(struct vmm_verify *v)
{
	if (v)
		atomic_fetch_add(&v->refs, 1);
	return v;
}

/* Drop a reference; the last stops the check and frees v. */
void vmm_verify_put(struct vmm_verify *v)
{
	if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	atomic_store(&v->stop, true);
	pthread_join(v->thread, NULL);
	pthread_cond_destroy(&v->done_cv);
	pthread_mutex_destroy(&v->lock);
	close(v->fd);
	free(v->sums);
	free(v);
}

/* -ESTALE with why when the file changed in place since it was opened. */
static int vc_changed(struct vmm_verify *v, char *why, size_t n)
{
	struct stat st;

	if (!fstat(v->fd, &st) && st.st_size == v->st.st_size &&
	    st.st_mtim.tv_sec == v->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == v->st.st_mtim.tv_nsec)
		return 0;
	snprintf(why, n,
		 "%s: changed in place since it was opened (its pages are "
		 "mapped: replace a snapshot file by rename, never rewrite it)",
		 v->path);
	return -ESTALE;
}

/* What is known now without waiting: -EBADMSG or -EIO if a check failed,
 * -ESTALE if the file changed in place, else 0 (passed or still
 * running); why says what failed. NULL passes. */
int vmm_verify_state(struct vmm_verify *v, char *why, size_t n)
{
	int err;

	if (!v)
		return 0;
	pthread_mutex_lock(&v->lock);
	err = v->done ? v->err : 0;
	if (err)
		snprintf(why, n, "%s", v->why);
	pthread_mutex_unlock(&v->lock);
	return err ? err : vc_changed(v, why, n);
}

/* Wait for the check to end; its verdict as vmm_verify_state's. */
int vmm_verify_wait(struct vmm_verify *v, char *why, size_t n)
{
	if (!v)
		return 0;
	pthread_mutex_lock(&v->lock);
	while (!v->done)
		pthread_cond_wait(&v->done_cv, &v->lock);
	pthread_mutex_unlock(&v->lock);
	return vmm_verify_state(v, why, n);
}
