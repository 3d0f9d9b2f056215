/*
 * hello: the first program Tine runs (the initramfs's /init is a copy).
 * One write(2) to fd 1, then exit status 7, so both the output and the
 * exit code show that the system call path works:
 *
 *	hello from user space
 *
 * As init, exiting makes the kernel panic with
 * "Attempted to kill init! exitcode=0x00000700".
 */
#include <unistd.h>

int main(void)
{
	static const char msg[] = "hello from user space\n";

	if (write(1, msg, sizeof msg - 1) != sizeof msg - 1)
		return 1;
	return 7;
}
