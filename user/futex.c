/*
 * futex: futex(2) through the raw system call, checked the same way on
 * Linux and Tine. Errors (EAGAIN, EFAULT, EINVAL, ENOSYS), relative and
 * absolute timeouts, wake counts, bitsets, requeue, wake-op, a signal
 * interrupting a wait, private keys not meeting across processes, shared
 * keys meeting through MAP_SHARED anonymous memory across fork and through
 * one file mapped at different addresses, and the robust list calls.
 *
 * To know that a child is asleep on a futex before waking it, the parent
 * counts the waiters with FUTEX_REQUEUE from the word to itself (wake 0,
 * move up to INT_MAX): the count of tasks moved is the number waiting.
 */
#define _GNU_SOURCE
#include "tine_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096L

/* From <linux/futex.h>, which musl-gcc may not see. */
#define FUTEX_WAIT		0
#define FUTEX_WAKE		1
#define FUTEX_REQUEUE		3
#define FUTEX_CMP_REQUEUE	4
#define FUTEX_WAKE_OP		5
#define FUTEX_WAIT_BITSET	9
#define FUTEX_WAKE_BITSET	10
#define FUTEX_PRIVATE_FLAG	128
#define FUTEX_CLOCK_REALTIME	256
#define FUTEX_WAIT_PRIVATE	(FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE	(FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_REQUEUE_PRIVATE	(FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_OP_PRIVATE	(FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_BITSET_PRIVATE (FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY	0xffffffffu
#define FUTEX_OP_SET		0
#define FUTEX_OP_ADD		1
#define FUTEX_OP_OR		2
#define FUTEX_OP_ANDN		3
#define FUTEX_OP_XOR		4
#define FUTEX_OP_OPARG_SHIFT	8
#define FUTEX_OP_CMP_EQ		0
#define FUTEX_OP(op, oparg, cmp, cmparg) \
	((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

static long futex(void *uaddr, int op, unsigned val, const void *ts_or_val2, void *uaddr2, unsigned val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts_or_val2, uaddr2, val3);
}

/* The result of a call as 0/positive, or -errno. */
static long res(long r)
{
	return r < 0 ? -errno : r;
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&t, 0);
}

/* How many tasks wait on uaddr (see the header comment). */
static long waiters(void *uaddr, int priv)
{
	return futex(uaddr, FUTEX_REQUEUE | priv, 0, (void *)(long)INT_MAX, uaddr, 0);
}

/* Wait up to 5 s for n waiters on uaddr. */
static int wait_for_waiters(void *uaddr, int priv, long n)
{
	for (int i = 0; i < 5000; i++) {
		if (waiters(uaddr, priv) >= n)
			return 1;
		sleep_ms(1);
	}
	return 0;
}

