/* A state as bytes, for snapshot files: the fixed struct with its owned
 * buffers (XSAVE area, command line) appended, and back. What only this
 * process can vouch for is not carried: a state unpacked is restored in
 * full (no ring-3 restores, no pieces taken as pristine) and its kvmclock
 * continues from its instant. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state.h"

/* Bytes vmm_state_pack gives for st. */
static size_t sp_size(const struct vmm_state *st)
{
	return sizeof(*st) + st->xsave_size +
	       (st->soft.cmdline ? st->soft.cmdline_len + 1 : 0);
}

/* Pack st into a new buffer *buf of *len bytes; 0 or -ENOMEM. */
int vmm_state_pack(const struct vmm_state *st, void **buf, size_t *len)
{
	struct vmm_state *fixed;
	uint8_t *p;

	*len = sp_size(st);
	p = calloc(1, *len);
	if (!p)
		return -ENOMEM;
	fixed = (struct vmm_state *)p;
	memcpy(fixed, st, sizeof(*st));
	fixed->xsave = NULL;
	fixed->soft.cmdline = NULL;
	fixed->soft.cmdline_len = st->soft.cmdline ? st->soft.cmdline_len : 0;
	fixed->nwatch = 0;
	memcpy(p + sizeof(*st), st->xsave, st->xsave_size);
	if (st->soft.cmdline)
		memcpy(p + sizeof(*st) + st->xsave_size, st->soft.cmdline,
		       st->soft.cmdline_len + 1);
	*buf = p;
	return 0;
}

/* CLOCK_BOOTTIME in nanoseconds. */
static uint64_t sp_boottime_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_BOOTTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The owned buffers of the packed state at p (fixed part already copied
 * into st); 0 or -EINVAL / -ENOMEM. */
static int sp_buffers(struct vmm_state *st, const uint8_t *p, size_t len)
{
	size_t cl = st->soft.cmdline_len;
	size_t need = sizeof(*st) + st->xsave_size + (cl ? cl + 1 : 0);

	st->xsave = NULL;
	st->soft.cmdline = NULL;
	if (need != len || st->xsave_size < sizeof(struct kvm_xsave) ||
	    st->nmsrs > VMM_STATE_MAX_MSRS)
		return -EINVAL;
	st->xsave = malloc(st->xsave_size);
	if (!st->xsave)
		return -ENOMEM;
	memcpy(st->xsave, p + sizeof(*st), st->xsave_size);
	if (cl) {
		if (p[len - 1])
			return -EINVAL;
		st->soft.cmdline = malloc(cl + 1);
		if (!st->soft.cmdline)
			return -ENOMEM;
		memcpy(st->soft.cmdline, p + sizeof(*st) + st->xsave_size,
		       cl + 1);
	}
	return 0;
}

/* Unpack len bytes at buf into a new *out; 0, -EINVAL (not a packed state
 * of this build) or -ENOMEM. */
int vmm_state_unpack(const void *buf, size_t len, struct vmm_state **out)
{
	struct vmm_state *st;
	int err;

	if (len < sizeof(*st))
		return -EINVAL;
	st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	memcpy(st, buf, sizeof(*st));
	err = sp_buffers(st, buf, len);
	if (err) {
		vmm_state_free(st);
		return err;
	}
	st->id = 0;
	st->r3_ok = false;
	st->r3_lapic = false;
	st->nwatch = 0;
	st->same = 0;
	st->clock_host_ns = sp_boottime_ns();
	*out = st;
	return 0;
}
