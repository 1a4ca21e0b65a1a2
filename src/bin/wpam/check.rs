//! `wpam check`: gathers the facts and turns them into report items with
//! the rules of `rules.rs`.

use std::path::Path;
use std::process::Command;

use crate::rules::{self as rules, Frontend, Item, SshdConfig, WpamPhases};
use pam_wpam::config::{self, Parsed};
use pam_wpam::trust;

use crate::facts;
use crate::CheckArgs;

/// The report's title and its items, in a stable order.
pub fn run(a: &CheckArgs) -> (String, Vec<Item>) {
    let mut items = Vec::new();
    let se = selinux_state(a);
    let (title, wpam, configs) = frontend(a, &se, &mut items);
    if a.no_sshd || (!a.service.starts_with("sshd") && a.sshd_config.is_none()) {
        // Not an sshd service: nothing to ask sshd.
    } else {
        items.extend(sshd(a, &wpam));
    }
    if cfg!(target_os = "linux") {
        items.push(selinux_item(&se, &a.service));
    }
    let usable = configs.iter().find_map(|p| p.config.as_ref().ok());
    // OpenBSD's style never has a remote host; elsewhere the service tells.
    let service = if cfg!(target_os = "openbsd") {
        "login"
    } else {
        a.service.as_str()
    };
    if let Some(c) = usable {
        items.extend(rules::local_user_ip_item(service, c.local_user_ip));
    }
    match usable {
        Some(c) => items.extend(crate::api::probe(c)),
        None => items.push(Item::fail(
            "api",
            "no usable wpam configuration to reach the API with",
            "fix the configuration errors above",
        )),
    }
    let title = if pam_wpam::sys::euid() == 0 {
        title
    } else {
        format!("{title}\n(not root: files only root may read are reported as unreadable)")
    };
    (title, items)
}

/// The PAM front-end: the policy, wpam's lines and their arguments, the
/// module file, the config and log files.
#[cfg(not(target_os = "openbsd"))]
fn frontend(a: &CheckArgs, se: &Se, items: &mut Vec<Item>) -> (String, WpamPhases, Vec<Parsed>) {
    use crate::pamstack::{self, Flavor, Phase};
    let flavor = Flavor::native();
    let dirs = match &a.pam_dir {
        Some(d) => vec![d.clone()],
        None => flavor.default_dirs(),
    };
    let none = WpamPhases::default();
    let policy = match pamstack::load(&a.service, &dirs, flavor) {
        Ok(p) => p,
        Err(e) => {
            items.push(Item::fail(
                "pam.stack",
                e,
                format!(
                    "create the service's policy file ({}/{}) as pam_wpam(8) shows",
                    dirs.first()
                        .map_or_else(String::new, |d| d.display().to_string()),
                    a.service
                ),
            ));
            return (
                format!("wpam check: service {}", a.service),
                none,
                Vec::new(),
            );
        }
    };
    let title = format!(
        "wpam check: service {} (PAM policy {})",
        a.service,
        policy
            .file
            .as_ref()
            .map_or_else(|| "\"other\"".into(), |p| p.display().to_string())
    );
    items.push(rules::stack_item(&a.service, &policy));
    let mut wpam = WpamPhases {
        auth: policy.wpam_lines(Phase::Auth).next().is_some(),
        account: policy.wpam_lines(Phase::Account).next().is_some(),
        ..WpamPhases::default()
    };
    if !(wpam.auth || wpam.account) {
        return (title, wpam, Vec::new());
    }
    items.push(rules::enforcement_item(&a.service, &policy));
    let mut parsed_all = Vec::new();
    let mut modules: Vec<String> = Vec::new();
    let mut auth_groups = false;
    for phase in [Phase::Auth, Phase::Account] {
        for (n, e) in policy.wpam_lines(phase).enumerate() {
            let name = if n == 0 {
                format!("pam.args.{phase}")
            } else {
                format!("pam.args.{phase}.{}", n + 1)
            };
            let parsed = config::parse(&e.args);
            items.push(rules::args_item(&name, e, &parsed, &System));
            if let Ok(c) = &parsed.config {
                match phase {
                    Phase::Auth => {
                        auth_groups |= c.groups.is_set();
                        wpam.second_factor_only |= c.second_factor_only;
                    }
                    _ if n == 0 => {
                        wpam.account_phase = c.account_phase;
                        wpam.account_exempt = c.groups.exclude.clone();
                    }
                    _ => {}
                }
            }
            if !modules.contains(&e.module) {
                modules.push(e.module.clone());
            }
            parsed_all.push((e.args.clone(), parsed));
        }
    }
    if wpam.auth {
        let stack = policy.stack(Phase::Auth);
        let assume = pamstack::Assume::for_service(&a.service, auth_groups);
        let ways = pamstack::without_a_factor(stack, Phase::Auth, &assume);
        wpam.first_factor = Some(rules::FirstFactor {
            wpam_alone: ways.wpam_alone,
            nothing: ways.nothing,
            modules: stack
                .iter()
                .filter(|e| pamstack::asks_a_factor(e))
                .map(|e| format!("{} ({})", e.module, e.place()))
                .collect(),
        });
    }
    let module_dirs = if a.module_dirs.is_empty() {
        facts::module_dirs()
    } else {
        a.module_dirs.clone()
    };
    for (n, m) in modules.iter().enumerate() {
        let name = numbered("module", n);
        items.push(module_item(&name, m, flavor, &module_dirs));
    }
    config_and_log_items(items, se, &parsed_all);
    (
        title,
        wpam,
        parsed_all.into_iter().map(|(_, p)| p).collect(),
    )
}

