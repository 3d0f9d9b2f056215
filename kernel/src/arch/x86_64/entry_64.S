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

/* Restore the general registers of a struct pt_regs at %rsp (the reverse
 * of the pushes that built it). */
.macro POP_REGS
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
.endm

/* The SSE state the kernel's Rust code may change: xmm0-15 and MXCSR,
 * stored at their fxsave offsets in the 512-byte area at %rsp (16-aligned),
 * so the area reads as an fxsave image for them. The x87/MMX registers are
 * not saved here: the kernel never touches them (rustc emits SSE only), so
 * they stay live in the CPU until a context switch (switch_fpu). fxsave and
 * fxrstor on every entry cost more than the rest of a system call in QEMU's
 * TCG. */
.macro SAVE_SSE
    movdqa %xmm0, 160(%rsp)
    movdqa %xmm1, 176(%rsp)
    movdqa %xmm2, 192(%rsp)
    movdqa %xmm3, 208(%rsp)
    movdqa %xmm4, 224(%rsp)
    movdqa %xmm5, 240(%rsp)
    movdqa %xmm6, 256(%rsp)
    movdqa %xmm7, 272(%rsp)
    movdqa %xmm8, 288(%rsp)
    movdqa %xmm9, 304(%rsp)
    movdqa %xmm10, 320(%rsp)
    movdqa %xmm11, 336(%rsp)
    movdqa %xmm12, 352(%rsp)
    movdqa %xmm13, 368(%rsp)
    movdqa %xmm14, 384(%rsp)
    movdqa %xmm15, 400(%rsp)
    stmxcsr 24(%rsp)
.endm

.macro RESTORE_SSE
    ldmxcsr 24(%rsp)
    movdqa 160(%rsp), %xmm0
    movdqa 176(%rsp), %xmm1
    movdqa 192(%rsp), %xmm2
    movdqa 208(%rsp), %xmm3
    movdqa 224(%rsp), %xmm4
    movdqa 240(%rsp), %xmm5
    movdqa 256(%rsp), %xmm6
    movdqa 272(%rsp), %xmm7
    movdqa 288(%rsp), %xmm8
    movdqa 304(%rsp), %xmm9
    movdqa 320(%rsp), %xmm10
    movdqa 336(%rsp), %xmm11
    movdqa 352(%rsp), %xmm12
    movdqa 368(%rsp), %xmm13
    movdqa 384(%rsp), %xmm14
    movdqa 400(%rsp), %xmm15
.endm

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
    subq $512, %rsp               /* rsp is 16-aligned here: fxsave-layout area */
    SAVE_SSE
    movq %rbx, %rdi
    call do_IRQ_or_exception
    RESTORE_SSE
    movq %rbx, %rsp
    POP_REGS
    addq $16, %rsp                /* vector, error code */
    testb $3, 8(%rsp)
    jz 3f
    swapgs
3:  iretq
    .size common_interrupt, . - common_interrupt

/* ---------------------------------------------------------------------
 * System calls (entry_SYSCALL_64). SYSCALL leaves the user rip in rcx and
 * rflags in r11 and does not switch stacks: swapgs, stash the user rsp in
 * the per-CPU area, switch to the task's kernel stack and build the same
 * struct pt_regs an interrupt from user mode builds, at the same place
 * (the top of the kernel stack: task_pt_regs). The user's SSE state is
 * saved below it, because the kernel's Rust code uses SSE registers that
 * the syscall ABI promises to preserve.
 * --------------------------------------------------------------------- */
    .set PERCPU_USER_RSP, 16
    .set REGS_RIP, 17*8
    .set REGS_CS, 18*8

    .global entry_SYSCALL_64
    .type entry_SYSCALL_64, @function
entry_SYSCALL_64:
    swapgs
    movq %rsp, %gs:PERCPU_USER_RSP
    movq %gs:PERCPU_KSTACK_TOP, %rsp
    pushq $0x2b                     /* ss: __USER_DS */
    pushq %gs:PERCPU_USER_RSP       /* rsp */
    pushq %r11                      /* rflags */
    pushq $0x33                     /* cs: __USER_CS */
    pushq %rcx                      /* rip */
    pushq $0                        /* error code slot */
    pushq %rax                      /* orig_ax: the system call number */
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq $-38                      /* ax: -ENOSYS until the call sets it */
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
    xorl %ebp, %ebp                 /* backtraces end here */
    movq %rsp, %rbx
    subq $512, %rsp
    SAVE_SSE
    sti
    movq %rbx, %rdi
    call do_syscall_64
    cli
    RESTORE_SSE
    jmp ret_to_user_regs
    .size entry_SYSCALL_64, . - entry_SYSCALL_64

