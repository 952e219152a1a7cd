/* The cowvm guest's ring-3 entry: FPU setup, cowvm detection, command-line
 * parsing and workload dispatch. */
#include "workloads.h"

#define MAX_ARGS 16

struct workload {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct workload workloads[] = {
	{"selftest", guest_selftest}, {"memtest", guest_memtest},
	{"fault", guest_fault},	      {"spin", guest_spin},
	{"exit", guest_exit_cmd},     {"hypercalls", guest_hypercalls},
	{"badcall", guest_badcall},   {"serial", guest_serial},
	{"forktest", guest_forktest}, {"serve", guest_serve},
	{"r0swap", guest_r0swap},     {"genid", guest_genid},
};

static char cmdline[COWVM_CMDLINE_MAX];

/* Split s in place into at most max space-separated words; returns the
 * number of words. */
static int split(char *s, char **argv, int max)
{
	int argc = 0;

	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			*s++ = 0;
		if (!*s)
			break;
		if (argc == max)
			break;
		argv[argc++] = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n')
			s++;
	}
	return argc;
}

/* Ring-3 entry from guest_common64 with the start info: initialize x87 and
 * SSE control state, detect cowvm, run the workload named by the first word
 * of the command line and exit with its status. Never returns. */
__attribute__((noreturn)) void guest_main(const struct cowvm_start_info *si);
void guest_main(const struct cowvm_start_info *si)
{
	struct cowvm_hc_info info = {0, 0, 0};
	static char *argv[MAX_ARGS + 1];
	uint32_t mxcsr = 0x1f80;
	const char *src = "";
	size_t len;
	int argc;

	__asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
	guest_start = si;
	guest_hc(COWVM_HC_INFO, &info);
	guest_cowvm = info.magic == COWVM_ABI_MAGIC;
	if (si && si->cmdline_paddr)
		src = (const char *)(uintptr_t)si->cmdline_paddr;
	len = strlen(src);
	if (len >= sizeof(cmdline))
		len = sizeof(cmdline) - 1;
	memcpy(cmdline, src, len);
	cmdline[len] = 0;
	argc = split(cmdline, argv, MAX_ARGS);
	argv[argc] = NULL;
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (argc && !strcmp(argv[0], workloads[i].name))
			guest_exit((unsigned)workloads[i].run(argc, argv));
	guest_printf("guest: unknown workload '%s'\n", argc ? argv[0] : "");
	guest_exit(2);
}
