/*
 * init_exit0: prints one line and exits with status 0. As init this makes
 * the kernel panic with "Attempted to kill init! exitcode=0x00000000".
 */
#include <unistd.h>

int main(void)
{
	static const char msg[] = "init_exit0: exiting with status 0\n";

	if (write(1, msg, sizeof msg - 1) != sizeof msg - 1)
		return 1;
	return 0;
}