/* The exit status of child c, or -1. */
static int child_status(pid_t c)
{
	int status;

	if (waitpid(c, &status, 0) != c || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_errors(void)
{
	static int w = 1;
	struct timespec ts = { 0, 1000000000 };

	errno = 0;
	CHECK_EQ("wait.value_mismatch_eagain", res(futex(&w, FUTEX_WAIT_PRIVATE, 2, 0, 0, 0)), -EAGAIN);
	CHECK_EQ("wait.shared_value_mismatch_eagain", res(futex(&w, FUTEX_WAIT, 2, 0, 0, 0)), -EAGAIN);
	CHECK_EQ("wait.unaligned_einval", res(futex((char *)&w + 1, FUTEX_WAIT_PRIVATE, 1, 0, 0, 0)), -EINVAL);
	CHECK_EQ("wake.unaligned_einval", res(futex((char *)&w + 2, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0)), -EINVAL);
	CHECK_EQ("wait.unmapped_efault", res(futex((void *)0x1000, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0)), -EFAULT);
	CHECK_EQ("wait.kernel_addr_efault", res(futex((void *)0xffffffff80000000UL, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0)), -EFAULT);
	CHECK_EQ("wait.shared_unmapped_efault", res(futex((void *)0x1000, FUTEX_WAIT, 0, 0, 0, 0)), -EFAULT);
	CHECK_EQ("wait.bad_timespec_efault", res(futex(&w, FUTEX_WAIT_PRIVATE, 1, (void *)0x1000, 0, 0)), -EFAULT);
	CHECK_EQ("wait.bad_nsec_einval", res(futex(&w, FUTEX_WAIT_PRIVATE, 1, &ts, 0, 0)), -EINVAL);
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	CHECK_EQ("wait.negative_einval", res(futex(&w, FUTEX_WAIT_PRIVATE, 1, &ts, 0, 0)), -EINVAL);
	CHECK_EQ("wait_bitset.zero_bitset_einval", res(futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 1, 0, 0, 0)), -EINVAL);
	CHECK_EQ("wake_bitset.zero_bitset_einval", res(futex(&w, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, 0, 0)), -EINVAL);
	CHECK_EQ("op.bogus_enosys", res(futex(&w, 99, 1, 0, 0, 0)), -ENOSYS);
	CHECK_EQ("op.clock_realtime_wake_enosys", res(futex(&w, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, 0, 0, 0)), -ENOSYS);
	CHECK_EQ("wake.no_waiters_0", res(futex(&w, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0)), 0);
	CHECK_EQ("wake.shared_no_waiters_0", res(futex(&w, FUTEX_WAKE, INT_MAX, 0, 0, 0)), 0);
	CHECK_EQ("requeue.negative_einval", res(futex(&w, FUTEX_REQUEUE_PRIVATE, 0, (void *)(long)-1, &w, 0)), -EINVAL);
	CHECK_EQ("cmp_requeue.mismatch_eagain", res(futex(&w, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1L, &w, 2)), -EAGAIN);
	CHECK_EQ("cmp_requeue.match_0", res(futex(&w, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1L, &w, 1)), 0);
}

static void test_timeouts(void)
{
	static int w;
	struct timespec rel = { 0, 50000000 };
	long long t0 = now_ns();

	CHECK_EQ("wait.relative_etimedout", res(futex(&w, FUTEX_WAIT_PRIVATE, 0, &rel, 0, 0)), -ETIMEDOUT);
	CHECK("wait.relative_lasted_50ms", now_ns() - t0 >= 50000000);
	/* A mismatch is EAGAIN even with a timeout. */
	CHECK_EQ("wait.timeout_mismatch_eagain", res(futex(&w, FUTEX_WAIT_PRIVATE, 7, &rel, 0, 0)), -EAGAIN);
	rel.tv_nsec = 0;
	CHECK_EQ("wait.zero_timeout_etimedout", res(futex(&w, FUTEX_WAIT, 0, &rel, 0, 0)), -ETIMEDOUT);

	/* FUTEX_WAIT_BITSET: absolute CLOCK_MONOTONIC time. */
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	long long deadline = abs.tv_sec * 1000000000LL + abs.tv_nsec + 60000000;
	abs.tv_sec = deadline / 1000000000;
	abs.tv_nsec = deadline % 1000000000;
	CHECK_EQ("wait_bitset.absolute_etimedout", res(futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, 0, FUTEX_BITSET_MATCH_ANY)), -ETIMEDOUT);
	CHECK("wait_bitset.absolute_reached_deadline", now_ns() >= deadline);
	/* A deadline in the past times out at once. */
	abs.tv_sec = 0;
	abs.tv_nsec = 1;
	t0 = now_ns();
	CHECK_EQ("wait_bitset.past_etimedout", res(futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, 0, FUTEX_BITSET_MATCH_ANY)), -ETIMEDOUT);
	CHECK("wait_bitset.past_is_quick", now_ns() - t0 < 1000000000LL);
	/* FUTEX_CLOCK_REALTIME: absolute on CLOCK_REALTIME. */
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_nsec += 20000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	CHECK_EQ("wait_bitset.realtime_etimedout",
		 res(futex(&w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &abs, 0, FUTEX_BITSET_MATCH_ANY)), -ETIMEDOUT);
}

/* A child waits (op, val 0, optional bitset) on *w; exits with 0 if the
 * wait returned 0, 1 + errno otherwise. */
static pid_t spawn_waiter(int *w, int op, unsigned bitset)
{
	pid_t c = fork();

	if (c == 0) {
		long r = futex(w, op, 0, 0, 0, bitset);
		_exit(r == 0 ? 0 : 1 + errno);
	}
	return c;
}

