/* Calls fork() and prints the outcome: "fork: -1 errno N" and status 0
 * where processes cannot fork, "fork: ok" and status 1 where they can. */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* Fork once; the child exits at once and the parent reaps it. */
int main(void)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		printf("fork: -1 errno %d\n", errno);
		printf("still running\n");
		return 0;
	}
	waitpid(pid, &st, 0);
	printf("fork: ok\n");
	return 1;
}
