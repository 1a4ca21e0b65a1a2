//! Prints the PAM numbers this build of the module uses, one `NAME value` per
//! line (see tests/support/pam_numbers.rs). `tests/openpam_constants.rs`
//! builds it with `LIBPAMSYS_IMPL=OpenPam` (the FreeBSD/NetBSD numbering) and
//! compares with OpenPAM's header values.

#[cfg(not(target_os = "openbsd"))]
#[path = "../tests/support/pam_numbers.rs"]
mod pam_numbers;

#[cfg(not(target_os = "openbsd"))]
fn main() {
    println!("IMPL {}", pam_numbers::implementation());
    for (name, value) in pam_numbers::module_numbers() {
        println!("{name} {value}");
    }
}

#[cfg(target_os = "openbsd")]
fn main() {
    eprintln!("no PAM on OpenBSD");
}
