/* Fixed addresses shared by the probe guest (probe.S) and test_probe.c. */
#ifndef PROBE_H
#define PROBE_H

#define PROBE_OUT	0x300000 /* results, 8-byte slots */
#define PROBE_ARG	0x301000 /* hypercall argument struct */
#define PROBE_BUF	0x302000 /* CMDLINE buffer */
#define PROBE_BUF_SIZE	64
#define PROBE_STACK	0x380000
#define PROBE_TAG	0x5eed	   /* SNAPSHOT tag */
#define PROBE_MMIO_ADDR 0xd0000000 /* in the hole below 4 GiB */
#define PROBE_BAD_GPA	0x7ff000000000

#endif
