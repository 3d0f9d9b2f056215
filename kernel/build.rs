//! Link the kernel as a static, non-PIE, higher-half ELF with our own linker
//! script. The flags apply only to the kernel binary (`rustc-link-arg-bins`), so
//! host builds of other crates and `cargo test` are untouched.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--build-id=none",
        "-Wl,-z,max-page-size=0x1000",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=src/arch/x86_64/boot.S");
    println!("cargo:rerun-if-changed=src/arch/x86_64/entry_64.S");
    // The banner names the compiler, as Linux's names gcc.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "rustc".into());
    println!("cargo:rustc-env=TINE_RUSTC_VERSION={version}");
    // Without the kernel rustflags the image would use the red zone and must
    // never be booted; `cargo xtask build` always passes them.
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if !flags.contains("no-redzone") {
        println!("cargo:warning=kernel built without -Cno-redzone: build it with `cargo xtask build`, this image must not be booted");
    }
}
