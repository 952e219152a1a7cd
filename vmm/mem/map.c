/* The mmaps that realize extents in a VM's RAM region, and what an ENOMEM
 * from them means. */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

#include "mem_internal.h"

/* Where frame f lives (the memfd or a snapshot file backing it) and for
 * how many frames on; stop caps the count. */
static uint64_t map_source(uint32_t f, uint64_t n, int *fd, uint64_t *pos)
{
	uint64_t run;

	pthread_mutex_lock(&vmm_store_lock);
	run = cow_frame_source(vmm_store(), f, fd, pos);
	pthread_mutex_unlock(&vmm_store_lock);
	return run < n ? run : n;
}

/* One mmap with flags per extent piece of RAM pages [off, off + n), from
 * the file holding the piece's frames; stops at the first failure with
 * *done pages mapped. A MAP_FIXED_NOREPLACE mmap that lands elsewhere (a
 * kernel older than the flag) is undone and fails with EEXIST. */
static int map_pieces(struct vmm_mem *mem, const struct vmm_extents *ext,
		      uint64_t off, uint64_t n, int flags, uint64_t *done)
{
	uint64_t i = vmm_extents_find(ext, off), start = off, end = off + n;

	for (; off < end; i += off == ext->e[i].off + ext->e[i].n) {
		const struct vmm_extent *e = &ext->e[i];
		uint64_t stop = e->off + e->n < end ? e->off + e->n : end;
		bool lazy = e->frame == VMM_FRAME_LAZY;
		uint8_t *want = mem->base + off * VMM_PAGE;
		int fd = -1;
		uint64_t pos = 0;

		if (!lazy)
			stop = off +
			       map_source((uint32_t)(e->frame + off - e->off),
					  stop - off, &fd, &pos);
		void *p = vmm_mmap(
			want, (stop - off) * VMM_PAGE, PROT_READ | PROT_WRITE,
			lazy ? (flags & ~(MAP_SHARED | MAP_PRIVATE)) |
					MAP_PRIVATE | MAP_ANONYMOUS
			     : flags,
			fd, (off_t)pos);
		int err = 0;

		if (p != MAP_FAILED && p != want) {
			vmm_munmap(p, (stop - off) * VMM_PAGE);
			errno = EEXIST;
			p = MAP_FAILED;
		}
		if (p == MAP_FAILED)
			err = -errno;
		else if (lazy)
			err = vmm_lazy_register(mem, off, stop - off);
		if (err) {
			*done = p == MAP_FAILED ? off - start : stop - start;
			return err;
		}
		off = stop;
	}
	*done = n;
	/* A forked child gets none of guest RAM: it could not use it (its
	 * VMs are inert), would pin the frames and slow every later host
	 * page-table change of the parent. Advice only: failure is harmless. */
	(void)vmm_madvise(mem->base + start * VMM_PAGE, n * VMM_PAGE,
			  MADV_DONTFORK);
	return 0;
}

/* MAP_FIXED over whatever the range holds. */
int vmm_mem_map_range(struct vmm_mem *mem, const struct vmm_extents *ext,
		      uint64_t off, uint64_t n, bool shared)
{
	uint64_t done;
	int err = map_pieces(mem, ext, off, n,
			     (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED |
				     MAP_NORESERVE,
			     &done);

	vmm_mem_unkeep(mem, off, done);
	return err;
}

/* MAP_FIXED_NOREPLACE piece by piece; on failure unmap the pieces mapped
 * so far (ours: nothing else could have been there). */
int vmm_mem_map_hole(struct vmm_mem *mem, const struct vmm_extents *ext)
{
	uint64_t done;
	int err = map_pieces(mem, ext, 0, mem->pages,
			     MAP_PRIVATE | MAP_FIXED_NOREPLACE | MAP_NORESERVE,
			     &done);

	if (err && done)
		vmm_munmap(mem->base, done * VMM_PAGE);
	return err == -EEXIST ? -EBUSY : err;
}

/* Lines of a /proc file, or the number on its first line with first. */
static long proc_count(const char *path, bool first)
{
	FILE *fp = fopen(path, "r");
	long n = 0;
	int c;

	if (!fp)
		return -1;
	if (first)
		n = fscanf(fp, "%ld", &n) == 1 ? n : -1;
	else
		while ((c = fgetc(fp)) != EOF)
			n += c == '\n';
	fclose(fp);
	return n;
}

/* Why an mmap of guest RAM may have failed with ENOMEM: when this process
 * holds all but a few of the vm.max_map_count mappings, say so in buf. */
const char *vmm_mem_maps_note(char *buf, size_t n)
{
	long maps = proc_count("/proc/self/maps", false);
	long max = proc_count("/proc/sys/vm/max_map_count", true);

	buf[0] = 0;
	if (maps >= 0 && max > 0 && maps + 64 >= max)
		snprintf(buf, n,
			 " (%ld of vm.max_map_count %ld mappings in use: "
			 "destroy VMs or raise vm.max_map_count)",
			 maps, max);
	return buf;
}
