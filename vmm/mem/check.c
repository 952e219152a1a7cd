/* The checker for tests: table, extents, host mappings and contents of a
 * VM's RAM agree, and the frame store is consistent. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem_internal.h"

#define CHECK_SAMPLE 1024 /* pages compared when not full */

/* Record the first failure in why; always -EUCLEAN. */
static int check_fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

/* Extents cover [0, pages) in order, and the table maps each page (every
 * page when full, else the ends of each extent) to the extent's frame. */
static int check_table(struct vmm_mem *mem, bool full, char *why, size_t n)
{
	const struct vmm_extents *x = mem->ext;
	uint64_t pos = 0;

	for (uint64_t i = 0; i < x->n; i++) {
		const struct vmm_extent *e = &x->e[i];
		uint64_t step = full ? 1 : (e->n > 1 ? e->n - 1 : 1);

		if (e->off != pos || !e->n)
			return check_fail(why, n,
					  "extent %llu at %llu+%llu, "
					  "expected at %llu",
					  (unsigned long long)i,
					  (unsigned long long)e->off,
					  (unsigned long long)e->n,
					  (unsigned long long)pos);
		for (uint64_t k = 0; e->frame != VMM_FRAME_LAZY && k < e->n;
		     k += step) {
			uint64_t gpa = vmm_mem_off_gpa(mem, e->off + k);
			int64_t f = cow_tree_translate(mem->tree, gpa);

			if (f != (int64_t)e->frame + (int64_t)k)
				return check_fail(
					why, n,
					"gpa %#llx: table frame %lld,"
					" extent frame %llu",
					(unsigned long long)gpa, (long long)f,
					(unsigned long long)e->frame + k);
		}
		pos += e->n;
	}
	if (pos != mem->pages)
		return check_fail(why, n, "extents cover %llu of %llu pages",
				  (unsigned long long)pos,
				  (unsigned long long)mem->pages);
	return 0;
}

/* Whether the VMA [s, e) with perms and path is what piece x of the
 * extents needs: the frame memfd (shared only in direct mode), or a
 * private anonymous mapping for a lazy extent. */
static bool check_vma_kind(const struct vmm_mem *mem,
			   const struct vmm_extent *x, const char *perms,
			   const char *path)
{
	if (x->frame == VMM_FRAME_LAZY)
		return !path[0] && perms[3] == 'p';
	return strstr(path, "cowvm-frames") && (perms[3] == 's') == mem->direct;
}

/* Every VMA of the region maps what the extents say (the frame memfd at
 * their offsets, or anonymous memory where lazy); no gaps. */
static int check_maps(struct vmm_mem *mem, char *why, size_t n)
{
	uint64_t lo = (uint64_t)(uintptr_t)mem->base, hi = lo + mem->size;
	uint64_t pos = lo;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	int err = 0;

	if (!f)
		return -errno;
	while (!err && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, fo;
		char perms[8], path[256] = "";

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %255s", &s, &e,
			   perms, &fo, path) < 4 ||
		    e <= lo || s >= hi)
			continue;
		if (s != pos || e > hi)
			err = check_fail(why, n,
					 "VMA %llx-%llx: expected one "
					 "at %llx",
					 s, e, (unsigned long long)pos);
		for (uint64_t a = s; !err && a < e;) {
			uint64_t off = (a - lo) / VMM_PAGE, i = 0;
			uint64_t got = fo / VMM_PAGE + (a - s) / VMM_PAGE;
			const struct vmm_extent *x = NULL;

			for (; i < mem->ext->n && !x; i++)
				if (off - mem->ext->e[i].off < mem->ext->e[i].n)
					x = &mem->ext->e[i];
			if (x && !check_vma_kind(mem, x, perms, path)) {
				err = check_fail(why, n,
						 "VMA %llx-%llx: %s %s at page "
						 "%llu",
						 s, e, perms, path,
						 (unsigned long long)off);
				break;
			}
			if (!x || (x->frame != VMM_FRAME_LAZY &&
				   x->frame + (off - x->off) != got)) {
				err = check_fail(
					why, n,
					"page %llu maps frame %llu, extents "
					"say %lld",
					(unsigned long long)off,
					(unsigned long long)got,
					x ? (long long)(x->frame + off - x->off)
					  : -1ll);
				break;
			}
			/* Both stay linear to the end of the piece. */
			a = lo + (x->off + x->n) * VMM_PAGE < e
				    ? lo + (x->off + x->n) * VMM_PAGE
				    : e;
		}
		pos = e;
	}
	fclose(f);
	if (!err && pos != hi)
		err = check_fail(why, n, "region mapped up to %llx of %llx",
				 (unsigned long long)pos,
				 (unsigned long long)hi);
	return err;
}

