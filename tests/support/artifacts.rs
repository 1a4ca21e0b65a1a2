//! The cross-built BSD objects in dist/<target>/ and the binutils that read
//! them, for the tests that check those objects (tests/openpam_constants.rs,
//! tests/bsd_loaders.rs). `make test-bsd` (ci/test/bsd.sh) builds them first
//! and sets WPAM_REQUIRE_BSD_ARTIFACTS=1: there a missing object fails the
//! test instead of skipping it.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::deadline;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Longest readelf, nm or objdump may take on one object.
pub const TOOL_LIMIT: Duration = Duration::from_secs(60);

/// dist/<target>/<name>, or None (skipped) unless WPAM_REQUIRE_BSD_ARTIFACTS=1.
pub fn artifact(target: &str, name: &str) -> Option<PathBuf> {
    let p = Path::new(ROOT).join("dist").join(target).join(name);
    if p.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var_os("WPAM_REQUIRE_BSD_ARTIFACTS").is_none(),
        "{} missing: run ./build-all.sh {target}",
        p.display()
    );
    eprintln!(
        "skipped: {} not built (./build-all.sh {target})",
        p.display()
    );
    None
}

/// `name args file`'s standard output; the test fails if it fails.
pub fn tool(name: &str, args: &[&str], file: &Path) -> String {
    let out = deadline::output(
        Command::new(name).args(args).arg(file),
        TOOL_LIMIT,
        &format!("{name} {args:?} {}", file.display()),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(out.status.success(), "{name} {args:?} {}", file.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}
