/* The smallest program of the linux tests: prints one line and exits 0. */
#include <stdio.h>

/* Print "hello" and the arguments. */
int main(int argc, char **argv)
{
	printf("hello");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	return 0;
}
