/* The Linux personality's memory calls: brk, mmap, munmap, mremap,
 * mprotect, madvise. Guest memory is identity mapped, so a mapping is a
 * range of guest RAM: the heap grows up from the image, mappings are
 * placed top-down below the file tree, and memory handed out again is
 * zeroed first (never-used memory is zero already). */
#include "lx.h"

#define LX_PAGE	      4096ull
#define LX_PAGE_UP(x) (((x) + LX_PAGE - 1) & ~(LX_PAGE - 1))

/* Zero the parts of [s, e) that may hold old bytes: the image, the heap
 * as high as it ever grew, mappings as low as they ever reached. */
static void lx_fresh(uint64_t s, uint64_t e)
{
	uint64_t ranges[3][2] = {
		{s, e < lx.brk_start ? e : lx.brk_start},
		{s > lx.brk_start ? s : lx.brk_start,
		 e < lx.brk_dirty ? e : lx.brk_dirty},
		{s > lx.mmap_dirty ? s : lx.mmap_dirty,
		 e < lx.mmap_top ? e : lx.mmap_top},
	};

	for (int i = 0; i < 3; i++)
		if (ranges[i][0] < ranges[i][1])
			lx_zero((void *)(uintptr_t)ranges[i][0],
				ranges[i][1] - ranges[i][0]);
}

/* Note that [s, e) is now a mapping (its bytes are no longer zero). */
static void lx_used(uint64_t s)
{
	if (s < lx.mmap_dirty)
		lx.mmap_dirty = s;
}

/* Lowest start of any mapping (mmap_top when none). */
static uint64_t lx_maps_low(void)
{
	uint64_t low = lx.mmap_top;

	for (uint32_t i = 0; i < lx.nr_maps; i++)
		if (lx.maps[i].start < low)
			low = lx.maps[i].start;
	return low;
}

/* Nonzero when [s, e) meets no mapping. */
static int lx_maps_free(uint64_t s, uint64_t e)
{
	for (uint32_t i = 0; i < lx.nr_maps; i++)
		if (lx.maps[i].start < e && s < lx.maps[i].end)
			return 0;
	return 1;
}

/* Remove [s, e) from the mappings, splitting where needed; -ENOMEM when a
 * split needs a slot there is none of. */
static int64_t lx_maps_remove(uint64_t s, uint64_t e)
{
	for (uint32_t i = 0; i < lx.nr_maps; i++) {
		struct lx_map *m = &lx.maps[i];

		if (m->end <= s || e <= m->start)
			continue;
		if (m->start < s && e < m->end) {
			if (lx.nr_maps == LX_NR_MAPS)
				return -LX_ENOMEM;
			lx.maps[lx.nr_maps].start = e;
			lx.maps[lx.nr_maps++].end = m->end;
			m->end = s;
		} else if (m->start < s) {
			m->end = s;
		} else if (e < m->end) {
			m->start = e;
		} else {
			*m = lx.maps[--lx.nr_maps];
			i--;
		}
	}
	return 0;
}

/* Record [s, e) as mapped; -ENOMEM when the table is full. */
static int64_t lx_maps_add(uint64_t s, uint64_t e)
{
	if (lx.nr_maps == LX_NR_MAPS)
		return -LX_ENOMEM;
	lx.maps[lx.nr_maps].start = s;
	lx.maps[lx.nr_maps++].end = e;
	return 0;
}

/* The highest free range of len bytes in [page_up(brk), mmap_top), or 0:
 * below each mapping in the way, try again. */
static uint64_t lx_maps_find(uint64_t len)
{
	uint64_t floor = LX_PAGE_UP(lx.brk), top = lx.mmap_top;

	while (top >= floor + len) {
		uint64_t s = top - len, low = top;

		for (uint32_t i = 0; i < lx.nr_maps; i++)
			if (lx.maps[i].start < top && s < lx.maps[i].end &&
			    lx.maps[i].start < low)
				low = lx.maps[i].start;
		if (low == top)
			return s;
		top = low;
	}
	return 0;
}

