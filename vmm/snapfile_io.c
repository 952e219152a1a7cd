/* Snapshot files' I/O: CRC-32C (SSE4.2 when the CPU has it) and a writer
 * that keeps a few large buffers in flight through io_uring. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapfile.h"

/* CRC-32C of n bytes at p continuing crc (0 to start), bit by bit. */
static uint32_t sf_crc_soft(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return ~crc;
}

/* The same with the SSE4.2 crc32 instruction, eight bytes at a time. */
__attribute__((target("sse4.2"))) static uint32_t
sf_crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = ~crc & 0xffffffffu;

	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	for (; n; n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

/* CRC-32C of n bytes at p continuing crc (0 to start). */
uint32_t vmm_crc32c(uint32_t crc, const void *p, size_t n)
{
	static int hw = -1;

	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2");
	return hw ? sf_crc_hw(crc, p, n) : sf_crc_soft(crc, p, n);
}

/* All n bytes at p written to (write) or read from fd at off; 0, or
 * -errno (-EIO when the file ends first). */
int sf_io(bool write, int fd, void *p, size_t n, uint64_t off)
{
	char *c = p;

	while (n) {
		ssize_t k = write ? pwrite(fd, c, n, (off_t)off)
				  : pread(fd, c, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		c += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* Take one completion; 0, or -errno for a failed or short write. */
static int sf_reap(struct sf_writer *w)
{
	struct io_uring_cqe *cqe;
	int r = io_uring_wait_cqe(&w->ring, &cqe);
	uint64_t data;
	unsigned i;

	if (r < 0)
		return r;
	data = io_uring_cqe_get_data64(cqe);
	i = (unsigned)(data & 0xff);
	r = cqe->res < 0		      ? cqe->res
	    : (uint64_t)cqe->res != data >> 8 ? -EIO
					      : 0;
	io_uring_cqe_seen(&w->ring, cqe);
	if (!--w->pend[i])
		w->busy &= ~(1u << i);
	w->inflight--;
	return r;
}

/* Set up w to write fd with SF_BUFS buffers of SF_BUF bytes; 0 or -errno. */
int sf_writer_init(struct sf_writer *w, int fd)
{
	int r;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->mem = aligned_alloc(4096, (size_t)SF_BUFS * SF_BUF);
	if (!w->mem)
		return -ENOMEM;
	r = io_uring_queue_init(SF_RING, &w->ring, 0);
	if (r < 0) {
		free(w->mem);
		w->mem = NULL;
	}
	return r;
}

/* A free buffer of SF_BUF bytes (waiting for a write to finish if all
 * are in flight), its index in *idx; NULL with *err on a failed write. */
uint8_t *sf_writer_buf(struct sf_writer *w, unsigned *idx, int *err)
{
	*err = 0;
	while (w->busy == (1u << SF_BUFS) - 1 && !*err)
		*err = sf_reap(w);
	if (*err)
		return NULL;
	for (unsigned i = 0; i < SF_BUFS; i++)
		if (!(w->busy & (1u << i))) {
			*idx = i;
			return w->mem + (size_t)i * SF_BUF;
		}
	return NULL;
}

/* Queue a write of len bytes at byte at of buffer idx to offset off;
 * with SF_RING writes queued, submit and wait for one first. */
int sf_writer_put(struct sf_writer *w, unsigned idx, size_t at, size_t len,
		  uint64_t off)
{
	struct io_uring_sqe *sqe;
	int r;

	while (w->inflight >= SF_RING) {
		r = io_uring_submit(&w->ring);
		if (r < 0 || (r = sf_reap(w)))
			return r;
	}
	sqe = io_uring_get_sqe(&w->ring);
	if (!sqe) {
		r = io_uring_submit(&w->ring);
		sqe = r < 0 ? NULL : io_uring_get_sqe(&w->ring);
		if (!sqe)
			return r < 0 ? r : -EBUSY;
	}
	io_uring_prep_write(sqe, w->fd, w->mem + (size_t)idx * SF_BUF + at,
			    (unsigned)len, off);
	io_uring_sqe_set_data64(sqe, idx | (uint64_t)len << 8);
	w->pend[idx]++;
	w->busy |= 1u << idx;
	w->inflight++;
	return 0;
}

/* Submit buffer idx's writes; a buffer with none is free again. */
int sf_writer_done(struct sf_writer *w, unsigned idx)
{
	int r;

	if (!w->pend[idx]) {
		w->busy &= ~(1u << idx);
		return 0;
	}
	r = io_uring_submit(&w->ring);
	return r < 0 ? r : 0;
}

/* Wait for every write; tear w down. 0 or the first -errno. */
int sf_writer_finish(struct sf_writer *w)
{
	int err = 0;

	if (w->mem && w->inflight && io_uring_submit(&w->ring) < 0)
		err = -EIO;
	while (w->mem && w->inflight) {
		int r = sf_reap(w);

		err = err ? err : r;
	}
	if (w->mem)
		io_uring_queue_exit(&w->ring);
	free(w->mem);
	w->mem = NULL;
	return err;
}
