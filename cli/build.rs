//! Links the `flarego` and `flarego-agent` binaries with packed relative
//! relocations (DT_RELR) where the C library can load them (glibc 2.36+).
//!
//! A position-independent Rust binary of this size carries about 6 MB of
//! `R_X86_64_RELATIVE` entries that the loader reads at every start and
//! that then stay resident; packed, they are under 100 KB. That is most of
//! the difference between the agent's resident set and its working data.
//! Older glibc cannot load such binaries, so they are linked as before.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let cross = std::env::var("HOST").ok() != std::env::var("TARGET").ok();
    if target_os != "linux" || target_env != "gnu" || cross {
        return;
    }
    if glibc_version().is_some_and(|v| v >= (2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The host glibc version, from `getconf GNU_LIBC_VERSION` ("glibc 2.36").
fn glibc_version() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
