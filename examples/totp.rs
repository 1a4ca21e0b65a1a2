//! Prints the current TOTP code of a base32 secret, with the development
//! Werbot API's algorithm: `totp JBSWY3DPEHPK3PXP`. Used by the BSD VM
//! tests (ci/hosted/bsd-vm-*.sh), where no other TOTP tool is installed.

#[path = "../tests/support/devserver.rs"]
mod devserver;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match (args.next(), args.next()) {
        (Some(secret), None) if devserver::decode_secret(&secret).is_ok() => {
            println!("{}", devserver::totp_now(&secret));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: totp BASE32-SECRET");
            ExitCode::from(2)
        }
    }
}
