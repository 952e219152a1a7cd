/* Port I/O dispatch: a table of handlers; other ports read all-ones and
 * ignore writes, like an empty ISA bus. */
#include <string.h>

#include "vmm.h"

/* Handle one access of size bytes at port; data is read or written. */
typedef int (*vmm_port_fn)(struct cowvm *vm, uint16_t port, bool out,
			   uint8_t *data, unsigned size, uint32_t count,
			   struct cowvm_exit *exit);

struct vmm_port_range {
	uint16_t base;
	uint16_t count;
	vmm_port_fn fn;
};

/* The 16550: byte accesses only; wider ones act on their low byte. */
static int io_serial(struct cowvm *vm, uint16_t port, bool out, uint8_t *data,
		     unsigned size, uint32_t count, struct cowvm_exit *exit)
{
	(void)exit;
	for (uint32_t i = 0; i < count; i++, data += size) {
		if (!out)
			memset(data, 0xff, size);
		vmm_serial_io(vm, port - COWVM_SERIAL_BASE, out, data);
	}
	return VMM_CONTINUE;
}

/* A hypercall: exactly one 32-bit out of the argument struct's gpa. */
static int io_hypercall(struct cowvm *vm, uint16_t port, bool out,
			uint8_t *data, unsigned size, uint32_t count,
			struct cowvm_exit *exit)
{
	unsigned nr = port - COWVM_HC_PORT_BASE;
	uint32_t gpa;

	if (!out || size != 4 || count != 1)
		return vmm_stop_error(exit,
				      "bad hypercall %u access: %s of %u x %u "
				      "bytes, expected one 32-bit out",
				      nr, out ? "out" : "in", count, size);
	memcpy(&gpa, data, sizeof(gpa));
	return vmm_hypercall(vm, nr, gpa, exit);
}

/* Unassigned ports: reads return all-ones, writes are ignored. */
static int io_none(struct cowvm *vm, uint16_t port, bool out, uint8_t *data,
		   unsigned size, uint32_t count, struct cowvm_exit *exit)
{
	(void)vm;
	(void)port;
	(void)exit;
	if (!out)
		memset(data, 0xff, (size_t)size * count);
	return VMM_CONTINUE;
}

static const struct vmm_port_range vmm_ports[] = {
	{COWVM_SERIAL_BASE, COWVM_SERIAL_PORTS, io_serial},
	{COWVM_HC_PORT_BASE, COWVM_HC_MAX, io_hypercall},
};

/* Dispatch a KVM_EXIT_IO to the handler owning its port. */
int vmm_io(struct cowvm *vm, struct cowvm_exit *exit)
{
	struct kvm_run *run = vm->vcpu.run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	size_t n = sizeof(vmm_ports) / sizeof(vmm_ports[0]);
	uint16_t port = run->io.port;

	if ((uint64_t)run->io.data_offset +
		    (uint64_t)run->io.size * run->io.count >
	    vm->vcpu.run_size)
		return vmm_stop_error(exit, "bad KVM I/O exit data");
	for (size_t i = 0; i < n; i++) {
		const struct vmm_port_range *r = &vmm_ports[i];

		if (port >= r->base && port - r->base < r->count)
			return r->fn(vm, port, out, data, run->io.size,
				     run->io.count, exit);
	}
	return io_none(vm, port, out, data, run->io.size, run->io.count, exit);
}