static void test_shared_anon(void)
{
	int *w = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE("shared_anon.mmap", w != MAP_FAILED);

	/* A child waits with the shared op; the parent wakes it. */
	pid_t c = spawn_waiter(w, FUTEX_WAIT, 0);
	CHECK("shared_anon.child_waits", wait_for_waiters(w, 0, 1));
	CHECK_EQ("shared_anon.wake_1", res(futex(w, FUTEX_WAKE, 1, 0, 0, 0)), 1);
	CHECK_EQ("shared_anon.child_woken_0", child_status(c), 0);

	/* Bitsets: a wake whose bitset misses the waiter's leaves it asleep. */
	c = spawn_waiter(w + 1, FUTEX_WAIT_BITSET, 0x1);
	CHECK("bitset.child_waits", wait_for_waiters(w + 1, 0, 1));
	CHECK_EQ("bitset.mismatch_wakes_0", res(futex(w + 1, FUTEX_WAKE_BITSET, 1, 0, 0, 0x6)), 0);
	CHECK_EQ("bitset.still_waiting", waiters(w + 1, 0), 1);
	CHECK_EQ("bitset.match_wakes_1", res(futex(w + 1, FUTEX_WAKE_BITSET, 1, 0, 0, 0x3)), 1);
	CHECK_EQ("bitset.child_woken_0", child_status(c), 0);

	/* A private wait in one process is not woken from another. */
	c = fork();
	if (c == 0) {
		struct timespec t = { 0, 300000000 };
		long r = futex(w + 2, FUTEX_WAIT_PRIVATE, 0, &t, 0, 0);
		_exit(r == -1 && errno == ETIMEDOUT ? 0 : 1);
	}
	sleep_ms(50);
	CHECK_EQ("private.other_mm_wakes_0", res(futex(w + 2, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0)), 0);
	CHECK_EQ("private.other_mm_shared_wakes_0", res(futex(w + 2, FUTEX_WAKE, 1, 0, 0, 0)), 0);
	CHECK_EQ("private.child_timed_out", child_status(c), 0);

	/* Requeue: two waiters on A move to B, then B's wake gets them. */
	int *a = w + 4, *b = w + 5;
	pid_t c1 = spawn_waiter(a, FUTEX_WAIT, 0);
	pid_t c2 = spawn_waiter(a, FUTEX_WAIT, 0);
	CHECK("requeue.two_wait", wait_for_waiters(a, 0, 2));
	CHECK_EQ("cmp_requeue.value_changed_eagain", res(futex(a, FUTEX_CMP_REQUEUE, 0, (void *)2L, b, 1)), -EAGAIN);
	CHECK_EQ("cmp_requeue.moves_2", res(futex(a, FUTEX_CMP_REQUEUE, 0, (void *)2L, b, 0)), 2);
	CHECK_EQ("requeue.none_left_on_a", res(futex(a, FUTEX_WAKE, INT_MAX, 0, 0, 0)), 0);
	CHECK_EQ("requeue.wake_b_2", res(futex(b, FUTEX_WAKE, INT_MAX, 0, 0, 0)), 2);
	CHECK_EQ("requeue.child1_woken", child_status(c1), 0);
	CHECK_EQ("requeue.child2_woken", child_status(c2), 0);

	/* FUTEX_REQUEUE wakes nr_wake and moves the rest. */
	c1 = spawn_waiter(a, FUTEX_WAIT, 0);
	c2 = spawn_waiter(a, FUTEX_WAIT, 0);
	CHECK("requeue2.two_wait", wait_for_waiters(a, 0, 2));
	CHECK_EQ("requeue.wake1_move1", res(futex(a, FUTEX_REQUEUE, 1, (void *)1L, b, 0)), 2);
	CHECK_EQ("requeue.one_on_b", res(futex(b, FUTEX_WAKE, INT_MAX, 0, 0, 0)), 1);
	CHECK_EQ("requeue2.child1_woken", child_status(c1), 0);
	CHECK_EQ("requeue2.child2_woken", child_status(c2), 0);

	/* FUTEX_WAKE_OP: *b += 3 (old 0 == 0), so B's waiter wakes too. */
	*b = 0;
	c1 = spawn_waiter(b, FUTEX_WAIT, 0);
	CHECK("wake_op.child_waits", wait_for_waiters(b, 0, 1));
	CHECK_EQ("wake_op.wakes_b", res(futex(a, FUTEX_WAKE_OP, 1, (void *)1L, b, FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 0))), 1);
	CHECK_EQ("wake_op.added", *b, 3);
	CHECK_EQ("wake_op.child_woken", child_status(c1), 0);
	munmap(w, PG);
}

