//! Fuzz target `connect_answer`: see `checks::connect_answer` (fuzz/checks.rs).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::connect_answer(data));