/// The OpenBSD front-end: the login.conf style, its program, its config file.
#[cfg(target_os = "openbsd")]
fn frontend(a: &CheckArgs, se: &Se, items: &mut Vec<Item>) -> (String, WpamPhases, Vec<Parsed>) {
    let wpam = WpamPhases {
        auth: true,
        ..WpamPhases::default()
    };
    items.push(login_conf_item(&a.login_conf));
    items.push(style_item(&a.style));
    // Installed from the package (not a tarball): is the copy its program?
    if let Ok(packaged) = std::fs::read(rules::PACKAGED_STYLE) {
        if let Ok(copy) = std::fs::read(&a.style) {
            items.push(rules::style_copy_item(
                &a.style.display().to_string(),
                &copy,
                &packaged,
            ));
        }
    }
    let title = format!(
        "wpam check: BSD Authentication style -wpam ({}, {})",
        a.login_conf.display(),
        a.config.display()
    );
    let settings = match pam_wpam::bsdauth::load_settings(&a.config) {
        Ok(s) => s,
        Err(e) => {
            items.push(Item::fail(
                "config_file",
                e.to_string(),
                rules::Lookups::config_file_fix(&System, &a.config.display().to_string()),
            ));
            return (title, wpam, Vec::new());
        }
    };
    let args: Vec<String> = settings.args.iter().map(|a| a.to_string()).collect();
    let parsed = config::parse(&args);
    let place = a.config.display().to_string();
    let mut item = rules::settings_item("config_file", &place, &[], &parsed, &System);
    if item.passed() {
        if let Some(w) = settings.warnings.first() {
            item = Item::fail("config_file", format!("{place}: {w}"), "correct that line");
        }
    }
    items.push(item);
    offline_items(items, &[&parsed]);
    log_items(items, se, &[&parsed]);
    (title, wpam, vec![parsed])
}

/// The settings rules' questions, asked of this system.
struct System;

impl rules::Lookups for System {
    fn group_exists(&self, name: &str) -> Result<bool, String> {
        pam_wpam::sys::group_gid(name)
            .map(|g| g.is_some())
            .map_err(|e| e.to_string())
    }

