/*
 * zombie [SECONDS]: makes a zombie and keeps it unreaped for SECONDS
 * (default 5), printing the pids so that it can be looked at meanwhile
 * (`ps` shows it as Z once there is a procfs):
 *
 *	zombie: parent 40 has a zombie child 41 for 5 s
 *
 * The child exits at once with status 7. Until the parent waits, the child
 * stays a zombie: waitid(WNOWAIT) sees it exited, its pid still exists
 * (kill(pid, 0) succeeds) and a second WNOWAIT look sees it again; then
 * wait4 reaps it (status 7) and the pid is gone (ESRCH). Each fact is a
 * tine_test.h check, so this runs as a test too, on Tine and Linux.
 */
#include "tine_test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 5;
	siginfo_t si;
	int status = 0;
	pid_t child;

	child = fork();
	if (child == 0)
		_exit(7);
	REQUIRE("zombie.fork", child > 0);

	/* Wait (without reaping) until the child has exited. */
	memset(&si, 0, sizeof si);
	CHECK_EQ("zombie.waitid_nowait", waitid(P_PID, child, &si, WEXITED | WNOWAIT), 0);
	CHECK_EQ("zombie.waitid_pid", si.si_pid, child);
	CHECK_EQ("zombie.waitid_code", si.si_code, CLD_EXITED);
	CHECK_EQ("zombie.waitid_status", si.si_status, 7);

	printf("zombie: parent %d has a zombie child %d for %d s\n", getpid(), child, seconds);
	fflush(stdout);
	sleep(seconds);

	/* Still there: a zombie keeps its pid until it is reaped. */
	CHECK_EQ("zombie.still_exists", kill(child, 0), 0);
	memset(&si, 0, sizeof si);
	CHECK_EQ("zombie.still_waitable", waitid(P_PID, child, &si, WEXITED | WNOWAIT | WNOHANG), 0);
	CHECK_EQ("zombie.still_waitable_pid", si.si_pid, child);

	CHECK_EQ("zombie.reaped", wait4(child, &status, 0, NULL), child);
	CHECK("zombie.exit_status", WIFEXITED(status) && WEXITSTATUS(status) == 7);
	errno = 0;
	CHECK_EQ("zombie.gone", kill(child, 0), -1);
	CHECK_EQ("zombie.gone_errno", errno, ESRCH);
	printf("zombie: reaped %d\n", child);
	fflush(stdout);
	return tine_done();
}