/* Nonzero when [s, e) may be mapped with MAP_FIXED. */
static int lx_fixed_ok(uint64_t s, uint64_t e)
{
	return s >= COWVM_LINUX_LOAD_MIN && s < e && e <= lx.mmap_top;
}

/* brk(addr): move the program break; returns the (possibly old) break. */
static int64_t sys_brk(struct lx_regs *r, uint64_t addr, uint64_t b, uint64_t c,
		       uint64_t d, uint64_t e, uint64_t f)
{
	uint64_t old = lx.brk;

	(void)r, (void)b, (void)c, (void)d, (void)e, (void)f;
	if (addr < lx.brk_start || LX_PAGE_UP(addr) > lx_maps_low())
		return (int64_t)lx.brk;
	if (addr > old)
		lx_fresh(LX_PAGE_UP(old), LX_PAGE_UP(addr));
	lx.brk = addr;
	if (LX_PAGE_UP(addr) > lx.brk_dirty)
		lx.brk_dirty = LX_PAGE_UP(addr);
	return (int64_t)addr;
}

/* Fill the new mapping [s, s + len) from descriptor fd at off. */
static int64_t lx_map_fill(uint64_t s, uint64_t len, uint64_t flags, int fd,
			   uint64_t off)
{
	const struct lx_fd *f;
	const struct cowvm_linux_file *n;
	uint64_t copy = 0;

	lx_fresh(s, s + len);
	if (flags & LX_MAP_ANONYMOUS)
		return 0;
	f = lx_fd_get((uint64_t)fd);
	if (!f)
		return -LX_EBADF;
	if (f->kind == LX_FD_ZERO || f->kind == LX_FD_NULL)
		return 0;
	if (f->kind != LX_FD_FILE)
		return -LX_ENODEV;
	n = &lx.files[f->node];
	if (off < n->size)
		copy = n->size - off < len ? n->size - off : len;
	if (copy)
		lx_copy((void *)(uintptr_t)s,
			(const void *)(uintptr_t)(n->data + off), copy);
	return 0;
}

/* mmap(addr, len, prot, flags, fd, off) of anonymous memory or of a file
 * of the tree (copied: the tree is read-only). */
static int64_t sys_mmap(struct lx_regs *r, uint64_t addr, uint64_t len,
			uint64_t prot, uint64_t flags, uint64_t fd,
			uint64_t off)
{
	uint64_t s = 0, e;
	int64_t err;

	(void)r, (void)prot;
	if (!len || len > lx.mmap_top || off & (LX_PAGE - 1) ||
	    !(flags & (LX_MAP_PRIVATE | LX_MAP_SHARED)))
		return -LX_EINVAL;
	len = LX_PAGE_UP(len);
	if (!(flags & LX_MAP_ANONYMOUS) && !lx_fd_get(fd))
		return -LX_EBADF;
	if (flags & (LX_MAP_FIXED | LX_MAP_FIXED_NOREPLACE)) {
		if (addr & (LX_PAGE - 1) || !lx_fixed_ok(addr, addr + len))
			return addr & (LX_PAGE - 1) ? -LX_EINVAL : -LX_ENOMEM;
		if (flags & LX_MAP_FIXED_NOREPLACE &&
		    !lx_maps_free(addr, addr + len))
			return -LX_EEXIST;
		s = addr;
	} else if (addr && !(addr & (LX_PAGE - 1)) &&
		   addr >= LX_PAGE_UP(lx.brk) &&
		   lx_fixed_ok(addr, addr + len) &&
		   lx_maps_free(addr, addr + len)) {
		s = addr;
	} else {
		s = lx_maps_find(len);
		if (!s)
			return -LX_ENOMEM;
	}
	e = s + len;
	err = lx_maps_remove(s, e);
	if (!err)
		err = lx_maps_add(s, e);
	if (err)
		return err;
	err = lx_map_fill(s, len, flags, (int)fd, off);
	if (err) {
		lx_maps_remove(s, e);
		return err;
	}
	lx_used(s);
	return (int64_t)s;
}

