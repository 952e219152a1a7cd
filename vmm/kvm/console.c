/* The guest console: bytes from the serial port and PUTS to console_fd. */
#include <errno.h>
#include <unistd.h>

#include "vmm.h"

/* Write all of buf to console_fd; output is dropped if the fd fails. */
void vmm_console_write(struct cowvm *vm, const void *buf, size_t len)
{
	const char *p = buf;

	if (vm->cfg.console_fd < 0)
		return;
	while (len) {
		ssize_t n = write(vm->cfg.console_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* console gone: the guest's output is lost */
		p += n;
		len -= (size_t)n;
	}
}
