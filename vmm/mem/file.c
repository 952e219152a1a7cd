/* Images of a snapshot file's RAM: mapped in place over a backing of the
 * frame store (O(1)), or copied into a fresh window of frames where the
 * host cannot write-protect a file mapping (UFFD mode). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "mem_internal.h"

/* All n bytes at byte pos of fd into p; 0 or -errno (-EIO at the end). */
static int file_read(int fd, uint8_t *p, size_t n, off_t pos)
{
	while (n) {
		ssize_t k = pread(fd, p, n, pos);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		p += k;
		n -= (size_t)k;
		pos += k;
	}
	return 0;
}

/* The table over a backing of fd at off for the RAM ranges of size. */
static struct cow_tree *image_file_tree(int fd, uint64_t off, uint64_t size)
{
	struct vmm_range r[VMM_MAX_RANGES];
	struct cow_backing_range br[COW_BACKING_RANGES];
	unsigned n = vmm_mem_layout(size, r);
	struct cow_backing *b;
	struct cow_tree *t = NULL;

	for (unsigned i = 0; i < n && i < COW_BACKING_RANGES; i++)
		br[i] = (struct cow_backing_range){r[i].gpa / VMM_PAGE,
						   r[i].size / VMM_PAGE};
	pthread_mutex_lock(&vmm_store_lock);
	b = n <= COW_BACKING_RANGES && !vmm_fault(VMM_FAULT_COW)
		    ? cow_backing_create(vmm_store(), fd, off, br, n)
		    : NULL;
	if (b)
		t = cow_tree_create_backed(vmm_store(), b);
	cow_backing_put(b);
	pthread_mutex_unlock(&vmm_store_lock);
	return t;
}

/* The table of a fresh window of size's pages, linear in RAM order, with
 * the data of fd from off on read into its frames (holes skipped). */
static struct cow_tree *file_copy_tree(int fd, uint64_t off, uint64_t size)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(size, r);
	struct cow_store *s = vmm_store();
	struct cow_tree *t;
	int64_t w;
	int err = 0;

	pthread_mutex_lock(&vmm_store_lock);
	t = vmm_fault(VMM_FAULT_COW) ? NULL : cow_tree_create(s);
	w = t ? cow_window_reserve(s, size / VMM_PAGE) : -ENOMEM;
	for (unsigned i = 0, at = 0; w >= 0 && !err && i < n;
	     at += (unsigned)(r[i++].size / VMM_PAGE))
		err = cow_tree_map_linear(t, r[i].gpa, r[i].size / VMM_PAGE,
					  (uint32_t)w + at);
	if (w >= 0)
		cow_window_release(s, (uint32_t)w, size / VMM_PAGE);
	pthread_mutex_unlock(&vmm_store_lock);
	for (off_t pos = (off_t)off, end = (off_t)(off + size), hole;
	     w >= 0 && !err && pos < end; pos = hole) {
		pos = lseek(fd, pos, SEEK_DATA);
		hole = pos < 0 ? end : lseek(fd, pos, SEEK_HOLE);
		if (pos < 0 || pos >= end)
			break;
		hole = hole < 0 || hole > end ? end : hole;
		err = file_read(fd, cow_frame_ptr(s, (uint32_t)w) + (pos - off),
				(size_t)(hole - pos), pos);
	}
	if (w < 0 || err) {
		pthread_mutex_lock(&vmm_store_lock);
		cow_tree_destroy(t);
		pthread_mutex_unlock(&vmm_store_lock);
		errno = w < 0 ? (int)-w : -err;
		return NULL;
	}
	return t;
}

/* A new image of the file's pages, mapped in place or copied. */
int vmm_mem_image_file(int fd, uint64_t off, uint64_t size, bool copy,
		       struct vmm_mem_image **out)
{
	struct vmm_mem_image *img;
	int err = 0;

	if (!size || size % VMM_PAGE || off % VMM_PAGE)
		return -EINVAL;
	img = vmm_calloc(1, sizeof(*img));
	if (!img || !vmm_store_get()) {
		free(img);
		return -ENOMEM;
	}
	img->tree = copy ? file_copy_tree(fd, off, size)
			 : image_file_tree(fd, off, size);
	img->ext = img->tree ? vmm_extents_new(1) : NULL;
	if (!img->ext) {
		err = img->tree ? -ENOMEM : (errno ? -errno : -ENOMEM);
		pthread_mutex_lock(&vmm_store_lock);
		cow_tree_destroy(img->tree);
		pthread_mutex_unlock(&vmm_store_lock);
		free(img);
		vmm_store_put();
		return err;
	}
	img->ext->e[0] = (struct vmm_extent){
		0, size / VMM_PAGE, (uint32_t)cow_tree_translate(img->tree, 0)};
	atomic_init(&img->refs, 1);
	img->size = size;
	img->id = vmm_mem_image_id();
	*out = img;
	return 0;
}
