/* A zlib filter for the linux tests: `zpipe c` deflates stdin to stdout,
 * `zpipe d` inflates it, through 16 KiB buffers. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#define ZP_CHUNK 16384

static unsigned char zp_in[ZP_CHUNK], zp_out[ZP_CHUNK];

/* Write all of buf[0, len) to stdout; 0 or -1. */
static int zp_write(const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(1, buf, len);

		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Drain the stream's output after one deflate or inflate step with flush;
 * returns the last zlib status or Z_ERRNO when stdout fails. */
static int zp_step(z_stream *zs, int compress, int flush)
{
	int ret;

	do {
		zs->next_out = zp_out;
		zs->avail_out = ZP_CHUNK;
		ret = compress ? deflate(zs, flush) : inflate(zs, flush);
		if (ret == Z_STREAM_ERROR || ret == Z_NEED_DICT ||
		    ret == Z_DATA_ERROR || ret == Z_MEM_ERROR)
			return ret;
		if (zp_write(zp_out, ZP_CHUNK - zs->avail_out))
			return Z_ERRNO;
	} while (zs->avail_out == 0);
	return ret;
}

/* Filter stdin to stdout; 0 on success, else the failing zlib status. */
static int zp_run(int compress)
{
	int ret = Z_OK, flush = Z_NO_FLUSH;
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	ret = compress ? deflateInit(&zs, Z_DEFAULT_COMPRESSION)
		       : inflateInit(&zs);
	if (ret != Z_OK)
		return ret;
	while (ret != Z_STREAM_END && flush != Z_FINISH) {
		ssize_t n = read(0, zp_in, ZP_CHUNK);

		if (n < 0) {
			ret = Z_ERRNO;
			break;
		}
		if (n == 0)
			flush = Z_FINISH;
		zs.next_in = zp_in;
		zs.avail_in = (unsigned)n;
		do {
			ret = zp_step(&zs, compress,
				      compress ? flush : Z_NO_FLUSH);
		} while (ret == Z_OK && zs.avail_in);
		if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
			break;
	}
	if (compress)
		deflateEnd(&zs);
	else
		inflateEnd(&zs);
	if (ret == Z_STREAM_END)
		return 0;
	return ret == Z_OK || ret == Z_BUF_ERROR ? Z_DATA_ERROR : ret;
}

/* Parse the mode and filter; 0, 1 on a zlib failure, 2 on usage errors. */
int main(int argc, char **argv)
{
	int ret;

	if (argc != 2 || (strcmp(argv[1], "c") && strcmp(argv[1], "d"))) {
		fprintf(stderr, "usage: zpipe c|d <in >out\n");
		return 2;
	}
	ret = zp_run(argv[1][0] == 'c');
	if (ret) {
		fprintf(stderr, "zpipe: zlib error %d\n", ret);
		return 1;
	}
	return 0;
}