/* Return to user mode from the pt_regs at %rbx (interrupts off, SSE state
 * already loaded). SYSRET when rip is canonical and cs is the 64-bit user
 * segment (SYSRET with a non-canonical rcx faults in kernel mode on Intel
 * CPUs with the user's rsp: the classic hazard), IRET otherwise. */
    .global ret_to_user_regs
    .type ret_to_user_regs, @function
ret_to_user_regs:
    movq %rbx, %rsp
    movq REGS_RIP(%rsp), %rcx
    movq %rcx, %r11
    shlq $16, %r11
    sarq $16, %r11
    cmpq %rcx, %r11
    jne 1f
    cmpq $0x33, REGS_CS(%rsp)
    jne 1f
    POP_REGS
    movq 16(%rsp), %rcx             /* rip */
    movq 32(%rsp), %r11             /* rflags */
    movq 40(%rsp), %rsp             /* user rsp */
    swapgs
    sysretq
1:  POP_REGS
    addq $16, %rsp
    swapgs
    iretq
    .size ret_to_user_regs, . - ret_to_user_regs

/* First return to user mode of a task whose pt_regs were just written
 * (exec from a kernel thread, a forked child): clean x87 and SSE state. */
    .global ret_to_user_fresh
    .type ret_to_user_fresh, @function
ret_to_user_fresh:
    cli
    movq %gs:PERCPU_KSTACK_TOP, %rbx
    subq $176, %rbx                 /* task_pt_regs */
    movabsq $init_fpstate, %rax
    fxrstor64 (%rax)
    jmp ret_to_user_regs
    .size ret_to_user_fresh, . - ret_to_user_fresh

/* copy_from_user/copy_to_user: `rep movsb` may fault on a user address;
 * the page-fault handler then resumes at the fixup (exception table:
 * copy_user_fault_ip -> copy_user_fixup), which returns the bytes left. */
    .global __copy_user
    .global copy_user_fault_ip
    .global copy_user_fixup
    .global copy_user_fault_ip_q
    .global copy_user_fixup_q
    .type __copy_user, @function
__copy_user:                        /* rdi = dst, rsi = src, rdx = len */
    movq %rdx, %rcx
    shrq $3, %rcx                   /* whole words first: under TCG each */
    andl $7, %edx                   /* rep iteration costs the same, so */
copy_user_fault_ip_q:               /* movsq moves 8 times as much */
    rep movsq
    movl %edx, %ecx
copy_user_fault_ip:
    rep movsb
    xorl %eax, %eax
    ret
copy_user_fixup_q:                  /* a word faulted: redo the rest bytewise */
    leaq (%rdx, %rcx, 8), %rcx      /* to stop at the exact byte (Linux's */
    jmp copy_user_fault_ip          /* copy_user_handle_tail) */
copy_user_fixup:
    movq %rcx, %rax                 /* the bytes not copied */
    ret
    .size __copy_user, . - __copy_user

/* The futex word accessors (Linux: get_futex_value_locked's __get_user and
 * futex_atomic_cmpxchg_inatomic under pagefault_disable). They run with a
 * futex hash bucket lock held, so a fault at futex_user_fault_ip is never
 * resolved: the page-fault handler goes straight to futex_user_fixup,
 * which returns -EFAULT; the caller drops its locks, faults the page in
 * and retries. Callers check the address with access_ok first.
 *
 *   futex_get_user_nofault(rdi = uaddr, rsi = u32 *out) -> 0 / -EFAULT
 *   futex_cmpxchg_nofault(rdi = uaddr, esi = old, edx = new,
 *                         rcx = u32 *cur) -> 0 / -EFAULT, *cur = the value
 *                         found (== old if the exchange happened) */
    .global futex_get_user_nofault
    .global futex_cmpxchg_nofault
    .global futex_get_fault_ip
    .global futex_cmpxchg_fault_ip
    .global futex_user_fixup
    .type futex_get_user_nofault, @function
futex_get_user_nofault:
futex_get_fault_ip:
    movl (%rdi), %eax
    movl %eax, (%rsi)
    xorl %eax, %eax
    ret
    .size futex_get_user_nofault, . - futex_get_user_nofault
    .type futex_cmpxchg_nofault, @function
futex_cmpxchg_nofault:
    movl %esi, %eax
futex_cmpxchg_fault_ip:
    lock cmpxchgl %edx, (%rdi)
    movl %eax, (%rcx)
    xorl %eax, %eax
    ret
futex_user_fixup:
    movq $-14, %rax
    ret
    .size futex_cmpxchg_nofault, . - futex_cmpxchg_nofault
