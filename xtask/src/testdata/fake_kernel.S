/*
 * A stand-in kernel for xtask's own tests: a multiboot (a.out kludge) image
 * laid out like Tine's (boot code at 1 MiB, .text in the -2 GiB half, a
 * .kallsyms section). It prints a Linux-style banner on COM1 and then acts on
 * the LAST character of its command line:
 *   'p' or '1'  print a "Kernel panic - not syncing" line, then reset
 *   'o'         isa-debug-exit 0          'f'  isa-debug-exit 1
 *   'k'         print ktest lines, then isa-debug-exit 0
 *   '2'         also print to COM2, then like 'p'
 *   'u'         print a user test program's result lines, then like 'p'
 *   'v'         the same, with one check passing under another name
 *   't'         triple fault without printing anything more
 *   anything else: hang
 */
	.section .multiboot, "a"
	.align 4
mb_header:
	.long 0x1BADB002
	.long 0x00010000
	.long -(0x1BADB002 + 0x00010000)
	.long mb_header
	.long __kernel_phys_start
	.long __load_end_phys
	.long __bss_end_phys
	.long _start32

	.section .boot.text, "ax"
	.code32
	.globl _start32
_start32:
	cli
	mov $boot_stack_top, %esp
	mov %ebx, %edi
	mov $0x3f8, %dx
	mov $banner, %esi
	call puts
	mov $smp_line, %esi
	call puts
	mov 16(%edi), %esi		/* multiboot_info.cmdline */
	mov %esi, %ebx
1:	cmpb $0, (%ebx)
	je 2f
	inc %ebx
	jmp 1b
2:	movb -1(%ebx), %al
	cmp $'p', %al
	je do_panic
	cmp $'1', %al
	je do_panic
	cmp $'o', %al
	je exit_ok
	cmp $'f', %al
	je exit_fail
	cmp $'k', %al
	je do_ktest
	cmp $'2', %al
	je do_com2
	cmp $'t', %al
	je triple
	cmp $'u', %al
	je do_user
	cmp $'v', %al
	je do_user_v
hang:	hlt
	jmp hang

do_com2:
	mov $0x2f8, %dx
	mov $com2_msg, %esi
	call puts
	mov $0x3f8, %dx
do_panic:
	mov $panic_msg, %esi
	call puts
	mov $0xfe, %al
	out %al, $0x64
	jmp hang
exit_ok:
	xor %eax, %eax
	mov $0xf4, %dx
	out %eax, %dx
	jmp hang
exit_fail:
	mov $1, %eax
	mov $0xf4, %dx
	out %eax, %dx
	jmp hang
do_ktest:
	mov $ktest_msg, %esi
	call puts
	jmp exit_ok
do_user:
	mov $user_msg, %esi
	call puts
	jmp do_panic
do_user_v:
	mov $user_v_msg, %esi
	call puts
	jmp do_panic
triple:
	lidt null_idt
	int $3

/* Print the NUL-terminated string at %esi to the UART at %dx. */
puts:
	lodsb
	test %al, %al
	jz 1f
	out %al, %dx
	jmp puts
1:	ret

	.section .boot.data, "aw"
null_idt:
	.word 0
	.long 0
banner:	.asciz "[    0.000000] Tine version 0.0.0-fake (xtask test kernel)\n"
smp_line:	.asciz "[    0.010000] smp: Brought up 1 node, 2 CPUs\n"
panic_msg:	.asciz "[    0.020000] Kernel panic - not syncing: Requested init /nonexistent failed (error -2).\n"
com2_msg:	.asciz "noise on com2\n"
ktest_msg:
	.ascii "[    0.030000] ktest: PASS list::push\n"
	.ascii "[    0.030001] ktest: PASS mm::buddy\n"
	.asciz "[    0.030002] ktest: done passed=2 failed=0\n"
user_msg:
	.ascii "PASS a\n"
	.ascii "hello from user space\n"
	.ascii "PASS b\n"
	.asciz "done passed=2 failed=0\n"
user_v_msg:
	.ascii "PASS a\n"
	.ascii "PASS c\n"
	.asciz "done passed=2 failed=0\n"
	.align 16
	.fill 1024, 1, 0
boot_stack_top:

	.section .text, "ax"
	.code64
	.globl _ZN6kernel6kernel4fork12copy_process17h0123456789abcdefE
	.type _ZN6kernel6kernel4fork12copy_process17h0123456789abcdefE, @function
_ZN6kernel6kernel4fork12copy_process17h0123456789abcdefE:
	push %rbp
	mov %rsp, %rbp
	pop %rbp
	ret
	.size _ZN6kernel6kernel4fork12copy_process17h0123456789abcdefE, .-_ZN6kernel6kernel4fork12copy_process17h0123456789abcdefE
	.globl _ZN4core9panicking9panic_fmt17h0123456789abcdefE
	.type _ZN4core9panicking9panic_fmt17h0123456789abcdefE, @function
_ZN4core9panicking9panic_fmt17h0123456789abcdefE:
	ud2
	.size _ZN4core9panicking9panic_fmt17h0123456789abcdefE, .-_ZN4core9panicking9panic_fmt17h0123456789abcdefE
	.globl entry_SYSCALL_64
entry_SYSCALL_64:		/* a NOTYPE label, as global_asm! makes them */
	nop
	nop

	.section .rodata, "a"
	.globl not_in_text
not_in_text:
	.long 42

	.section .kallsyms, "a"
	.fill 4096, 1, 0

	.section .data, "aw"
	.long 1
	.section .bss, "aw", @nobits
	.fill 8192, 1, 0
