/* Calls system calls that Linux does not implement (tuxcall and number
 * 500) and prints what they return: -1 with errno ENOSYS (38). */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Make one call and print its result and errno. */
static void enosys_call(const char *name, long nr)
{
	long r;

	errno = 0;
	r = syscall(nr, 1, 2, 3);
	printf("%s: %ld errno %d\n", name, r, errno);
}

/* Try both calls, then show the program goes on normally. */
int main(void)
{
	enosys_call("tuxcall", SYS_tuxcall);
	enosys_call("syscall 500", 500);
	printf("still running\n");
	return 0;
}
