/*
 * daemon [-s] [SECONDS]: makes a daemon the classic way and checks it.
 *
 * The parent P forks C; C forks the daemon D and exits at once (P reaps
 * it), so D is an orphan: it is reparented to init, or with -s to P, which
 * first makes itself a child subreaper (PR_SET_CHILD_SUBREAPER). D then
 * calls setsid(): a new session and process group whose id is its pid, and
 * no controlling terminal (opening /dev/tty fails). D reports what it sees
 * through a pipe (P prints the checks, so the lines are not interleaved),
 * lives SECONDS (default 0) more, and exits; if P is its reaper (P is init
 * or used -s), P reaps it.
 *
 *	daemon: parent 40, intermediate 41 (exited), daemon 42: ppid 1 sid 42 pgid 42
 *
 * As init (pid 1, on Tine and Linux) the reaper is P itself.
 */
#include "tine_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct facts {
	pid_t pid, ppid, sid, pgid, setsid_ret;
	int tty_fd, tty_errno, setsid_again_errno;
};

int main(int argc, char **argv)
{
	int subreaper = argc > 1 && strcmp(argv[1], "-s") == 0;
	int seconds = argc > 1 + subreaper ? atoi(argv[1 + subreaper]) : 0;
	pid_t me = getpid(), mid, got;
	pid_t reaper = (subreaper || me == 1) ? me : 1;
	struct facts f;
	int fds[2], status = -1;

	if (subreaper)
		CHECK_EQ("daemon.subreaper", prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	REQUIRE("daemon.pipe", pipe(fds) == 0);
	mid = fork();
	if (mid == 0) {
		pid_t self = getpid(), d = fork();

		if (d != 0)
			_exit(d > 0 ? 0 : 1); /* the intermediate: gone at once */
		/* The daemon: wait until the intermediate has exited. */
		close(fds[0]);
		memset(&f, 0, sizeof f);
		while (getppid() == self)
			usleep(1000);
		f.pid = getpid();
		f.ppid = getppid();
		f.setsid_ret = setsid();
		f.sid = getsid(0);
		f.pgid = getpgrp();
		errno = 0;
		f.setsid_again_errno = setsid() == -1 ? errno : 0;
		errno = 0;
		f.tty_fd = open("/dev/tty", O_RDWR);
		f.tty_errno = errno;
		if (write(fds[1], &f, sizeof f) != sizeof f)
			_exit(2);
		close(fds[1]);
		sleep(seconds);
		_exit(0);
	}
	REQUIRE("daemon.fork", mid > 0);
	close(fds[1]);
	CHECK_EQ("daemon.intermediate_reaped", waitpid(mid, &status, 0), mid);
	CHECK("daemon.intermediate_exit0", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	memset(&f, 0, sizeof f);
	REQUIRE("daemon.report", read(fds[0], &f, sizeof f) == sizeof f);
	printf("daemon: parent %d, intermediate %d (exited), daemon %d: ppid %d sid %d pgid %d\n",
	       me, mid, f.pid, f.ppid, f.sid, f.pgid);
	fflush(stdout);
	CHECK_EQ("daemon.reparented", f.ppid, reaper);
	CHECK_EQ("daemon.setsid", f.setsid_ret, f.pid);
	CHECK_EQ("daemon.sid_is_pid", f.sid, f.pid);
	CHECK_EQ("daemon.pgid_is_pid", f.pgid, f.pid);
	CHECK_EQ("daemon.setsid_again_eperm", f.setsid_again_errno, EPERM);
	CHECK_EQ("daemon.no_ctty", f.tty_fd, -1);
	CHECK_EQ("daemon.no_ctty_enxio", f.tty_errno, ENXIO);
	CHECK("daemon.other_session", getsid(0) != f.sid);
	if (reaper == me) {
		status = -1;
		CHECK_EQ("daemon.reaped_by_reaper", waitpid(f.pid, &status, 0), f.pid);
		CHECK("daemon.exit0", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	got = waitpid(-1, NULL, WNOHANG);
	CHECK_EQ("daemon.no_more_children", got, -1);
	return tine_done();
}
