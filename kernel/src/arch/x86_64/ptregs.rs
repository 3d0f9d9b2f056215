//! `struct pt_regs` (mirrors arch/x86/include/asm/ptrace.h): the register
//! frame entry_64.S builds on every interrupt, exception and (later) syscall.
//! Field order is the push order in entry_64.S, reversed.

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PtRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    /// Linux keeps the syscall number / error code in `orig_ax`; the entry
    /// stubs store the vector here and the CPU's error code next to it.
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl PtRegs {
    pub fn user_mode(&self) -> bool {
        self.cs & 3 == 3
    }
}
