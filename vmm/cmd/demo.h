/* The `cowvm demo` subcommand of the cowvm command. */
#ifndef VMM_DEMO_H
#define VMM_DEMO_H

/* cowvm demo [GUEST.elf]: print fork latency and memory per clone for a
 * few guest sizes; the process exit status (0 or 1). */
int demo_main(int argc, char **argv);

#endif
