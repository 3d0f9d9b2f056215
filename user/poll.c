/*
 * poll: poll(2), ppoll(2), select(2) and pselect(2) on pipes and files,
 * checked the same way on Linux and Tine: readiness bits (POLLIN, POLLOUT,
 * POLLHUP, POLLERR, POLLNVAL), timeouts that last, a sleeper woken by
 * another process's write, ppoll's signal mask, and select's sets.
 */
#define _GNU_SOURCE
#include "tine_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static volatile int got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void polls(void)
{
	int p[2];
	struct pollfd fds[3];

	REQUIRE("pipe", pipe(p) == 0);
	fds[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = p[1], .events = POLLOUT };
	CHECK_EQ("poll.write_end_ready", (long)poll(fds, 2, 0), 1L);
	CHECK("poll.revents", fds[0].revents == 0 && fds[1].revents == POLLOUT);

	long long t0 = now_ms();
	CHECK_EQ("poll.timeout", (long)poll(fds, 1, 60), 0L);
	CHECK("poll.timeout_lasts", now_ms() - t0 >= 55);

	write(p[1], "x", 1);
	CHECK("poll.pollin", poll(fds, 1, 0) == 1 && fds[0].revents == POLLIN);

	fds[0] = (struct pollfd){ .fd = 999, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = -1, .events = POLLIN };
	CHECK("poll.nval_and_negative", poll(fds, 2, 0) == 1 && fds[0].revents == POLLNVAL && fds[1].revents == 0);

	/* A sleeper woken by a write from another process. */
	char c;
	read(p[0], &c, 1);
	pid_t k = fork();
	if (k == 0) {
		usleep(50000);
		write(p[1], "y", 1);
		_exit(0);
	}
	fds[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
	t0 = now_ms();
	CHECK("poll.woken_by_writer", poll(fds, 1, 5000) == 1 && fds[0].revents == POLLIN);
	CHECK("poll.woke_in_time", now_ms() - t0 < 4000);
	waitpid(k, 0, 0);
	read(p[0], &c, 1);

	/* The other end closed. */
	close(p[1]);
	CHECK("poll.pollhup", poll(fds, 1, 0) == 1 && (fds[0].revents & POLLHUP));
	close(p[0]);
	pipe(p);
	close(p[0]);
	fds[0] = (struct pollfd){ .fd = p[1], .events = POLLOUT };
	CHECK("poll.pollerr", poll(fds, 1, 0) == 1 && (fds[0].revents & POLLERR));
	close(p[1]);

	int f = open("/tmp/poll_file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	fds[0] = (struct pollfd){ .fd = f, .events = POLLIN | POLLOUT };
	CHECK("poll.regular_file", poll(fds, 1, 0) == 1 && fds[0].revents == (POLLIN | POLLOUT));
	close(f);
	unlink("/tmp/poll_file");
	CHECK("poll.efault", poll((struct pollfd *)8, 1, 0) == -1 && errno == EFAULT);
}

static void ppolls(void)
{
	int p[2];
	sigset_t block, empty;
	struct pollfd fd;

	pipe(p);
	signal(SIGUSR1, on_usr1);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, 0);
	pid_t parent = getpid();
	pid_t k = fork();
	if (k == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	fd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	sigemptyset(&empty);
	got_usr1 = 0;
	int r = ppoll(&fd, 1, 0, &empty);
	CHECK("ppoll.eintr", r == -1 && errno == EINTR && got_usr1 == 1);
	sigset_t now;
	sigprocmask(SIG_BLOCK, 0, &now);
	CHECK("ppoll.mask_back", sigismember(&now, SIGUSR1));
	waitpid(k, 0, 0);
	struct timespec ts = { 0, 30000000 };
	CHECK_EQ("ppoll.timeout", (long)ppoll(&fd, 1, &ts, 0), 0L);
	sigprocmask(SIG_UNBLOCK, &block, 0);
	signal(SIGUSR1, SIG_DFL);
	close(p[0]);
	close(p[1]);
}

static void selects(void)
{
	int p[2];
	fd_set r, w;
	struct timeval tv;

	pipe(p);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv = (struct timeval){ 0, 0 };
	CHECK_EQ("select.nothing", (long)select(p[0] + 1, &r, 0, 0, &tv), 0L);
	CHECK("select.cleared", !FD_ISSET(p[0], &r));

	write(p[1], "z", 1);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	tv = (struct timeval){ 1, 0 };
	int n = select(p[1] + 1, &r, &w, 0, &tv);
	CHECK("select.both_ready", n == 2 && FD_ISSET(p[0], &r) && FD_ISSET(p[1], &w));

	FD_ZERO(&r);
	FD_SET(p[1] + 5, &r);
	tv = (struct timeval){ 0, 0 };
	CHECK("select.ebadf", select(p[1] + 6, &r, 0, 0, &tv) == -1 && errno == EBADF);

	char c;
	read(p[0], &c, 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	long long t0 = now_ms();
	tv = (struct timeval){ 0, 40000 };
	CHECK_EQ("select.timeout", (long)select(p[0] + 1, &r, 0, 0, &tv), 0L);
	CHECK("select.timeout_lasts", now_ms() - t0 >= 35);

	struct timespec ts = { 0, 0 };
	FD_ZERO(&w);
	FD_SET(p[1], &w);
	CHECK_EQ("pselect.ready", (long)pselect(p[1] + 1, 0, &w, 0, &ts, 0), 1L);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	polls();
	ppolls();
	selects();
	return tine_done();
}