/* munmap(addr, len). */
static int64_t sys_munmap(struct lx_regs *r, uint64_t addr, uint64_t len,
			  uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)c, (void)d, (void)e, (void)f;
	if (addr & (LX_PAGE - 1) || !len || addr + len < addr)
		return -LX_EINVAL;
	return lx_maps_remove(addr, addr + LX_PAGE_UP(len));
}

/* mremap(old, old_len, new_len, flags, new): shrink in place, grow in
 * place when the range above is free, else move (MREMAP_MAYMOVE). */
static int64_t sys_mremap(struct lx_regs *r, uint64_t old, uint64_t olen,
			  uint64_t nlen, uint64_t flags, uint64_t naddr,
			  uint64_t f)
{
	int64_t n;

	(void)f;
	(void)naddr;
	if (old & (LX_PAGE - 1) || !nlen || flags & LX_MREMAP_FIXED)
		return -LX_EINVAL;
	olen = LX_PAGE_UP(olen);
	nlen = LX_PAGE_UP(nlen);
	if (!lx_user_ok(old, olen) || lx_maps_free(old, old + olen))
		return -LX_EFAULT;
	if (nlen <= olen) {
		n = lx_maps_remove(old + nlen, old + olen);
		return n ? n : (int64_t)old;
	}
	if (old + nlen <= lx.mmap_top && lx_maps_free(old + olen, old + nlen)) {
		if (lx_maps_add(old + olen, old + nlen))
			return -LX_ENOMEM;
		lx_fresh(old + olen, old + nlen);
		return (int64_t)old;
	}
	if (!(flags & LX_MREMAP_MAYMOVE))
		return -LX_ENOMEM;
	n = sys_mmap(r, 0, nlen, 3, LX_MAP_PRIVATE | LX_MAP_ANONYMOUS,
		     (uint64_t)-1, 0);
	if (n < 0)
		return n;
	lx_copy((void *)(uintptr_t)n, (const void *)(uintptr_t)old, olen);
	lx_maps_remove(old, old + olen);
	return n;
}

/* mprotect(addr, len, prot): protections are not enforced; checks only. */
static int64_t sys_mprotect(struct lx_regs *r, uint64_t addr, uint64_t len,
			    uint64_t prot, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)d, (void)e, (void)f;
	if (addr & (LX_PAGE - 1) || prot & ~0xfull)
		return -LX_EINVAL;
	if (!lx_user_ok(addr, LX_PAGE_UP(len)))
		return -LX_ENOMEM;
	return 0;
}

/* madvise(addr, len, advice): MADV_DONTNEED (4) and MADV_FREE (8) zero
 * the range, as the kernel's private anonymous pages read back. */
static int64_t sys_madvise(struct lx_regs *r, uint64_t addr, uint64_t len,
			   uint64_t advice, uint64_t d, uint64_t e, uint64_t f)
{
	(void)r, (void)d, (void)e, (void)f;
	if (addr & (LX_PAGE - 1))
		return -LX_EINVAL;
	len = LX_PAGE_UP(len);
	if (!lx_user_ok(addr, len))
		return -LX_ENOMEM;
	if (advice == 4 || advice == 8)
		lx_zero((void *)(uintptr_t)addr, len);
	return 0;
}

const struct lx_sys lx_mem_calls[] = {
	{NR_brk, 1, 0, "brk", sys_brk},
	{NR_mmap, 6, 0, "mmap", sys_mmap},
	{NR_munmap, 2, 0, "munmap", sys_munmap},
	{NR_mremap, 5, 0, "mremap", sys_mremap},
	{NR_mprotect, 3, 0, "mprotect", sys_mprotect},
	{NR_madvise, 3, 0, "madvise", sys_madvise},
	{0, 0, 0, 0, 0},
};
