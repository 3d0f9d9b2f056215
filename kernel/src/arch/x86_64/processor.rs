//! Small CPU primitives (mirrors arch/x86/include/asm/{irqflags,processor,
//! special_insns,msr,io}.h). Each wrapper is a single instruction whose only
//! effect is the documented one, which is why they can be safe functions.

use core::arch::asm;

pub const X86_EFLAGS_IF: u64 = 1 << 9;

#[inline]
pub fn local_irq_disable() {
    // SAFETY: cli only masks maskable interrupts on this CPU.
    unsafe { asm!("cli", options(nomem, nostack)) }
}

#[inline]
pub fn local_irq_enable() {
    // SAFETY: sti only unmasks interrupts; the IDT is installed before anyone calls this.
    unsafe { asm!("sti", options(nomem, nostack)) }
}

#[inline]
pub fn native_save_fl() -> u64 {
    let f: u64;
    // SAFETY: reads RFLAGS through the stack (pushfq/pop); no other effect.
    unsafe { asm!("pushfq", "pop {}", out(reg) f, options(nomem, preserves_flags)) }
    f
}

#[inline]
pub fn irqs_disabled() -> bool {
    native_save_fl() & X86_EFLAGS_IF == 0
}

/// `local_irq_save`: disable interrupts and return the previous state.
#[inline]
pub fn local_irq_save() -> bool {
    let was_enabled = !irqs_disabled();
    local_irq_disable();
    was_enabled
}

#[inline]
pub fn local_irq_restore(was_enabled: bool) {
    if was_enabled {
        local_irq_enable();
    }
}

/// Enable interrupts and halt atomically (`sti; hlt`: the interrupt that
/// wakes us cannot slip in between), as the idle loop needs.
#[inline]
pub fn safe_halt() {
    // SAFETY: sti's one-instruction shadow makes the pair atomic; hlt only waits.
    unsafe { asm!("sti; hlt", options(nomem, nostack)) }
}

#[inline]
pub fn halt() {
    // SAFETY: hlt waits for the next interrupt.
    unsafe { asm!("hlt", options(nomem, nostack)) }
}

#[inline]
pub fn cpu_relax() {
    core::hint::spin_loop();
}

#[inline]
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc has no side effects.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) }
    ((hi as u64) << 32) | lo as u64
}

pub fn read_cr0() -> u64 {
    let v: u64;
    // SAFETY: reading a control register has no side effects.
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}
pub fn read_cr2() -> u64 {
    let v: u64;
    // SAFETY: as above.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}
pub fn read_cr3() -> u64 {
    let v: u64;
    // SAFETY: as above.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}
pub fn read_cr4() -> u64 {
    let v: u64;
    // SAFETY: as above.
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

/// # Safety
/// `pgd` must be the physical address of a page table that maps the running
/// kernel (text, stack, per-CPU data) exactly as the current one does.
pub unsafe fn write_cr3(pgd: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe { asm!("mov cr3, {}", in(reg) pgd, options(nostack, preserves_flags)) }
}

/// Flush one page from this CPU's TLB.
pub fn invlpg(addr: u64) {
    // SAFETY: invlpg only drops a cached translation.
    unsafe { asm!("invlpg [{}]", in(reg) addr, options(nostack, preserves_flags)) }
}

/// Flush this CPU's whole (non-global) TLB by reloading CR3.
pub fn flush_tlb_local() {
    // SAFETY: reloading the same CR3 value changes nothing but the TLB.
    unsafe { write_cr3(read_cr3()) }
}

/// # Safety
/// Writing an MSR can change any CPU behaviour; the caller knows the MSR.
pub unsafe fn wrmsr(msr: u32, val: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") val as u32, in("edx") (val >> 32) as u32,
             options(nostack, preserves_flags))
    }
}

pub fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: callers only read architectural MSRs that exist on every x86_64 CPU.
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) }
    ((hi as u64) << 32) | lo as u64
}

pub const MSR_EFER: u32 = 0xc000_0080;
pub const MSR_FS_BASE: u32 = 0xc000_0100;
pub const MSR_GS_BASE: u32 = 0xc000_0101;
pub const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;

pub fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: port I/O to legacy PC devices (UART, PIT, PIC, CMOS) with no memory effects.
    unsafe { asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack, preserves_flags)) }
    v
}
pub fn outb(port: u16, v: u8) {
    // SAFETY: as inb.
    unsafe { asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack, preserves_flags)) }
}
pub fn outw(port: u16, v: u16) {
    // SAFETY: as inb.
    unsafe { asm!("out dx, ax", in("dx") port, in("ax") v, options(nomem, nostack, preserves_flags)) }
}
pub fn outl(port: u16, v: u32) {
    // SAFETY: as inb.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") v, options(nomem, nostack, preserves_flags)) }
}

pub fn cpuid(leaf: u32, subleaf: u32) -> (u32, u32, u32, u32) {
    // SAFETY: cpuid is available on every x86_64 CPU and only reads.
    let r = core::arch::x86_64::__cpuid_count(leaf, subleaf);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// The CPU's brand string (leaves 0x80000002..4), for the boot log.
pub fn cpu_model_name(buf: &mut [u8; 48]) -> &str {
    if cpuid(0x8000_0000, 0).0 < 0x8000_0004 {
        return "unknown";
    }
    for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
        let (a, b, c, d) = cpuid(leaf, 0);
        for (j, w) in [a, b, c, d].iter().enumerate() {
            buf[i * 16 + j * 4..i * 16 + j * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(48);
    core::str::from_utf8(&buf[..end]).unwrap_or("unknown").trim()
}
