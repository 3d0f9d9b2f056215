/*
 * segfault: writes through a null pointer, so it dies of SIGSEGV (a real
 * page fault, not kill(2)); a shell then reports status 139 (128 + 11).
 */
int main(void)
{
	*(volatile int *)0 = 1;
	return 0;
}
