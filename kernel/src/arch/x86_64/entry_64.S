/* Interrupt and exception entry (mirrors arch/x86/entry/entry_64.S, idtentry).
 *
 * Every gate runs on an IST stack, because the precompiled core/alloc use the
 * red zone: a frame pushed on the interrupted stack would clobber the 128
 * bytes below its rsp. The common path copies the CPU frame off the IST stack:
 *   - from the kernel: to (interrupted rsp - 128) & ~15, below the red zone;
 *   - from user mode:  to the top of the current task's kernel stack
 *     (per-CPU PERCPU_KSTACK_TOP, the role TSS.RSP0 plays in Linux),
 * so the IST stack is free again and handlers may nest. NMI, #DF and #MC stay
 * on their own IST stacks ("paranoid" entries): the stack they interrupted
 * may be the broken thing. */

    .set PERCPU_KSTACK_TOP, 8

    .section .text.entry, "ax"
    .code64

    .global irq_entries_start
    .align 16
irq_entries_start:
    .set vector, 0
    .rept 256
    .align 16
    /* Vectors where the CPU pushes an error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX */
    .if (vector == 8) || (vector == 10) || (vector == 11) || (vector == 12) || (vector == 13) || (vector == 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq $0
    .endif
    pushq $vector
    jmp common_interrupt
    .set vector, vector + 1
    .endr

    .type common_interrupt, @function
common_interrupt:
    /* IST frame: 0 vector, 8 error, 16 rip, 24 cs, 32 rflags, 40 rsp, 48 ss */
    cld
    cmpq $2, (%rsp)
    je paranoid_entry
    cmpq $8, (%rsp)
    je paranoid_entry
    cmpq $18, (%rsp)
    je paranoid_entry
    pushq %rax
    pushq %rcx
    pushq %rsi
    pushq %rdi
    /* 0 rdi 8 rsi 16 rcx 24 rax 32 vector 40 error 48 rip 56 cs 64 rflags 72 rsp 80 ss */
    testb $3, 56(%rsp)
    jz 1f
    swapgs
    movq %gs:PERCPU_KSTACK_TOP, %rax
    jmp 2f
1:  movq 72(%rsp), %rax
    subq $128, %rax
    andq $-16, %rax
2:  subq $88, %rax
    movq %rsp, %rsi
    movq %rax, %rdi
    movl $11, %ecx
    rep movsq
    movq %rax, %rsp
    popq %rdi
    popq %rsi
    popq %rcx
    popq %rax
    jmp interrupt_body

paranoid_entry:
    testb $3, 24(%rsp)
    jz interrupt_body
    swapgs

interrupt_body:
    /* Build struct pt_regs below the vector/error words. */
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %rax
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rbx               /* rbx = pt_regs, callee-saved */
    /* rbp still holds the interrupted rbp, so a backtrace taken inside the
     * handler walks on into the interrupted frames. */
    subq $512, %rsp               /* rsp is 16-aligned here: fxsave area */
    fxsave64 (%rsp)
    movq %rbx, %rdi
    call do_IRQ_or_exception
    fxrstor64 (%rsp)
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rax
    popq %rcx
    popq %rdx
    popq %rsi
    popq %rdi
    addq $16, %rsp                /* vector, error code */
    testb $3, 8(%rsp)
    jz 3f
    swapgs
3:  iretq
    .size common_interrupt, . - common_interrupt
