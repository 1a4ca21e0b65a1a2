//! Facts about PAM services that both the checks (rules.rs) and the PAM
//! stack reader (pamstack.rs) use; a module of its own, so that the fuzz
//! target `pamstack` can include pamstack.rs with it alone (fuzz/checks.rs).

/// PAM services whose logins have no remote host (PAM_RHOST): the console,
/// su, sudo, runuser, polkit. `wpam check` of such a service looks for
/// `local_user_ip` (rules.rs); pam_rootok lets only root through most of
/// them (pamstack.rs).
pub const LOCAL_SERVICES: [&str; 9] = [
    "login",
    "su",
    "su-l",
    "sudo",
    "sudo-i",
    "runuser",
    "runuser-l",
    "polkit-1",
    "doas",
];
