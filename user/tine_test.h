/*
 * tine_test.h: the test harness shared by Tine's user programs.
 *
 * Header-only, and it needs nothing from the kernel but write(2),
 * exit_group(2) and (to drain the console at the end) ioctl(2): no
 * stdio, so a test's output appears even if the kernel gets buffering,
 * writev or atexit wrong. Each line is written with one write(2). Every check prints one line on
 * standard output:
 *
 *	PASS <name>
 *	FAIL <name>: <why>
 *
 * and tine_done() ends with
 *
 *	done passed=<N> failed=<M>
 *
 * returning the exit status (0 if nothing failed, 1 otherwise), so a
 * program ends with `return tine_done();`. REQUIRE is CHECK that exits at
 * once (status 1) on failure, for checks the rest of the program depends on.
 *
 *	CHECK("argv.count", argc == 3);
 *	CHECK_EQ("auxv.pagesz", getauxval(AT_PAGESZ), 4096);
 *	CHECK_STR("argv.0", argv[0], "/bin/foo");
 *	REQUIRE("stack.aligned", ((unsigned long)argv - 8) % 16 == 0);
 *
 * Names are words joined with '.' or '_' (no spaces, no ": ").
 */
#ifndef TINE_TEST_H
#define TINE_TEST_H

#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int tine_passed, tine_failed;

static char tine_line[512];
static size_t tine_line_len;

/* write(2) the buffered line to fd 1; gives up quietly if the write fails. */
static inline void tine_flush(void)
{
	const char *s = tine_line;
	size_t n = tine_line_len;

	while (n > 0) {
		ssize_t w = write(1, s, n);

		if (w <= 0)
			break;
		s += w;
		n -= (size_t)w;
	}
	tine_line_len = 0;
}

/*
 * Appends s to the line being built and writes the line with one write(2)
 * when s ends it ('\n') or the buffer is full: a terminal writes each
 * write(2) whole (Linux's tty atomic_write_lock), so lines from a parent
 * and its children do not mix. Not for signal handlers (the buffer is
 * shared).
 */
static inline void tine_puts(const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		size_t room = sizeof tine_line - tine_line_len;
		size_t k = n < room ? n : room;

		memcpy(tine_line + tine_line_len, s, k);
		tine_line_len += k;
		s += k;
		n -= k;
		if (tine_line_len == sizeof tine_line)
			tine_flush();
	}
	if (tine_line_len > 0 && tine_line[tine_line_len - 1] == '\n')
		tine_flush();
}

/* A signed decimal number, or hex (0x...) when it is large. */
static inline void tine_putnum(long long v)
{
	char buf[24], *p = buf + sizeof buf;
	unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
	int hex = u > 0xffffff;

	*--p = 0;
	do {
		*--p = "0123456789abcdef"[u % (hex ? 16 : 10)];
		u /= hex ? 16 : 10;
	} while (u);
	if (hex) {
		*--p = 'x';
		*--p = '0';
	}
	if (v < 0)
		*--p = '-';
	tine_puts(p);
}

static inline void tine_pass(const char *name)
{
	tine_passed++;
	tine_puts("PASS ");
	tine_puts(name);
	tine_puts("\n");
}

static inline void tine_fail(const char *name, const char *why)
{
	tine_failed++;
	tine_puts("FAIL ");
	tine_puts(name);
	tine_puts(": ");
	tine_puts(why);
	tine_puts("\n");
}

static inline void tine_fail_num(const char *name, const char *expr,
				 long long got, long long want)
{
	tine_failed++;
	tine_puts("FAIL ");
	tine_puts(name);
	tine_puts(": ");
	tine_puts(expr);
	tine_puts(": expected ");
	tine_putnum(want);
	tine_puts(", got ");
	tine_putnum(got);
	tine_puts("\n");
}

static inline void tine_fail_str(const char *name, const char *expr,
				 const char *got, const char *want)
{
	tine_failed++;
	tine_puts("FAIL ");
	tine_puts(name);
	tine_puts(": ");
	tine_puts(expr);
	tine_puts(": expected \"");
	tine_puts(want);
	tine_puts("\", got \"");
	tine_puts(got ? got : "(null)");
	tine_puts("\"\n");
}

/*
 * Prints the summary line; returns the exit status for main.
 *
 * Then waits until the terminal has sent everything (tcdrain): run as init
 * on Linux, standard output is the serial console, whose driver sends
 * queued output later, and init's exit panics the kernel, which resets the
 * machine (panic=-1) with that output still queued. On a pipe or file
 * (and on a kernel without terminals) tcdrain fails with ENOTTY, harmlessly.
 */
static inline int tine_done(void)
{
	tine_puts("done passed=");
	tine_putnum(tine_passed);
	tine_puts(" failed=");
	tine_putnum(tine_failed);
	tine_puts("\n");
	tine_flush();
	tcdrain(1);
	return tine_failed ? 1 : 0;
}

#define CHECK(name, cond) \
	((cond) ? tine_pass(name) : tine_fail(name, #cond " is false"))

#define CHECK_EQ(name, got, want) do {					\
	long long tine_g_ = (long long)(got), tine_w_ = (long long)(want); \
	if (tine_g_ == tine_w_)						\
		tine_pass(name);					\
	else								\
		tine_fail_num(name, #got, tine_g_, tine_w_);		\
} while (0)

#define CHECK_STR(name, got, want) do {					\
	const char *tine_gs_ = (got), *tine_ws_ = (want);		\
	if (tine_gs_ && strcmp(tine_gs_, tine_ws_) == 0)		\
		tine_pass(name);					\
	else								\
		tine_fail_str(name, #got, tine_gs_, tine_ws_);		\
} while (0)

#define REQUIRE(name, cond) do {					\
	if (cond) {							\
		tine_pass(name);					\
	} else {							\
		tine_fail(name, #cond " is false");			\
		exit(tine_done());					\
	}								\
} while (0)

#endif /* TINE_TEST_H */
