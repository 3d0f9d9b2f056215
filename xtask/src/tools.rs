//! Host tools xtask needs (QEMU, gdb, musl-gcc): find them on PATH and, when
//! running as root, install missing ones with apt-get.

use crate::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// Executable looked up on PATH.
    pub bin: &'static str,
    /// Debian package that provides it.
    pub package: &'static str,
}

pub const QEMU: Tool = Tool {
    bin: "qemu-system-x86_64",
    package: "qemu-system-x86",
};
pub const GDB: Tool = Tool {
    bin: "gdb",
    package: "gdb",
};
pub const MUSL_GCC: Tool = Tool {
    bin: "musl-gcc",
    package: "musl-tools",
};

/// Debian's static busybox: found at /bin/busybox or /usr/bin/busybox
/// (user.rs), not on PATH, because the dynamic `busybox` package installs
/// the same name.
pub const BUSYBOX_STATIC: &str = "busybox-static";

/// Full path of an executable found on PATH.
pub fn find(bin: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(bin))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The command a non-root user should run to install `packages`.
pub fn install_hint(packages: &[&str]) -> String {
    format!("sudo apt-get install -y {}", packages.join(" "))
}

/// Makes sure every tool is on PATH: installs the missing ones when running as
/// root, otherwise fails with the exact command to run.
pub fn ensure(tools: &[Tool]) -> Result {
    let missing: Vec<Tool> = tools
        .iter()
        .copied()
        .filter(|t| find(t.bin).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let bins: Vec<&str> = missing.iter().map(|t| t.bin).collect();
    let mut packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
    packages.dedup();
    if !is_root() {
        bail!(
            "missing tool(s): {}; install with:\n    {}",
            bins.join(", "),
            install_hint(&packages)
        );
    }
    if find("apt-get").is_none() {
        bail!("missing tool(s): {} (Debian packages: {}), and apt-get is not available to install them", bins.join(", "), packages.join(" "));
    }
    eprintln!(
        "xtask: missing {}; installing {} with apt-get",
        bins.join(", "),
        packages.join(" ")
    );
    apt_install(&packages)?;
    let still: Vec<&str> = missing
        .iter()
        .filter(|t| find(t.bin).is_none())
        .map(|t| t.bin)
        .collect();
    if !still.is_empty() {
        bail!(
            "apt-get install {} succeeded but {} is still not on PATH",
            packages.join(" "),
            still.join(", ")
        );
    }
    Ok(())
}

/// `apt-get update`, then `apt-get install -y <packages>` (as root).
pub fn apt_install(packages: &[&str]) -> Result {
    if find("apt-get").is_none() {
        bail!("apt-get is not available to install {}", packages.join(" "));
    }
    apt(&["update"])?;
    let mut install = vec!["install", "-y"];
    install.extend(packages);
    apt(&install)
}

fn apt(args: &[&str]) -> Result {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("`apt-get {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_but_not_nonsense() {
        assert!(find("sh").is_some());
        assert!(find("definitely-not-a-tool-xyz").is_none());
    }

    #[test]
    fn hint_names_packages() {
        assert_eq!(
            install_hint(&["qemu-system-x86", "gdb"]),
            "sudo apt-get install -y qemu-system-x86 gdb"
        );
    }
}
