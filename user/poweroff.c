/*
 * poweroff: what `poweroff -f` does: reboot(RB_POWER_OFF). First a bad
 * magic number must be refused with EINVAL.
 */
#include "tine_test.h"

#include <errno.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	errno = 0;
	CHECK_EQ("reboot.bad_magic", (long)syscall(SYS_reboot, 1, 2, RB_POWER_OFF, 0), -1L);
	CHECK_EQ("reboot.bad_magic_errno", errno, EINVAL);
	tine_done();
	reboot(RB_POWER_OFF);
	return 1; /* not reached */
}
