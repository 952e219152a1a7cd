/* Snapshot files inside vmm/: the format's I/O helpers (snapfile_io.c)
 * for snapfile.c. */
#ifndef VMM_SNAPFILE_H
#define VMM_SNAPFILE_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SF_BUFS	 4u	    /* buffers in flight */
#define SF_BUF	 (4u << 20) /* bytes per buffer */
#define SF_RING	 64u	    /* writes in flight */
#define SF_BLOCK (SF_BUF / 4096u) /* pages read or written as one */

/* A writer of large buffers through io_uring, each buffer written as one
 * or more pieces (the runs of a sparse file). */
struct sf_writer {
	struct io_uring ring;
	int fd;
	uint8_t *mem; /* SF_BUFS buffers of SF_BUF bytes */
	unsigned pend[SF_BUFS]; /* per buffer: writes in flight */
	unsigned busy;		/* bit i: buffer i in use */
	unsigned inflight;
};

/* CRC-32C of n bytes at p continuing crc (0 to start). */
uint32_t vmm_crc32c(uint32_t crc, const void *p, size_t n);

/* All n bytes at p written to (write) or read from fd at off; 0, or
 * -errno (-EIO when the file ends first). */
int sf_io(bool write, int fd, void *p, size_t n, uint64_t off);

/* Set up w to write fd; 0 or -errno. */
int sf_writer_init(struct sf_writer *w, int fd);
/* A free buffer (waiting for a write if all are in flight), its index in
 * *idx; NULL with *err when a write failed. */
uint8_t *sf_writer_buf(struct sf_writer *w, unsigned *idx, int *err);
/* Queue a write of len bytes at byte at of buffer idx to file offset off
 * (the buffer stays busy until all its writes are done); 0 or -errno. */
int sf_writer_put(struct sf_writer *w, unsigned idx, size_t at, size_t len,
		  uint64_t off);
/* Buffer idx gets no more writes: submit them, or free it if it had none;
 * 0 or -errno. */
int sf_writer_done(struct sf_writer *w, unsigned idx);
/* Wait for every write and tear w down; 0 or the first -errno. */
int sf_writer_finish(struct sf_writer *w);

#endif
