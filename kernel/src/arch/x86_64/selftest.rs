//! Machine-level probes for the in-kernel tests (kernel/ktest): code that
//! must be written in assembly to observe the hardware contract it tests,
//! and deliberate faults for the crash tests. Nothing here runs unless a
//! test asks for it.

use core::arch::asm;
use core::arch::x86_64::__m128i;

fn splat(x: u64) -> __m128i {
    // SAFETY: __m128i is 16 plain bytes; any bit pattern is valid.
    unsafe { core::mem::transmute::<[u64; 2], __m128i>([x, x]) }
}

/// Keep 64 bytes in this function's red zone (below rsp, never reserved) and
/// check them after spinning `spins` times, `rounds` times over. Returns how
/// many 8-byte slots were found changed. An interrupt frame pushed on this
/// stack would land exactly there: entry_64.S must prevent that.
#[inline(never)]
pub fn redzone_probe(rounds: u64, spins: u64) -> u64 {
    let bad: u64;
    // SAFETY: uses only registers and the 64 bytes below rsp, which the ABI
    // lets an asm block use (no `nostack`), and the kernel is built without
    // a red zone so the compiler keeps nothing there.
    unsafe {
        asm!(
            "xor {bad}, {bad}",
            "2:",
            "lea {p}, [rsp - 64]",
            "xor {i:e}, {i:e}",
            "3:",
            "mov [{p} + {i} * 8], {pat}",
            "inc {i:e}",
            "cmp {i:e}, 8",
            "jb 3b",
            "mov {c}, {spins}",
            "4:",
            "pause",
            "dec {c}",
            "jnz 4b",
            "xor {i:e}, {i:e}",
            "5:",
            "cmp [{p} + {i} * 8], {pat}",
            "je 6f",
            "inc {bad}",
            "6:",
            "inc {i:e}",
            "cmp {i:e}, 8",
            "jb 5b",
            "dec {rounds}",
            "jnz 2b",
            bad = out(reg) bad,
            p = out(reg) _,
            i = out(reg) _,
            c = out(reg) _,
            pat = in(reg) 0x5a5a_a5a5_c3c3_3c3cu64,
            spins = in(reg) spins.max(1),
            rounds = inout(reg) rounds.max(1) => _,
        );
    }
    bad
}

/// Hold 16 known values in xmm0-xmm15 while spinning, and return how many
/// came back changed. Interrupts taken meanwhile must save and restore the
/// SSE state (entry_64.S's fxsave/fxrstor).
#[inline(never)]
pub fn fpu_probe(spins: u64) -> u32 {
    let mut v: [__m128i; 16] = [splat(0); 16];
    for (i, x) in v.iter_mut().enumerate() {
        *x = splat(0x0123_4567_89ab_cdef_u64.wrapping_add(i as u64 * 0x1111));
    }
    let orig = v;
    // SAFETY: only registers are used; the values go in and come out of
    // the named xmm registers as the operands say.
    unsafe {
        asm!(
            "2:",
            "pause",
            "dec {c}",
            "jnz 2b",
            c = inout(reg) spins.max(1) => _,
            inout("xmm0") v[0], inout("xmm1") v[1], inout("xmm2") v[2], inout("xmm3") v[3],
            inout("xmm4") v[4], inout("xmm5") v[5], inout("xmm6") v[6], inout("xmm7") v[7],
            inout("xmm8") v[8], inout("xmm9") v[9], inout("xmm10") v[10], inout("xmm11") v[11],
            inout("xmm12") v[12], inout("xmm13") v[13], inout("xmm14") v[14], inout("xmm15") v[15],
            options(nomem, nostack),
        );
    }
    let mut bad = 0;
    for i in 0..16 {
        // SAFETY: __m128i is 16 plain bytes.
        let (a, b): ([u8; 16], [u8; 16]) = unsafe { (core::mem::transmute(v[i]), core::mem::transmute(orig[i])) };
        if a != b {
            bad += 1;
        }
    }
    bad
}

/// Overwrite every SSE register (from an interrupt handler, in the FPU test).
#[inline(never)]
pub fn clobber_fpu() {
    // SAFETY: only xmm registers change, and they are declared clobbered.
    unsafe {
        asm!(
            "pcmpeqb xmm0, xmm0", "pcmpeqb xmm1, xmm1", "pcmpeqb xmm2, xmm2", "pcmpeqb xmm3, xmm3",
            "pcmpeqb xmm4, xmm4", "pcmpeqb xmm5, xmm5", "pcmpeqb xmm6, xmm6", "pcmpeqb xmm7, xmm7",
            "pcmpeqb xmm8, xmm8", "pcmpeqb xmm9, xmm9", "pcmpeqb xmm10, xmm10", "pcmpeqb xmm11, xmm11",
            "pcmpeqb xmm12, xmm12", "pcmpeqb xmm13, xmm13", "pcmpeqb xmm14, xmm14", "pcmpeqb xmm15, xmm15",
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
            out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            options(nomem, nostack),
        );
    }
}

/// Read a u64 at a kernel virtual address the caller has mapped (TLB test).
pub fn read_kernel_u64(va: u64) -> u64 {
    assert!(crate::mm::pgtable::PageTable::kernel().translate(va).is_some(), "read_kernel_u64: unmapped");
    // SAFETY: checked mapped just above; a plain aligned load.
    unsafe { (va as *const u64).read_volatile() }
}

/// Write a u64 at a mapped kernel virtual address.
pub fn write_kernel_u64(va: u64, v: u64) {
    assert!(crate::mm::pgtable::PageTable::kernel().translate(va).is_some(), "write_kernel_u64: unmapped");
    // SAFETY: as read_kernel_u64.
    unsafe { (va as *mut u64).write_volatile(v) }
}

// Deliberate faults. Each is its own function so the oops names it.

#[inline(never)]
pub fn ktest_crash_null() {
    // SAFETY: deliberately faults; the oops path never returns here.
    unsafe { asm!("mov {}, qword ptr [{}]", out(reg) _, in(reg) 0u64, options(nostack)) }
}

#[inline(never)]
pub fn ktest_crash_pagefault() {
    // SAFETY: deliberately faults on an unmapped user-half address.
    unsafe { asm!("mov qword ptr [{}], 1", in(reg) 0xdead_000u64, options(nostack)) }
}

#[inline(never)]
pub fn ktest_crash_ud2() {
    // SAFETY: deliberately raises #UD.
    unsafe { asm!("ud2", options(nomem, nostack)) }
}

#[inline(never)]
pub fn ktest_crash_divide() {
    // SAFETY: deliberately raises #DE (divide by zero).
    unsafe { asm!("xor edx, edx", "mov eax, 1", "div {0}", in(reg) 0u64, out("rax") _, out("rdx") _, options(nomem, nostack)) }
}

#[inline(never)]
pub fn ktest_crash_gp() {
    // SAFETY: deliberately raises #GP with a non-canonical address.
    unsafe { asm!("mov {}, qword ptr [{}]", out(reg) _, in(reg) 0x8000_0000_0000_0000u64, options(nostack)) }
}
