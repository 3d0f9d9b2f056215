//! CPU-contract tests: interrupts must not clobber the red zone or SSE
//! registers, and the symbol table must name our functions.

use super::{ensure, KTest, TestResult, FPU_CLOBBER, FPU_CLOBBERS_DONE};
use crate::arch::percpu::this_cpu;
use crate::arch::selftest::{fpu_probe, redzone_probe};
use crate::kernel::kallsyms;
use core::sync::atomic::Ordering::*;

pub const TESTS: &[KTest] = &[
    KTest { name: "redzone_preserved", func: redzone_preserved, min_cpus: 1 },
    KTest { name: "fpu_preserved", func: fpu_preserved, min_cpus: 1 },
    KTest { name: "kallsyms_lookup", func: kallsyms_lookup, min_cpus: 1 },
    KTest { name: "stack_trace", func: stack_trace, min_cpus: 1 },
];

/// Run `probe` in slices until at least `ticks` timer interrupts hit this CPU.
fn under_interrupts(ticks: u64, mut probe: impl FnMut() -> u64) -> Result<u64, alloc::string::String> {
    let start = this_cpu().timer_ticks.load(SeqCst);
    let mut bad = 0;
    for _ in 0..100_000 {
        bad += probe();
        if this_cpu().timer_ticks.load(SeqCst) - start >= ticks {
            return Ok(bad);
        }
    }
    Err(alloc::format!("only {} timer interrupts arrived", this_cpu().timer_ticks.load(SeqCst) - start))
}

fn redzone_preserved() -> TestResult {
    let bad = under_interrupts(25, || redzone_probe(50, 2000))?;
    ensure!(bad == 0, "{} red-zone words were overwritten by interrupts", bad);
    Ok(())
}

fn fpu_preserved() -> TestResult {
    let clobbers = FPU_CLOBBERS_DONE.load(SeqCst);
    FPU_CLOBBER.store(true, SeqCst);
    let r = under_interrupts(25, || fpu_probe(100_000) as u64);
    FPU_CLOBBER.store(false, SeqCst);
    let bad = r?;
    ensure!(FPU_CLOBBERS_DONE.load(SeqCst) > clobbers, "the timer hook never clobbered the SSE registers");
    ensure!(bad == 0, "{} SSE registers changed under interrupts", bad);
    Ok(())
}

#[inline(never)]
fn ktest_kallsyms_anchor() -> u64 {
    core::hint::black_box(42)
}

fn kallsyms_lookup() -> TestResult {
    let k = kallsyms::table().ok_or("no symbol table in the image")?;
    ensure!(k.len() > 100, "only {} symbols", k.len());
    let f = ktest_kallsyms_anchor as fn() -> u64 as usize as u64;
    let (name, off, size) = k.lookup(f).ok_or("anchor not found")?;
    ensure!(name == "ktest_kallsyms_anchor" && off == 0 && size > 0, "anchor resolved to {}+0x{:x}/0x{:x}", name, off, size);
    ensure!(k.lookup(f + 1).map(|x| x.0) == Some("ktest_kallsyms_anchor"), "anchor+1 did not resolve");
    let sk = crate::init::main::start_kernel as fn(&'static crate::arch::multiboot::BootInfo, u64) -> ! as usize as u64;
    ensure!(kallsyms::lookup_name("start_kernel") == Some(sk), "start_kernel by name: {:x?}, want {:x}", kallsyms::lookup_name("start_kernel"), sk);
    let _ = ktest_kallsyms_anchor();
    Ok(())
}

#[inline(never)]
fn ktest_stack_inner(out: &mut [u64]) -> usize {
    core::hint::black_box(crate::arch::dumpstack::save_stack_trace(out))
}

#[inline(never)]
fn ktest_stack_outer(out: &mut [u64]) -> usize {
    core::hint::black_box(ktest_stack_inner(out))
}

/// A frame-pointer trace names the callers in order.
fn stack_trace() -> TestResult {
    let mut frames = [0u64; 16];
    let n = ktest_stack_outer(&mut frames);
    let k = kallsyms::table().ok_or("no symbol table")?;
    let names: alloc::vec::Vec<&str> = frames[..n].iter().filter_map(|&a| k.lookup(a - 1).map(|x| x.0)).collect();
    let pos = |want: &str| names.iter().position(|n| *n == want);
    let (i, o, t) = (pos("ktest_stack_inner"), pos("ktest_stack_outer"), pos("stack_trace"));
    ensure!(i.is_some() && o.is_some() && t.is_some() && i < o && o < t, "trace was {:?}", names);
    Ok(())
}
