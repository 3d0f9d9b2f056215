/*
 * tcdrain [STATUS]: waits until the terminal on standard output has sent
 * everything written to it, then exits with STATUS (default 0).
 *
 * The shell tests (user/sh/) run as init and end with
 * `exec /bin/tcdrain $status`: on Linux the serial driver sends queued
 * output later, and init's exit panics and resets the machine (panic=-1),
 * possibly with the last lines still queued (tine_test.h's tine_done()
 * drains for the same reason). On a pipe or file tcdrain fails with
 * ENOTTY, harmlessly.
 */
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	tcdrain(1);
	return argc > 1 ? atoi(argv[1]) : 0;
}
