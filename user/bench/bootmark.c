/*
 * bootmark: the /init of the initramfs that `cargo xtask bench` boots Linux
 * with. It marks the moment user space is reached on the console and powers
 * the machine off right away, so the benchmark measures kernel boot time only.
 *
 * Built by xtask with: musl-gcc -static -O2 -o bootmark bootmark.c
 */
#include <fcntl.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	static const char msg[] = "bootmark: init reached\n";
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY);

	if (fd >= 0 && write(fd, msg, sizeof msg - 1) < 0) {
		/* Nothing to report to: the console is the only output. */
	}
	reboot(RB_POWER_OFF);
	/* Only reached if reboot() failed: exiting init makes the kernel
	 * panic, and panic=-1 resets the machine. */
	return 1;
}
