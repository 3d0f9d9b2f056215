/* Tine boot code (mirrors arch/x86/boot/compressed/head_64.S + kernel/head_64.S
 * + realmode/rm/trampoline_64.S, cut down to what a multiboot loader needs).
 *
 * The BSP enters at _start32 in 32-bit protected mode, paging off (multiboot1).
 * APs enter at the real-mode trampoline copied to 0x8000 by smpboot.rs.
 * Both build 64-bit mode on the boot page tables, which identity-map 0..4 GiB
 * and map -2 GiB -> phys 0..2 GiB with 2 MiB pages, then call Rust in the
 * higher half. */

    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00010003      /* page-align, memory info, a.out kludge */

    .section .multiboot, "a"
    .align 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header                /* header_addr */
    .long __kernel_phys_start      /* load_addr */
    .long __load_end_phys          /* load_end_addr */
    .long __bss_end_phys           /* bss_end_addr */
    .long _start32                 /* entry_addr */

    .section .boot.text, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    movl %eax, boot_mb_magic
    movl %ebx, boot_mb_info

    /* 2048 PD entries: 0..4 GiB with 2 MiB pages (P|RW|PS). */
    movl $boot_pd, %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edi,%ecx,8)
    movl $0, 4(%edi,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 1b

    /* pdpt_lo[0..3] -> the four PDs (identity 0..4 GiB). */
    movl $boot_pdpt_lo, %edi
    movl $boot_pd + 3, %eax
    movl %eax, 0(%edi)
    addl $4096, %eax
    movl %eax, 8(%edi)
    addl $4096, %eax
    movl %eax, 16(%edi)
    addl $4096, %eax
    movl %eax, 24(%edi)
    /* pdpt_hi[510..511] -> PD0, PD1: -2 GiB maps phys 0..2 GiB. */
    movl $boot_pdpt_hi, %edi
    movl $boot_pd + 3, %eax
    movl %eax, 510*8(%edi)
    addl $4096, %eax
    movl %eax, 511*8(%edi)
    /* pml4[0] -> pdpt_lo, pml4[511] -> pdpt_hi */
    movl $boot_pml4, %edi
    movl $boot_pdpt_lo + 3, %eax
    movl %eax, 0(%edi)
    movl $boot_pdpt_hi + 3, %eax
    movl %eax, 511*8(%edi)

    xorl %ebp, %ebp                 /* ebp = 0: boot CPU */

    .global boot_enter_long
boot_enter_long:
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax   /* PAE, OSFXSR, OSXMMEXCPT */
    movl %eax, %cr4
    movl $0xC0000080, %ecx                          /* EFER */
    rdmsr
    orl $((1 << 0) | (1 << 8) | (1 << 11)), %eax    /* SCE, LME, NXE */
    wrmsr
    movl %cr0, %eax
    andl $~(1 << 2), %eax                           /* EM off: SSE works */
    orl $((1 << 31) | (1 << 16) | (1 << 1)), %eax   /* PG, WP, MP */
    movl %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $boot_start64

    .code64
boot_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    testl %ebp, %ebp
    jnz 2f

    movabsq $boot_stack_top, %rsp
    /* Zero .bss (the loader should have; it costs nothing to be sure). */
    movabsq $__bss_start, %rdi
    movabsq $__bss_end, %rcx
    subq %rdi, %rcx
    xorl %eax, %eax
    rep stosb
    movl boot_mb_magic, %edi
    movl boot_mb_info, %esi
    xorl %ebp, %ebp                 /* terminate the frame-pointer chain */
    movabsq $x86_64_start_kernel, %rax
    call *%rax
    ud2

2:  /* Secondary CPU: smpboot.rs left its stack (a direct-map address),
     * cpu number and the kernel's CR3 here. Read them while the boot tables
     * still map this low code, then continue in the higher half, which both
     * the boot tables and init_mm map. */
    movq ap_boot_stack, %r12
    movl ap_boot_cpu, %r13d
    movq ap_boot_cr3, %r14
    movabsq $secondary_startup_64, %rax
    jmp *%rax

    .section .text.secondary_startup, "ax"
    .global secondary_startup_64
    .type secondary_startup_64, @function
secondary_startup_64:
    movq %r14, %cr3
    movq %r12, %rsp
    movl %r13d, %edi
    xorl %ebp, %ebp
    call start_secondary
    ud2
    .size secondary_startup_64, . - secondary_startup_64

    .section .boot.text, "ax"

/* Real-mode AP trampoline: copied to 0x8000 (SIPI vector 0x08), so every
 * address inside it is written relative to trampoline_start + 0x8000. */
    .code16
    .global trampoline_start
    .global trampoline_end
trampoline_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl tramp_gdt_ptr - trampoline_start + 0x8000
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(tramp32 - trampoline_start + 0x8000)
    .code32
tramp32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl $1, %ebp                   /* ebp = 1: secondary CPU */
    movl $boot_enter_long, %eax
    jmp *%eax
    .align 8
tramp_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF        /* 32-bit code */
    .quad 0x00CF92000000FFFF        /* 32-bit data */
tramp_gdt_ptr:
    .word 23
    .long tramp_gdt - trampoline_start + 0x8000
trampoline_end:

    .section .boot.data, "aw"
    .align 8
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF        /* 0x08: 64-bit kernel code */
    .quad 0x00CF92000000FFFF        /* 0x10: kernel data */
boot_gdt_ptr:
    .word 23
    .long boot_gdt
    .align 8
    .global ap_boot_stack
    .global ap_boot_cpu
    .global ap_boot_cr3
boot_mb_magic: .long 0
boot_mb_info:  .long 0
ap_boot_stack: .quad 0
ap_boot_cpu:   .long 0
    .align 8
ap_boot_cr3:   .quad 0

    .section .boot.pt, "aw"
    .align 4096
    .global boot_pml4
boot_pml4:    .skip 4096
boot_pdpt_lo: .skip 4096
boot_pdpt_hi: .skip 4096
boot_pd:      .skip 4 * 4096

    .section .bss.boot_stack, "aw", @nobits
    .align 16
    .global boot_stack
boot_stack:
    .skip 65536
boot_stack_top:
