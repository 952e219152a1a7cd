/* A 16550 UART that transmits instantly: THR bytes go to the console, LSR
 * always reports an empty transmitter, other registers are latched. */
#include "vmm.h"

#define UART_RBR_THR   0
#define UART_IER       1
#define UART_IIR_FCR   2
#define UART_LCR       3
#define UART_MCR       4
#define UART_LSR       5
#define UART_MSR       6
#define UART_SCR       7
#define UART_LCR_DLAB  0x80
#define UART_LSR_EMPTY 0x60 /* THRE | TEMT */
#define UART_IIR_NONE  0x01

/* Read register reg. */
static uint8_t serial_read(struct vmm_serial *s, unsigned reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		return dlab ? s->dll : 0;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR:
		return UART_IIR_NONE;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return UART_LSR_EMPTY;
	case UART_MSR:
		return s->msr;
	default:
		return s->scr;
	}
}

/* Write val to register reg. */
static void serial_write(struct cowvm *vm, unsigned reg, uint8_t val)
{
	struct vmm_serial *s = &vm->serial;
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			s->dll = val;
		else
			vmm_console_write(vm, &val, 1);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = val;
		else
			s->ier = val;
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		s->mcr = val;
		break;
	case UART_MSR:
		s->msr = val;
		break;
	case UART_SCR:
		s->scr = val;
		break;
	default: /* FCR, LSR: nothing to keep */
		break;
	}
}

/* Read or write 16550 register reg; always 0. */
int vmm_serial_io(struct cowvm *vm, unsigned reg, bool out, uint8_t *val)
{
	if (out)
		serial_write(vm, reg, *val);
	else
		*val = serial_read(&vm->serial, reg);
	return 0;
}