/* Whether RAM page off is lazy and not filled yet (reading it would
 * fill it). */
static bool check_unfilled(struct vmm_mem *mem, uint64_t off)
{
	unsigned char in = 1;

	if (vmm_extents_frame(mem->ext, off) != VMM_FRAME_LAZY)
		return false;
	return mincore(mem->base + off * VMM_PAGE, VMM_PAGE, &in) == 0 &&
	       !(in & 1);
}

/* Pages not written since the last fold read as their frames do (lazy
 * ones once filled). */
static int check_contents(struct vmm_mem *mem, bool full, char *why, size_t n)
{
	struct cow_store *s = vmm_store();
	struct vmm_runs written = {0};
	uint64_t step = full || mem->pages <= CHECK_SAMPLE
				? 1
				: mem->pages / CHECK_SAMPLE;
	int err = vmm_mem_written_runs(mem, &written);

	for (uint64_t off = 0; !err && off < mem->pages; off += step) {
		uint32_t f = (uint32_t)vmm_mem_page_frame(mem, off);

		if (vmm_runs_has(&written, off) || check_unfilled(mem, off))
			continue;
		if (memcmp(mem->base + off * VMM_PAGE, cow_frame_ptr(s, f),
			   VMM_PAGE))
			err = check_fail(
				why, n,
				"page %llu (gpa %#llx) differs from "
				"frame %llu",
				(unsigned long long)off,
				(unsigned long long)vmm_mem_off_gpa(mem, off),
				(unsigned long long)f);
	}
	vmm_runs_free(&written);
	return err;
}

/* Every page the kernel copied on write (PAGEMAP_SCAN) was recorded as
 * written or is a kept copy: nothing escapes the fold or the reset. */
static int check_record(struct vmm_mem *mem, char *why, size_t n)
{
	struct vmm_runs written = {0}, anon = {0};
	int err = vmm_mem_written_runs(mem, &written);

	if (!err)
		err = vmm_mem_anon_runs(mem, &anon);
	for (uint64_t i = 0; !err && i < anon.n; i++)
		for (uint64_t k = 0; !err && k < anon.r[i].n; k++)
			if (!vmm_runs_has(&written, anon.r[i].off + k) &&
			    !vmm_mem_is_kept(mem, anon.r[i].off + k) &&
			    vmm_extents_frame(mem->ext, anon.r[i].off + k) !=
				    VMM_FRAME_LAZY)
				err = check_fail(
					why, n,
					"page %llu (gpa %#llx) was copied on "
					"write but not recorded",
					(unsigned long long)(anon.r[i].off + k),
					(unsigned long long)vmm_mem_off_gpa(
						mem, anon.r[i].off + k));
	vmm_runs_free(&written);
	vmm_runs_free(&anon);
	return err;
}

/* Store, table against extents, mappings against extents, contents. */
int vmm_mem_check(struct vmm_mem *mem, bool full, char *why, size_t n)
{
	int err;

	if (n)
		why[0] = 0;
	if (!mem->tree)
		return check_fail(why, n, "empty mem");
	pthread_mutex_lock(&vmm_store_lock);
	err = cow_store_check(vmm_store(), why, n);
	if (!err)
		err = check_table(mem, full, why, n);
	if (!err)
		err = check_contents(mem, full, why, n);
	pthread_mutex_unlock(&vmm_store_lock);
	if (!err)
		err = check_maps(mem, why, n);
	if (!err)
		err = check_record(mem, why, n);
	return err;
}