static void test_wake_op(void)
{
	static int a, b = 5;

	/* Comparison false: nothing to wake either way, but the op is done. */
	CHECK_EQ("wake_op.no_waiters_0", res(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &b, FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 4))), 0);
	CHECK_EQ("wake_op.add", b, 8);
	futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &b, FUTEX_OP(FUTEX_OP_OR, 0x30, FUTEX_OP_CMP_EQ, 0));
	CHECK_EQ("wake_op.or", b, 0x38);
	futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &b, FUTEX_OP(FUTEX_OP_ANDN, 0x8, FUTEX_OP_CMP_EQ, 0));
	CHECK_EQ("wake_op.andn", b, 0x30);
	futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &b, FUTEX_OP(FUTEX_OP_XOR, 0x11, FUTEX_OP_CMP_EQ, 0));
	CHECK_EQ("wake_op.xor", b, 0x21);
	futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &b, FUTEX_OP(FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_EQ, 0));
	CHECK_EQ("wake_op.set_shift", b, 16);
	CHECK_EQ("wake_op.bad_op_enosys", res(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &b, 6u << 28)), -ENOSYS);
	CHECK_EQ("wake_op.bad_cmp_enosys", res(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &b, 7u << 24)), -ENOSYS);
	CHECK_EQ("wake_op.efault", res(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, (void *)0x1000, 0)), -EFAULT);
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void test_signal(void)
{
	int *w = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE("signal.mmap", w != MAP_FAILED);

	for (int timed = 0; timed < 2; timed++) {
		pid_t c = fork();
		if (c == 0) {
			struct sigaction sa;
			struct timespec t = { 10, 0 };

			memset(&sa, 0, sizeof sa);
			sa.sa_handler = on_usr1; /* no SA_RESTART */
			sigaction(SIGUSR1, &sa, 0);
			long r = futex(w, FUTEX_WAIT, 0, timed ? &t : 0, 0, 0);
			_exit(r == -1 && errno == EINTR && got_usr1 ? 0 : 1);
		}
		CHECK(timed ? "signal.timed_child_waits" : "signal.child_waits", wait_for_waiters(w, 0, 1));
		kill(c, SIGUSR1);
		CHECK_EQ(timed ? "signal.timed_eintr" : "signal.eintr", child_status(c), 0);
	}
	munmap(w, PG);
}

static void test_shared_file(void)
{
	char path[64];
	static char zero[2 * PG];

	snprintf(path, sizeof path, "/tmp/tine_futex_%d", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	REQUIRE("file.open", fd >= 0);
	REQUIRE("file.write", write(fd, zero, sizeof zero) == (ssize_t)sizeof zero);
	char *p = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE("file.mmap", p != MAP_FAILED);
	int *mine = (int *)(p + PG + 64);

	/* The child maps only the second page, at another address, and
	 * waits there; the parent finds and wakes it through its own. */
	pid_t c = fork();
	if (c == 0) {
		char *q = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PG);
		if (q == MAP_FAILED || q == p + PG)
			_exit(2);
		munmap(p, 2 * PG);
		long r = futex(q + 64, FUTEX_WAIT, 0, 0, 0, 0);
		_exit(r == 0 ? 0 : 1);
	}
	CHECK("file.child_waits", wait_for_waiters(mine, 0, 1));
	CHECK_EQ("file.other_offset_wakes_0", res(futex(mine + 1, FUTEX_WAKE, 1, 0, 0, 0)), 0);
	CHECK_EQ("file.wake_1", res(futex(mine, FUTEX_WAKE, 1, 0, 0, 0)), 1);
	CHECK_EQ("file.child_woken_0", child_status(c), 0);

	/* Two processes each map the file on their own after the fork. */
	munmap(p, 2 * PG);
	c = fork();
	if (c == 0) {
		char *q = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PG);
		if (q == MAP_FAILED)
			_exit(2);
		struct timespec t = { 10, 0 };
		long r = futex(q + 128, FUTEX_WAIT, 0, &t, 0, 0);
		_exit(r == 0 ? 0 : 1);
	}
	/* A mapping made after the fork, at yet another address. */
	char *pad = mmap(0, 3 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE("file.remap", p != MAP_FAILED);
	CHECK("file.separate_child_waits", wait_for_waiters(p + PG + 128, 0, 1));
	CHECK_EQ("file.separate_wake_1", res(futex(p + PG + 128, FUTEX_WAKE, 1, 0, 0, 0)), 1);
	CHECK_EQ("file.separate_child_woken_0", child_status(c), 0);
	munmap(p, 2 * PG);
	munmap(pad, 3 * PG);
	close(fd);
	unlink(path);
}

