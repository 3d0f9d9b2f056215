/*
 * sysfuzz: random system calls with hostile arguments, to show that bad
 * input never brings the kernel down (EFAULT, EINVAL, ENOSYS, or a signal
 * that kills the calling process, never an oops or a panic).
 *
 * Runs as init. For each of SEEDS seeds it forks a child that closes its standard
 * descriptors (they become /dev/null) and makes CALLS raw system calls,
 * each with a random number below 460 and six arguments drawn from: 0,
 * small numbers, -1, random 64-bit values, pointers into a valid buffer,
 * pointers that run into a PROT_NONE page, kernel and non-canonical
 * addresses, and a path in /tmp. A child that blocks is killed after
 * DEADLINE_MS; one that dies of a signal (a bad rt_sigreturn frame, its
 * own text unmapped) is fine. The parent then checks it can still fork,
 * and the scenario rejects any BUG, oops or warning in the kernel log.
 *
 * Left out, because they would end or flood the test rather than probe
 * the kernel: exit/exit_group, fork/vfork/clone/clone3 (a fork bomb),
 * kill/tkill/tgkill (could hit the parent), reboot, pause, and the
 * real-time scheduling calls (a SCHED_FIFO spinner could starve init).
 */
#include "tine_test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEEDS 200
#define CALLS 2000
#define DEADLINE_MS 300
#define NR_MAX 460

static const int skip[] = {
	60, 231,		/* exit, exit_group */
	56, 57, 58, 435,	/* clone, fork, vfork, clone3 */
	62, 200, 234,		/* kill, tkill, tgkill */
	169, 34,		/* reboot, pause */
	144, 203, 314,		/* sched_setscheduler, sched_setaffinity, sched_setattr */
};

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char *buf;	/* two RW pages, then one PROT_NONE page */
static volatile long *calls_made;	/* shared with the parent */

static long arg(void)
{
	uint64_t r = next();

	switch (r % 10) {
	case 0: return 0;
	case 1: return (long)(r >> 8) % 64;
	case 2: return -1;
	case 3: return (long)next();
	case 4: return (long)(buf + (r >> 8) % 8192);
	case 5: return (long)(buf + 8192 - (r >> 8) % 64);
	case 6: return (long)(0xffff888000000000UL + ((r >> 8) & 0xffffff8));
	case 7: return (long)(0x0000800000000000UL + ((r >> 8) & 0xffff));
	case 8: return (long)"/tmp/fz";
	default: return (long)buf;
	}
}

static long raw_syscall(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static int skipped(long nr)
{
	for (unsigned i = 0; i < sizeof skip / sizeof skip[0]; i++)
		if (skip[i] == nr)
			return 1;
	return 0;
}

static void child(int seed)
{
	int null = open("/dev/null", O_RDWR);

	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd);
	rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(seed + 1);
	buf = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(2);
	mprotect(buf + 8192, 4096, PROT_NONE);
	for (int i = 0; i < 8192; i++)
		buf[i] = (char)next();
	for (int i = 0; i < CALLS; i++) {
		long nr = (long)(next() % NR_MAX);
		long a = arg(), b = arg(), c = arg(), d = arg(), e = arg(), f = arg();

		if (!skipped(nr)) {
			raw_syscall(nr, a, b, c, d, e, f);
			(*calls_made)++;
		}
	}
	_exit(0);
}

/* Wait for `pid` at most DEADLINE_MS, then SIGKILL it; its wait status. */
static int reap(pid_t pid, int *timed_out)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int status = 0;

	for (int ms = 0; ms < DEADLINE_MS; ms += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		nanosleep(&tick, 0);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	(*timed_out)++;
	return status;
}

int main(int argc, char **argv)
{
	/* A first seed other than 0 (`-- N` on the kernel command line) tries
	 * other calls; the test uses 0, so its calls are the same every run. */
	int base = argc > 1 ? atoi(argv[1]) : 0;
	int exited = 0, signaled = 0, timed_out = 0, lost = 0;

	calls_made = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE("sysfuzz.shared_counter", calls_made != MAP_FAILED);

	for (int seed = 0; seed < SEEDS; seed++) {
		pid_t pid = fork();

		if (pid == 0)
			child(base + seed);
		if (pid < 0) {
			lost++;
			continue;
		}
		int status = reap(pid, &timed_out);

		if (WIFEXITED(status))
			exited++;
		else if (WIFSIGNALED(status))
			signaled++;
	}
	tine_puts("sysfuzz: ");
	tine_putnum(SEEDS);
	tine_puts(" children of ");
	tine_putnum(CALLS);
	tine_puts(" calls: ");
	tine_putnum(*calls_made);
	tine_puts(" made; ");
	tine_putnum(exited);
	tine_puts(" finished, ");
	tine_putnum(signaled - timed_out);
	tine_puts(" died of a signal, ");
	tine_putnum(timed_out);
	tine_puts(" blocked and were killed\n");
	CHECK_EQ("sysfuzz.every_fork_worked", lost, 0);
	CHECK_EQ("sysfuzz.every_child_ended", exited + signaled, SEEDS);
	/* The kernel is still whole: a new process runs and exits normally. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	int status = 0;
	CHECK("sysfuzz.fork_after", pid > 0 && waitpid(pid, &status, 0) == pid &&
	      WIFEXITED(status) && WEXITSTATUS(status) == 7);
	return tine_done();
}