    fn config_file_fix(&self, path: &str) -> String {
        let missing = matches!(
            facts::lstat(Path::new(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound
        );
        rules::config_file_fix(
            path,
            missing,
            &facts::config_example().display().to_string(),
        )
    }
}

fn numbered(base: &str, n: usize) -> String {
    if n == 0 {
        base.to_string()
    } else {
        format!("{base}.{}", n + 1)
    }
}

/// Where the library finds a module, and whether that file is safe and loads.
#[cfg(not(target_os = "openbsd"))]
fn module_item(
    name: &str,
    module: &str,
    flavor: crate::pamstack::Flavor,
    dirs: &[std::path::PathBuf],
) -> Item {
    let candidates = crate::pamstack::module_candidates(module, flavor, dirs);
    let Some(path) = candidates.iter().find(|p| p.exists()) else {
        let tried = candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Item::fail(
            name,
            format!("{module} not found (tried {tried}): PAM fails every login through it"),
            if cfg!(target_os = "netbsd") {
                "install the package, and name the module by its absolute path /usr/pkg/lib/security/pam_wpam.so".to_string()
            } else {
                format!(
                    "install the wpam package, or name the module by its absolute path (searched: {})",
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        );
    };
    match path_problem(path) {
        Ok(None) => {}
        Ok(Some(p)) => {
            return Item::fail(
                name,
                format!("{}: {p}", path.display()),
                "make it and every directory above it owned by root and not writable by group or others (chown root; chmod go-w)",
            )
        }
        Err(e) => return Item::fail(name, format!("{}: {e}", path.display()), "check the path"),
    }
    if let Err(e) = facts::module_loads(path) {
        return Item::fail(
            name,
            format!("{}: cannot be loaded: {e}", path.display()),
            "reinstall the wpam package for this system and architecture",
        );
    }
    let owner = facts::owner_and_mode(path);
    let found = if module.starts_with('/') {
        String::new()
    } else {
        format!("{module} is found at ")
    };
    Item::pass(
        name,
        format!(
            "{found}{} ({owner}): loads, exports pam_sm_authenticate, pam_sm_acct_mgmt, pam_sm_setcred",
            path.display()
        ),
    )
}

/// The first of a file and the directories above it that someone other
/// than root could change.
fn path_problem(path: &Path) -> std::io::Result<Option<String>> {
    for p in facts::path_chain(path)? {
        let (f, _) = facts::lstat(&p)?;
        if let Some(problem) =
            rules::module_path_problem(&p.display().to_string(), &f, trust::trusted_owner)
        {
            return Ok(Some(problem));
        }
    }
    Ok(None)
}

/// `config_file` (each distinct `config=`) and `log_file` (each distinct
/// log file) of the wpam lines.
#[cfg(not(target_os = "openbsd"))]
fn config_and_log_items(items: &mut Vec<Item>, se: &Se, lines: &[(Vec<String>, Parsed)]) {
    let mut paths: Vec<&str> = Vec::new();
    for (args, _) in lines {
        for a in args {
            if let Some(p) = a.strip_prefix("config=") {
                if !paths.contains(&p) {
                    paths.push(p);
                }
            }
        }
    }
    if paths.is_empty() {
        items.push(Item::fail(
            "config_file",
            "no config= argument: the service key can only be on the world-readable pam.d line",
            "put service_key in /etc/security/wpam.conf (root:root 0600) and add config=/etc/security/wpam.conf",
        ));
    }
    for (n, p) in paths.iter().enumerate() {
        items.push(config_file_item(&numbered("config_file", n), Path::new(p)));
    }
    let parsed: Vec<&Parsed> = lines.iter().map(|(_, p)| p).collect();
    offline_items(items, &parsed);
    log_items(items, se, &parsed);
}

/// The module's own reader on the config file: owner, mode, type, size.
#[cfg(not(target_os = "openbsd"))]
fn config_file_item(name: &str, path: &Path) -> Item {
    match config::read_config_file(path) {
        Ok(pairs) => {
            let owner = facts::owner_and_mode(path);
            Item::pass(
                name,
                format!("{} ({owner}), {} setting(s)", path.display(), pairs.len()),
            )
        }
        Err(e) => Item::fail(
            name,
            e.to_string(),
            rules::Lookups::config_file_fix(&System, &path.display().to_string()),
        ),
    }
}

/// `offline` (each distinct set of offline users and secrets file): who
/// gets in during an outage, and with what.
fn offline_items(items: &mut Vec<Item>, parsed: &[&Parsed]) {
    let mut seen: Vec<(&[String], Option<&Path>)> = Vec::new();
    for c in parsed.iter().filter_map(|p| p.config.as_ref().ok()) {
        let key = (c.offline_users.as_slice(), c.offline_secrets.as_deref());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let path = c.offline_secrets.as_deref();
        let shown = path.map(|p| p.display().to_string());
        let facts = rules::OfflineFacts {
            offline_users: &c.offline_users,
            secrets_file: shown.as_deref(),
            secrets: path.map_or(Ok(Vec::new()), |p| {
                pam_wpam::offline::Secrets::load(p)
                    .map(|s| s.logins().map(str::to_string).collect())
                    .map_err(|e| e.to_string())
            }),
            state: path.map_or(Ok(()), |p| {
                pam_wpam::offline::check_state_file(p).map_err(|e| e.to_string())
            }),
            owner: path.map(facts::owner_and_mode).unwrap_or_default(),
        };
        items.extend(rules::offline_item(
            &numbered("offline", seen.len() - 1),
            &facts,
        ));
    }
}

fn log_items(items: &mut Vec<Item>, se: &Se, parsed: &[&Parsed]) {
    let mut logs: Vec<&Path> = Vec::new();
    for p in parsed {
        if !logs.contains(&p.log_file.as_path()) {
            logs.push(&p.log_file);
        }
    }
    for (n, l) in logs.iter().enumerate() {
        items.push(log_item(&numbered("log_file", n), l, se));
    }
}

/// The module's rules for its log file, and its SELinux label.
fn log_item(name: &str, path: &Path, se: &Se) -> Item {
    let shown = path.display().to_string();
    match facts::lstat(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = path.parent().unwrap_or(Path::new("/"));
            let group = facts::log_group();
            if parent.is_dir() {
                Item::pass(
                    name,
                    format!(
                        "{shown} does not exist yet: the module creates it root:root 0640 at the \
                         first login (or now, as the packages do: {})",
                        rules::log_file_create(&shown, group, None)
                    ),
                )
            } else {
                let dir = parent.display().to_string();
                Item::fail(
                    name,
                    format!("{shown}: the directory {dir} does not exist: the module logs to syslog only"),
                    format!(
                        "{} (or set log_file= to a file in an existing directory)",
                        rules::log_file_create(&shown, group, Some(&dir))
                    ),
                )
            }
        }
        Err(e) => Item::fail(name, format!("{shown}: {e}"), "check the path and its directory"),
        Ok((_, true)) => Item::fail(
            name,
            format!("{shown} is a symbolic link: the module refuses it and logs to syslog only"),
            format!("replace the link with a regular file: install -m 0640 -o root -g {} /dev/null {shown}", facts::log_group()),
        ),
        Ok((f, false)) => {
            if let Some((why, fix)) = rules::log_file_problem(&shown, &f, trust::trusted_owner, facts::log_group()) {
                return Item::fail(name, format!("{shown}: {why}"), fix);
            }
            let mut detail = format!("{shown} ({}, regular, 1 link)", facts::owner_text(&f));
            if se.enabled {
                if let Some(label) = se.label(path) {
                    detail.push_str(&format!(", SELinux label {label}"));
                    let policy_loaded = matches!(se.wpam_loaded, Some(Ok(true)));
                    if policy_loaded && !label.contains(":wpam_log_t:") {
                        return Item::fail(
                            name,
                            format!("{detail}: not wpam_log_t, the type the wpam policy lets PAM logins append to"),
                            format!("restorecon -v {shown}"),
                        );
                    }
                }
            }
            Item::pass(name, detail)
        }
    }
}

/// SELinux as the check finds it (Linux; elsewhere never enabled).
#[derive(Default)]
struct Se {
    enabled: bool,
    enforcing: bool,
    /// `semodule -l` lists wpam; None when SELinux is off.
    wpam_loaded: Option<Result<bool, String>>,
    /// wpam's booleans the loaded policy has, and whether each is on.
    booleans: Vec<(&'static str, bool)>,
}

/// The booleans of wpam's policy module (packaging/selinux/wpam.cil), one
/// per login domain; wpam_permit_sshd_session exists only in policies with
/// sshd_session_t (OpenSSH >= 9.8).
const WPAM_BOOLEANS: [&str; 3] = [
    "wpam_permit_sshd",
    "wpam_permit_sshd_session",
    "wpam_permit_local_login",
];

/// wpam's booleans as selinuxfs shows them (`booleans/NAME` reads
/// "CURRENT PENDING", each 0 or 1); the ones the policy lacks are left out.
fn wpam_booleans(selinuxfs: &Path) -> Vec<(&'static str, bool)> {
    WPAM_BOOLEANS
        .iter()
        .filter_map(|&b| {
            let v = std::fs::read_to_string(selinuxfs.join("booleans").join(b)).ok()?;
            Some((b, v.split_whitespace().next() == Some("1")))
        })
        .collect()
}

impl Se {
    fn label(&self, path: &Path) -> Option<String> {
        #[cfg(target_os = "linux")]
        {
            facts::selinux_label(path)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = path;
            None
        }
    }
}

fn selinux_state(a: &CheckArgs) -> Se {
    if !cfg!(target_os = "linux") {
        return Se::default();
    }
    let Ok(mode) = std::fs::read_to_string(a.selinuxfs.join("enforce")) else {
        return Se::default();
    };
    Se {
        enabled: true,
        enforcing: mode.trim() == "1",
        wpam_loaded: Some(semodule_has_wpam(&a.semodule)),
        booleans: wpam_booleans(&a.selinuxfs),
    }
}

/// Whether `semodule -l` lists a module named wpam.
fn semodule_has_wpam(semodule: &Path) -> Result<bool, String> {
    let out = crate::run::bounded(Command::new(semodule).arg("-l"), crate::run::LIMIT)?;
    if !out.success {
        return Err(format!(
            "{} -l: {} {}",
            semodule.display(),
            out.status,
            out.stderr.trim()
        ));
    }
    Ok(out
        .stdout
        .lines()
        .any(|l| l.split_whitespace().next() == Some("wpam")))
}

/// `selinux`: SELinux's mode, wpam's policy module and its booleans.
fn selinux_item(se: &Se, service: &str) -> Item {
    let name = "selinux";
    if !se.enabled {
        return Item::pass(name, "SELinux is not enabled");
    }
    let shown = if se.enforcing {
        "enforcing"
    } else {
        "permissive"
    };
    match (&se.wpam_loaded, se.enforcing) {
        (Some(Ok(true)), _) => loaded_item(name, shown, se, service),
        (Some(Ok(false)), true) => Item::fail(
            name,
            "SELinux is enforcing and no wpam policy module is loaded: sshd may not connect to the API or write the log (every login fails)",
            "install the wpam package's SELinux policy module (semodule -X 200 -i /usr/share/selinux/packages/wpam.cil; docs/admin.md, \"SELinux\") before anyone logs in",
        ),
        (Some(Err(e)), true) => Item::fail(
            name,
            format!("SELinux is enforcing and the policy modules cannot be listed ({e})"),
            "install policycoreutils (semodule) and the wpam policy module",
        ),
        (Some(Err(e)), false) => Item::pass(name, format!("SELinux is permissive (policy modules not listed: {e})")),
        _ => Item::pass(
            name,
            "SELinux is permissive: denials are logged, not enforced (load the wpam policy module before enforcing)",
        ),
    }
}

/// The module is loaded: its booleans decide which login domains it
/// covers. For an sshd service, enforcing with every sshd boolean off is a
/// failure (sshd_t and, OpenSSH >= 9.8, sshd_session_t may not connect).
fn loaded_item(name: &str, shown: &str, se: &Se, service: &str) -> Item {
    let states: Vec<String> = se
        .booleans
        .iter()
        .map(|(b, on)| format!("{b} {}", if *on { "on" } else { "off" }))
        .collect();
    let mut detail = format!("SELinux is {shown}; the wpam policy module is loaded");
    if !states.is_empty() {
        detail.push_str(&format!(" ({})", states.join(", ")));
    }
    let sshd: Vec<_> = se
        .booleans
        .iter()
        .filter(|(b, _)| b.starts_with("wpam_permit_sshd"))
        .collect();
    if se.enforcing
        && service.starts_with("sshd")
        && !sshd.is_empty()
        && sshd.iter().all(|(_, on)| !on)
    {
        let fix = sshd
            .iter()
            .map(|(b, _)| format!("setsebool -P {b} on"))
            .collect::<Vec<_>>()
            .join("; ");
        return Item::fail(
            name,
            format!("{detail}: with its sshd booleans off, sshd may not connect to the API (every login fails)"),
            fix,
        );
    }
    Item::pass(name, detail)
}

/// `sshd.*`: sshd's effective configuration (`sshd -T`).
fn sshd(a: &CheckArgs, wpam: &WpamPhases) -> Vec<Item> {
    let mut cmd = Command::new(&a.sshd);
    cmd.arg("-T");
    if let Some(f) = &a.sshd_config {
        cmd.arg("-f").arg(f);
    }
    if let Some(m) = &a.sshd_match {
        cmd.arg("-C").arg(m);
    }
    let out = match crate::run::bounded(&mut cmd, crate::run::LIMIT) {
        Ok(o) if o.success => o,
        Ok(o) => {
            return vec![Item::fail(
                "sshd.config",
                format!(
                    "{} -T: {}: {}",
                    a.sshd.display(),
                    o.status,
                    o.stderr.lines().last().unwrap_or("").trim()
                ),
                format!("run `{} -t` and correct what it reports", a.sshd.display()),
            )]
        }
        Err(e) => {
            return vec![Item::fail(
                "sshd.config",
                e,
                "install OpenSSH's server, or give its path with --sshd (or --no-sshd)",
            )]
        }
    };
    let cfg = SshdConfig::parse(&out.stdout);
    let frontend = if cfg!(target_os = "openbsd") {
        Frontend::BsdAuth
    } else {
        Frontend::Pam
    };
    let mut items = rules::sshd_items(&cfg, wpam, frontend);
    // OpenSSH >= 9.8 names its PAM service in the configuration.
    if let Some(s) = cfg.get("pamservicename") {
        items.push(if s == a.service {
            Item::pass("sshd.pam_service", format!("PAMServiceName {s}"))
        } else {
            Item::fail(
                "sshd.pam_service",
                format!("sshd uses the PAM service {s:?}, not {:?}", a.service),
                format!("check --service {s}, or set PAMServiceName {}", a.service),
            )
        });
    }
    items
}

/// `login_conf`: the style is the first of auth-ssh's (or auth's) list of
/// some class, and login.conf.db (if any) is not older.
#[cfg(target_os = "openbsd")]
fn login_conf_item(path: &Path) -> Item {
    let name = "login_conf";
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Item::fail(name, format!("{}: {e}", path.display()), "check the path"),
    };
    let mut first = Vec::new();
    let mut later = Vec::new();
    for entry in text.replace("\\\n", "").lines() {
        let entry = entry.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let class = entry.split([':', '|']).next().unwrap_or("").to_string();
        for cap in entry.split(':') {
            let Some(list) = cap
                .strip_prefix("auth-ssh=")
                .or_else(|| cap.strip_prefix("auth="))
            else {
                continue;
            };
            let styles: Vec<&str> = list.split(',').collect();
            if styles.first() == Some(&"-wpam") {
                first.push(class.clone());
            } else if styles.contains(&"-wpam") {
                later.push(class.clone());
            }
        }
    }
    if first.is_empty() {
        return Item::fail(
            name,
            if later.is_empty() {
                format!("no class of {} lists the style -wpam", path.display())
            } else {
                format!(
                    "-wpam is listed but not first for {}: sshd uses the first style",
                    later.join(", ")
                )
            },
            format!(
                "set :auth-ssh=-wpam: in the class (e.g. default) of {}",
                path.display()
            ),
        );
    }
    let db = path.with_extension("conf.db");
    if let (Ok(d), Ok(c)) = (std::fs::metadata(&db), std::fs::metadata(path)) {
        if let (Ok(dm), Ok(cm)) = (d.modified(), c.modified()) {
            if dm < cm {
                return Item::fail(
                    name,
                    format!(
                        "{} is older than {}: its changes are not in effect",
                        db.display(),
                        path.display()
                    ),
                    format!("cap_mkdb {}", path.display()),
                );
            }
        }
    }
    Item::pass(
        name,
        format!("-wpam is the auth-ssh style of class {}", first.join(", ")),
    )
}

/// `style`: the program BSD Authentication runs, as secure_path(3) wants it.
#[cfg(target_os = "openbsd")]
fn style_item(path: &Path) -> Item {
    let name = "style";
    match path_problem(path) {
        Ok(None) => match facts::lstat(path) {
            Ok((f, false)) if f.is_file && f.mode & 0o111 != 0 => Item::pass(
                name,
                format!("{} ({})", path.display(), facts::owner_text(&f)),
            ),
            _ => Item::fail(
                name,
                format!("{} is not an executable regular file", path.display()),
                "reinstall the wpam package (pkg_add)",
            ),
        },
        Ok(Some(p)) => Item::fail(
            name,
            p,
            format!("chown root:auth {0}; chmod 0555 {0}", path.display()),
        ),
        Err(e) => Item::fail(
            name,
            format!("{}: {e}", path.display()),
            "install the wpam package (pkg_add), which copies it there",
        ),
    }
}
