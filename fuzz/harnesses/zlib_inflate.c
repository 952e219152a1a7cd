/* Example libFuzzer harness over Debian's static zlib (libz.a): inflate a
 * raw deflate stream; a planted bug traps when the output starts with an
 * 8-byte magic, which comparison feedback finds through stored blocks. */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

static uint8_t out[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	z_stream zs;
	size_t got;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, -15) != Z_OK)
		return 0;
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)size;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	(void)inflate(&zs, Z_FINISH);
	got = sizeof(out) - zs.avail_out;
	inflateEnd(&zs);
	if (got >= 8 && memcmp(out, "cowvm-z!", 8) == 0)
		__builtin_trap(); /* the planted bug */
	return 0;
}
