//! Replays the fuzz corpus (fuzz/corpus/<target>/, the checked-in seeds)
//! and every crash the fuzzers found (fuzz/regressions/<target>/) through
//! the same checks the libFuzzer targets run (fuzz/checks.rs), on the
//! pinned stable toolchain: `make test` proves them without nightly or
//! cargo-fuzz. `make fuzz` runs the fuzzers themselves.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut n = 0;
    for (target, check) in checks::TARGETS {
        for file in inputs(&root.join(target)) {
            let data = std::fs::read(&file).expect("read input");
            let caught = std::panic::catch_unwind(|| check(&data));
            assert!(
                caught.is_ok(),
                "{target}: {} fails its check",
                file.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn every_target_has_a_corpus_and_a_target_file() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (target, _) in checks::TARGETS {
        assert!(
            !inputs(&fuzz.join("corpus").join(target)).is_empty(),
            "fuzz/corpus/{target} has no seeds"
        );
        assert!(fuzz.join(format!("fuzz_targets/{target}.rs")).is_file());
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target} not in fuzz/Cargo.toml"
        );
    }
}

#[test]
fn the_corpus_passes_every_check() {
    assert!(replay("corpus") > 0);
}

#[test]
fn every_crash_found_stays_fixed() {
    replay("regressions");
}
