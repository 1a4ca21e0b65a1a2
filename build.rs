//! Link settings that depend on the target.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    // macOS records a library's own name (LC_ID_DYLIB) in it; by default
    // that is the build directory's path, which would leak into the shipped
    // module and make two builds in different directories differ. The name
    // is where the tarball installs the module (dlopen by path does not use
    // it). tests/macos.rs checks it. ci/build/build-target.sh links with
    // rust-lld as ld64 (`-C linker-flavor=ld64.lld`), which takes the
    // option itself; a compiler driver (clang on a Mac) takes it as -Wl.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        let name = "/usr/local/lib/pam/pam_wpam.so";
        let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
        if flags
            .split('\x1f')
            .any(|f| f.ends_with("linker-flavor=ld64.lld"))
        {
            println!("cargo:rustc-cdylib-link-arg=-install_name");
            println!("cargo:rustc-cdylib-link-arg={name}");
        } else {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,{name}");
        }
    }
}
