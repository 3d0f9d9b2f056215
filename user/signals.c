/*
 * signals: kill(2) with default actions, SIGCHLD to the parent, and a
 * parent that ignores SIGCHLD. Checked the same way on Linux and Tine.
 */
#include "tine_test.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct timespec t = { 30, 0 };
		nanosleep(&t, 0);
		_exit(0);
	}
	return pid;
}

static pid_t spinner(void)
{
	pid_t pid = fork();

	if (pid == 0)
		for (;;)
			;
	return pid;
}

int main(void)
{
	int status = 0;
	struct timespec short_nap = { 0, 50 * 1000 * 1000 };

	/* SIGKILL ends a sleeping child; the parent sees WTERMSIG 9. */
	pid_t c = sleeper();
	REQUIRE("kill.fork", c > 0);
	nanosleep(&short_nap, 0);
	CHECK_EQ("kill.exists", kill(c, 0), 0);
	CHECK_EQ("kill.sigkill", kill(c, SIGKILL), 0);
	CHECK_EQ("kill.wait_pid", (long)waitpid(c, &status, 0), (long)c);
	CHECK("kill.signaled", WIFSIGNALED(status));
	CHECK_EQ("kill.termsig_9", WTERMSIG(status), SIGKILL);

	/* SIGTERM's default action ends a running (spinning) child. */
	c = spinner();
	nanosleep(&short_nap, 0);
	CHECK_EQ("term.kill", kill(c, SIGTERM), 0);
	CHECK_EQ("term.wait_pid", (long)waitpid(c, &status, 0), (long)c);
	CHECK("term.signaled", WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

	/* A blocked SIGTERM does not kill; SIGKILL cannot be blocked. */
	c = fork();
	if (c == 0) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGTERM);
		sigaddset(&s, SIGKILL);
		sigprocmask(SIG_BLOCK, &s, 0);
		for (;;)
			;
	}
	nanosleep(&short_nap, 0);
	kill(c, SIGTERM);
	nanosleep(&short_nap, 0);
	CHECK_EQ("mask.term_blocked", (long)waitpid(c, &status, WNOHANG), 0L);
	kill(c, SIGKILL);
	CHECK_EQ("mask.kill_unblockable", (long)waitpid(c, &status, 0), (long)c);
	CHECK("mask.killed_by_9", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* Default-ignored SIGCHLD does nothing; normal exit status. */
	c = fork();
	if (c == 0)
		_exit(3);
	CHECK_EQ("exit.wait", (long)waitpid(c, &status, 0), (long)c);
	CHECK("exit.status_3", WIFEXITED(status) && WEXITSTATUS(status) == 3);

	/* Errors. */
	errno = 0;
	CHECK_EQ("kill.esrch", kill(99999, 0), -1);
	CHECK_EQ("kill.esrch_errno", errno, ESRCH);
	errno = 0;
	CHECK_EQ("kill.einval", kill(getpid(), 1000), -1);
	CHECK_EQ("kill.einval_errno", errno, EINVAL);
	struct sigaction sa = { 0 };
	sa.sa_handler = SIG_IGN;
	errno = 0;
	CHECK_EQ("sigaction.kill_einval", sigaction(SIGKILL, &sa, 0), -1);
	CHECK_EQ("sigaction.kill_errno", errno, EINVAL);

	/* A parent that ignores SIGCHLD has its children reaped for it. */
	CHECK_EQ("ignore.sigaction", sigaction(SIGCHLD, &sa, 0), 0);
	struct sigaction old;
	CHECK_EQ("ignore.read_back", sigaction(SIGCHLD, 0, &old), 0);
	CHECK("ignore.is_ign", old.sa_handler == SIG_IGN);
	c = fork();
	if (c == 0)
		_exit(0);
	nanosleep(&short_nap, 0);
	errno = 0;
	CHECK_EQ("ignore.autoreaped", (long)waitpid(c, &status, 0), -1L);
	CHECK_EQ("ignore.echild", errno, ECHILD);
	/* ... and a waitpid already asleep when that happens returns ECHILD. */
	c = fork();
	if (c == 0) {
		nanosleep(&short_nap, 0);
		_exit(0);
	}
	errno = 0;
	CHECK_EQ("ignore.blocked_wait_echild", (long)waitpid(-1, &status, 0), -1L);
	CHECK_EQ("ignore.blocked_wait_errno", errno, ECHILD);
	return tine_done();
}
