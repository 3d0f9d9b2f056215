//! Test helpers: a fake multiboot kernel (testdata/fake_kernel.S) built with
//! the host C compiler, so build/kallsyms/QEMU code can be tested without the
//! real kernel. Tests that need `cc` or QEMU skip themselves when missing.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds the fake kernel; `text_lma_shift` != 0 breaks the flat file layout.
/// None (with a note on stderr) if there is no C compiler.
pub fn fake_kernel(text_lma_shift: u64) -> Option<PathBuf> {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if crate::tools::find("cc").is_none() {
        eprintln!("note: no `cc` on PATH; skipping a test that needs the fake kernel");
        return None;
    }
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/src/testdata");
    let dir = scratch_dir();
    let out = dir.join(format!("fake-{text_lma_shift:#x}.elf"));
    if out.exists() {
        return Some(out);
    }
    let status = Command::new("cc")
        .args([
            "-nostdlib",
            "-static",
            "-no-pie",
            "-Wl,--build-id=none",
            "-Wl,-z,max-page-size=0x1000",
        ])
        .arg(format!("-Wl,--defsym=TEXT_LMA_SHIFT={text_lma_shift:#x}"))
        .arg(format!("-T{data}/fake_kernel.ld"))
        .arg(format!("{data}/fake_kernel.S"))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("running cc");
    assert!(status.success(), "building the fake kernel failed");
    Some(out)
}

/// A directory for this test process, under $TMPDIR/xtask-tests/<pid>.
/// Directories of test processes that are gone are removed on first use.
pub fn scratch_dir() -> PathBuf {
    static CLEAN: std::sync::Once = std::sync::Once::new();
    let base = std::env::temp_dir().join("xtask-tests");
    CLEAN.call_once(|| {
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(&pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
    let dir = base.join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).expect("creating the test scratch directory");
    dir
}

/// True if QEMU is installed; otherwise prints a note so the skip is visible.
pub fn have_qemu() -> bool {
    let ok = crate::tools::find(crate::tools::QEMU.bin).is_some();
    if !ok {
        eprintln!(
            "note: qemu-system-x86_64 not installed; skipping a test that boots the fake kernel"
        );
    }
    ok
}