/* Drepper's mutex ("Futexes Are Tricky", mutex2): 0 free, 1 locked,
 * 2 locked with waiters; shared between processes. */
static void mutex_lock(int *m)
{
	int c = 0;

	if (__atomic_compare_exchange_n(m, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		futex(m, FUTEX_WAIT, 2, 0, 0, 0);
		c = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	}
}

static void mutex_unlock(int *m)
{
	if (__atomic_fetch_sub(m, 1, __ATOMIC_RELEASE) != 1) {
		__atomic_store_n(m, 0, __ATOMIC_RELEASE);
		futex(m, FUTEX_WAKE, 1, 0, 0, 0);
	}
}

/* Four processes add to a shared counter under the futex mutex: a lost
 * wake-up hangs (the harness times out), a broken mutex loses counts. */
static void test_mutex_stress(void)
{
	enum { PROCS = 4, ITERS = 3000 };
	int *w = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t c[PROCS];
	int ok = 1;

	REQUIRE("stress.mmap", w != MAP_FAILED);
	for (int i = 0; i < PROCS; i++) {
		c[i] = fork();
		if (c[i] == 0) {
			for (int n = 0; n < ITERS; n++) {
				mutex_lock(&w[0]);
				int v = w[1];
				if (n % 64 == 0)
					sched_yield(); /* let the others pile up */
				w[1] = v + 1;
				mutex_unlock(&w[0]);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++)
		ok &= child_status(c[i]) == 0;
	CHECK("stress.children_exit_0", ok);
	CHECK_EQ("stress.count", w[1], PROCS * ITERS);
	CHECK_EQ("stress.unlocked", w[0], 0);
	munmap(w, PG);
}

struct robust_list_head_ {
	void *next;
	long futex_offset;
	void *list_op_pending;
};

static void test_robust_list(void)
{
	static struct robust_list_head_ head = { &head, 0, 0 };
	void *got = 0;
	size_t len = 0;

	CHECK_EQ("set_robust_list.bad_len_einval", res(syscall(SYS_set_robust_list, &head, sizeof head - 1)), -EINVAL);
	CHECK_EQ("set_robust_list.ok", res(syscall(SYS_set_robust_list, &head, sizeof head)), 0);
	CHECK_EQ("get_robust_list.ok", res(syscall(SYS_get_robust_list, 0, &got, &len)), 0);
	CHECK("get_robust_list.head", got == &head);
	CHECK_EQ("get_robust_list.len", (long)len, (long)sizeof head);
	CHECK_EQ("get_robust_list.self_pid", res(syscall(SYS_get_robust_list, getpid(), &got, &len)), 0);
	CHECK("get_robust_list.self_pid_head", got == &head);
	CHECK_EQ("get_robust_list.efault", res(syscall(SYS_get_robust_list, 0, (void *)0x1000, &len)), -EFAULT);
	CHECK_EQ("get_robust_list.esrch", res(syscall(SYS_get_robust_list, 0x3ffffff0, &got, &len)), -ESRCH);
}

int main(void)
{
	test_errors();
	test_timeouts();
	test_wake_op();
	test_shared_anon();
	test_signal();
	test_shared_file();
	test_mutex_stress();
	test_robust_list();
	return tine_done();
}
