/* Ends in the way argv[1] names: "segv" (a NULL write, no handler),
 * "abort", "kill" (SIGKILL to itself), "spin" (forever) or "exit N". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Do what argv[1] says; 2 on a usage error. */
int main(int argc, char **argv)
{
	volatile unsigned long spin = 0;
	volatile int *null = NULL;

	if (argc < 2)
		return 2;
	printf("ending: %s\n", argv[1]);
	fflush(stdout);
	if (!strcmp(argv[1], "segv"))
		*null = 1;
	else if (!strcmp(argv[1], "abort"))
		abort();
	else if (!strcmp(argv[1], "kill"))
		kill(getpid(), SIGKILL);
	else if (!strcmp(argv[1], "spin"))
		for (;;)
			spin++;
	else if (!strcmp(argv[1], "exit") && argc > 2)
		return atoi(argv[2]);
	return 2;
}
