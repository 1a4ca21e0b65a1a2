//! A service's PAM policy, read the way the platform's PAM library reads it,
//! for `wpam check` and `wpam test` (the module itself never reads it).
//!
//! Linux-PAM (`pam_handlers.c`, `pam_misc.c`, `pam_assemble_line.h`):
//! - `<dir>/<service>` from the first directory that has it (`/etc/pam.d`,
//!   then `/usr/lib/pam.d`; only the given one under `pam_start_confdir`),
//!   then `<dir>/other`: for each phase the service's lines are used, or
//!   `other`'s when the service has none of that phase;
//! - a line is `type control module [args]`; `#` ends a line anywhere; a
//!   line ending in `\` continues on the next (but not through a comment);
//!   a word in `[ ]` is one word, with `\]` for `]` (a bracket control such
//!   as `[success=ok default=bad]`, or an argument with spaces);
//! - `-type` loads the module silently; an unknown type or control, or a
//!   line without a module, is installed to fail every call;
//! - `include FILE` and `substack FILE` read that file's lines of the same
//!   type (a substack's `done`/`die` end the substack only); Debian's
//!   `@include FILE` reads every type; a file that cannot be read makes the
//!   line fail; 16 levels at most.
//!
//! OpenPAM (`openpam_configure.c`): `<dir>/<service>` from `/etc/pam.d`
//! then `/usr/local/etc/pam.d`, `other` for a facility the service lacks;
//! `facility control module [args]`, controls `required`, `requisite`,
//! `sufficient`, `binding`, `optional` and `include SERVICE`; `#` comments,
//! `\` continuations, words quoted with `"` or `'`. (`/etc/pam.conf` is not
//! read: both libraries use it only where no pam.d directory exists.)
//!
//! Pure apart from reading the policy files, which it does with a size bound
//! and without blocking on a FIFO.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest policy file read.
const MAX_FILE: u64 = 1 << 20;
/// Linux-PAM's PAM_SUBSTACK_MAX_LEVEL (and a bound for OpenPAM's includes).
const MAX_LEVEL: usize = 16;

/// Which PAM library's rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    LinuxPam,
    OpenPam,
}

impl Flavor {
    /// This build's PAM library.
    pub const fn native() -> Flavor {
        if cfg!(any(target_os = "freebsd", target_os = "netbsd")) {
            Flavor::OpenPam
        } else {
            Flavor::LinuxPam
        }
    }

    /// Where this library looks for a service's policy, in order.
    pub fn default_dirs(self) -> Vec<PathBuf> {
        let dirs: &[&str] = match self {
            Flavor::LinuxPam => &["/etc/pam.d", "/usr/lib/pam.d"],
            Flavor::OpenPam => &["/etc/pam.d", "/usr/local/etc/pam.d"],
        };
        dirs.iter().map(PathBuf::from).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Auth,
    Account,
    Session,
    Password,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Auth, Phase::Account, Phase::Session, Phase::Password];

    fn parse(s: &str) -> Option<Phase> {
        match s.to_ascii_lowercase().as_str() {
            "auth" => Some(Phase::Auth),
            "account" => Some(Phase::Account),
            "session" => Some(Phase::Session),
            "password" => Some(Phase::Password),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Auth => "auth",
            Phase::Account => "account",
            Phase::Session => "session",
            Phase::Password => "password",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a module's result does to the stack (Linux-PAM's actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Ignore,
    Ok,
    Done,
    Bad,
    Die,
    Reset,
    /// Skip this many following modules.
    Jump(u32),
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "ignore" => Action::Ignore,
            "ok" => Action::Ok,
            "done" => Action::Done,
            "bad" => Action::Bad,
            "die" => Action::Die,
            "reset" => Action::Reset,
            n => match n.parse::<u32>() {
                Ok(j) if j > 0 => Action::Jump(j),
                _ => return None,
            },
        })
    }
}

/// A line's control, reduced to what wpam needs to know: what happens when
/// the module succeeds and when it fails (PAM_AUTH_ERR and the like).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    pub on_success: Action,
    pub on_failure: Action,
}

impl Control {
    /// A keyword control (`required`...), or a `[value=action ...]` list
    /// with Linux-PAM's defaults (an unparsable list: everything is `bad`).
    fn parse(word: &str, bracketed: bool, flavor: Flavor) -> Option<Control> {
        let c = |on_success, on_failure| {
            Some(Control {
                on_success,
                on_failure,
            })
        };
        if bracketed {
            return (flavor == Flavor::LinuxPam).then(|| parse_actions(word));
        }
        match word.to_ascii_lowercase().as_str() {
            "required" => c(Action::Ok, Action::Bad),
            "requisite" => c(Action::Ok, Action::Die),
            "optional" => c(Action::Ok, Action::Ignore),
            "sufficient" => c(Action::Done, Action::Ignore),
            // OpenPAM: success ends the chain if nothing failed before;
            // failure is remembered (as required).
            "binding" if flavor == Flavor::OpenPam => c(Action::Done, Action::Bad),
            _ => None,
        }
    }

    /// A failure of this module fails the stack.
    pub fn enforces(&self) -> bool {
        matches!(self.on_failure, Action::Bad | Action::Die)
    }

    /// A success of this module can end the stack before later modules run.
    pub fn can_end_early(&self) -> bool {
        matches!(self.on_success, Action::Done)
    }
}

fn parse_actions(list: &str) -> Control {
    let mut map: BTreeMap<String, Action> = BTreeMap::new();
    for pair in list.split_whitespace() {
        let Some((k, v)) = pair.split_once('=') else {
            return Control {
                on_success: Action::Bad,
                on_failure: Action::Bad,
            };
        };
        match Action::parse(v) {
            Some(a) => {
                map.insert(k.to_string(), a);
            }
            None => {
                return Control {
                    on_success: Action::Bad,
                    on_failure: Action::Bad,
                }
            }
        }
    }
    let default = map.get("default").copied().unwrap_or(Action::Bad);
    let get = |k: &str| map.get(k).copied().unwrap_or(default);
    Control {
        on_success: get("success"),
        on_failure: get("auth_err"),
    }
}

/// One module line of the effective stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub phase: Phase,
    /// None when the library installs the line to fail (see `broken`).
    pub control: Option<Control>,
    /// The control as written.
    pub control_text: String,
    pub module: String,
    pub args: Vec<String>,
    pub file: PathBuf,
    pub line: usize,
    /// `-type`: a module that cannot be loaded is skipped without a log line.
    pub silent: bool,
    /// Substack depth (Linux-PAM `substack`), 0 for the top level.
    pub level: usize,
    /// Why the library makes this line fail every call, if it does.
    pub broken: Option<String>,
}

impl Entry {
    pub fn place(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    /// This line loads wpam (`pam_wpam.so`, by name or path).
    pub fn is_wpam(&self) -> bool {
        is_wpam_module(&self.module)
    }
}

/// `pam_wpam.so` (or `pam_wpam.so.N`), by name or path; also cargo's
/// `libpam_wpam.so`, which a stack may name straight from a build.
pub fn is_wpam_module(module: &str) -> bool {
    let name = module.rsplit('/').next().unwrap_or(module);
    matches!(name.split('.').next(), Some("pam_wpam" | "libpam_wpam"))
}

/// The effective policy of a service.
#[derive(Debug, Default)]
pub struct Policy {
    /// The service's own file, if found.
    pub file: Option<PathBuf>,
    /// For each phase, the lines the library runs, in order.
    pub stacks: BTreeMap<Phase, Vec<Entry>>,
    /// Phases taken from `other` because the service has none.
    pub from_other: Vec<Phase>,
    /// Files that could not be read or made lines fail.
    pub problems: Vec<String>,
}

impl Policy {
    pub fn stack(&self, phase: Phase) -> &[Entry] {
        self.stacks.get(&phase).map_or(&[], Vec::as_slice)
    }

    pub fn wpam_lines(&self, phase: Phase) -> impl Iterator<Item = &Entry> {
        self.stack(phase).iter().filter(|e| e.is_wpam())
    }

    pub fn all_wpam_lines(&self) -> impl Iterator<Item = &Entry> {
        self.stacks.values().flatten().filter(|e| e.is_wpam())
    }

    /// The lines of a phase the library makes fail.
    pub fn broken(&self) -> impl Iterator<Item = &Entry> {
        self.stacks
            .values()
            .flatten()
            .filter(|e| e.broken.is_some())
    }
}

/// Reads one policy file (bounded, never blocking on a FIFO).
fn read_file(path: &Path) -> Result<String, String> {
    let (mut f, size) = pam_wpam::sys::open_regular(path, 0, MAX_FILE)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::with_capacity(size as usize + 1);
    pam_wpam::sys::read_bounded(&mut f, MAX_FILE, &mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Linux-PAM reads bytes; non-UTF-8 bytes can only be in arguments.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Logical lines of a Linux-PAM policy file: (first physical line number,
/// text), comments removed, continuations joined with a space.
fn linux_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut acc: Option<(usize, String)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let has_comment = raw.contains('#');
        let mut part = raw.split('#').next().unwrap_or("").to_string();
        let trimmed_end = raw.trim_end_matches([' ', '\t', '\r']);
        let continues = !has_comment && trimmed_end.ends_with('\\');
        if continues {
            let cut = trimmed_end.len() - 1;
            part = format!("{} ", &raw[..cut]);
        }
        let part = part.trim_start_matches([' ', '\t']).to_string();
        let entry = acc.get_or_insert((n, String::new()));
        entry.1.push_str(&part);
        if !continues {
            if let Some((start, line)) = acc.take() {
                if !line.trim().is_empty() {
                    out.push((start, line));
                }
            }
        }
    }
    if let Some((start, line)) = acc {
        if !line.trim().is_empty() {
            out.push((start, line));
        }
    }
    out
}

/// Linux-PAM's `_pam_StrTok` over " \t\n": a word in `[ ]` is one word (its
/// edges stripped, `\]` made `]`). Returns (word, was bracketed).
fn linux_words(line: &str) -> Vec<(String, bool)> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let blank = |c: u8| c == b' ' || c == b'\t' || c == b'\n' || c == b'\r';
    while i < b.len() {
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'[' {
            i += 1;
            let mut w = Vec::new();
            while i < b.len() && b[i] != b']' {
                if b[i] == b'\\' && b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
                w.push(b[i]);
                i += 1;
            }
            i += 1; // the closing ']' (or the end)
            out.push((String::from_utf8_lossy(&w).into_owned(), true));
        } else {
            let start = i;
            while i < b.len() && !blank(b[i]) {
                i += 1;
            }
            out.push((String::from_utf8_lossy(&b[start..i]).into_owned(), false));
        }
    }
    out
}

/// OpenPAM's logical lines and words: `#` comments, `\` continuations,
/// `"`/`'` quoting and `\` escapes in words.
fn openpam_lines(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut start = 1;
    let mut line_no = 1;
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    let mut comment = false;
    while let Some(c) = chars.next() {
        if comment {
            if c == '\n' {
                comment = false;
            } else {
                continue;
            }
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => {
                if let Some(n) = chars.next() {
                    if n == '\n' {
                        line_no += 1;
                    } else {
                        word.get_or_insert_with(String::new).push(n);
                    }
                }
            }
            (Some(_), c) => {
                if c == '\n' {
                    line_no += 1;
                }
                word.get_or_insert_with(String::new).push(c);
            }
            (None, '\\') => match chars.next() {
                Some('\n') => {
                    line_no += 1;
                    if let Some(w) = word.take() {
                        words.push(w);
                    }
                }
                Some(n) => word.get_or_insert_with(String::new).push(n),
                None => {}
            },
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '#') if word.is_none() => comment = true,
            (None, ' ' | '\t' | '\r') => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            (None, '\n') => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
                if !words.is_empty() {
                    out.push((start, std::mem::take(&mut words)));
                }
                line_no += 1;
                start = line_no;
            }
            (None, c) => {
                if words.is_empty() && word.is_none() {
                    start = line_no;
                }
                word.get_or_insert_with(String::new).push(c);
            }
        }
    }
    if let Some(w) = word.take() {
        words.push(w);
    }
    if !words.is_empty() {
        out.push((start, words));
    }
    out
}

struct Loader<'a> {
    flavor: Flavor,
    dirs: &'a [PathBuf],
    problems: Vec<String>,
}

impl Loader<'_> {
    /// The file for a service or include name: an absolute path as it is,
    /// otherwise the first directory that has it.
    fn locate(&self, name: &str) -> Option<PathBuf> {
        if name.starts_with('/') {
            return Some(PathBuf::from(name));
        }
        self.dirs.iter().map(|d| d.join(name)).find(|p| p.exists())
    }

    /// Lines of `name` (a service or included file) of `want` phase (None:
    /// every phase), at include depth `depth` and substack level `level`.
    fn load(
        &mut self,
        name: &str,
        want: Option<Phase>,
        depth: usize,
        level: usize,
    ) -> Result<Vec<Entry>, String> {
        if depth >= MAX_LEVEL {
            return Err(format!("{name}: more than {MAX_LEVEL} levels of includes"));
        }
        let path = self
            .locate(name)
            .ok_or_else(|| format!("{name}: not found in {}", self.dirs_text()))?;
        let text = read_file(&path)?;
        match self.flavor {
            Flavor::LinuxPam => Ok(self.linux(&path, &text, want, depth, level)),
            Flavor::OpenPam => Ok(self.openpam(&path, &text, want, depth)),
        }
    }

    fn dirs_text(&self) -> String {
        self.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn linux(
        &mut self,
        path: &Path,
        text: &str,
        want: Option<Phase>,
        depth: usize,
        level: usize,
    ) -> Vec<Entry> {
        let mut out = Vec::new();
        for (line, logical) in linux_lines(text) {
            let words = linux_words(&logical);
            let Some((first, _)) = words.first() else {
                continue;
            };
            let mut entry = Entry {
                phase: want.unwrap_or(Phase::Auth),
                control: None,
                control_text: String::new(),
                module: String::new(),
                args: Vec::new(),
                file: path.to_path_buf(),
                line,
                silent: false,
                level,
                broken: None,
            };
            if first == "@include" {
                match words.get(1) {
                    Some((file, _)) => match self.load(file, want, depth + 1, level) {
                        Ok(mut lines) => out.append(&mut lines),
                        Err(e) => {
                            self.problems
                                .push(format!("{}: @include {e}", entry.place()));
                            entry.broken = Some(format!("@include {e}"));
                            out.push(entry);
                        }
                    },
                    None => {
                        entry.broken = Some("@include without a file name".into());
                        out.push(entry);
                    }
                }
                continue;
            }
            let (type_word, silent) = match first.strip_prefix('-') {
                Some(t) => (t, true),
                None => (first.as_str(), false),
            };
            entry.silent = silent;
            match Phase::parse(type_word) {
                Some(p) => entry.phase = p,
                None => entry.broken = Some(format!("unknown module type {type_word:?}")),
            }
            if want.is_some_and(|w| w != entry.phase) {
                continue;
            }
            let Some((control, bracketed)) = words.get(1) else {
                entry.broken.get_or_insert_with(|| "no control".into());
                out.push(entry);
                continue;
            };
            entry.control_text = if *bracketed {
                format!("[{control}]")
            } else {
                control.clone()
            };
            let lower = control.to_ascii_lowercase();
            if !*bracketed && (lower == "include" || lower == "substack") {
                let sub = usize::from(lower == "substack");
                match words.get(2) {
                    Some((file, _)) => {
                        match self.load(file, Some(entry.phase), depth + 1, level + sub) {
                            Ok(mut lines) => out.append(&mut lines),
                            Err(e) => {
                                self.problems
                                    .push(format!("{}: {lower} {e}", entry.place()));
                                entry.broken = Some(format!("{lower} {e}"));
                                out.push(entry);
                            }
                        }
                    }
                    None => {
                        entry.broken = Some(format!("{lower} without a file name"));
                        out.push(entry);
                    }
                }
                continue;
            }
            entry.control = Control::parse(control, *bracketed, self.flavor);
            if entry.control.is_none() {
                // Linux-PAM parses an unknown word as an action list, which
                // fails: every value becomes "bad".
                entry.control = Some(Control {
                    on_success: Action::Bad,
                    on_failure: Action::Bad,
                });
                entry
                    .broken
                    .get_or_insert_with(|| format!("unknown control {control:?}"));
            }
            match words.get(2) {
                Some((m, _)) => entry.module = m.clone(),
                None => {
                    entry.broken.get_or_insert_with(|| "no module".into());
                }
            }
            entry.args = words.iter().skip(3).map(|(w, _)| w.clone()).collect();
            out.push(entry);
        }
        out
    }

    fn openpam(
        &mut self,
        path: &Path,
        text: &str,
        want: Option<Phase>,
        depth: usize,
    ) -> Vec<Entry> {
        let mut out = Vec::new();
        for (line, words) in openpam_lines(text) {
            let mut entry = Entry {
                phase: want.unwrap_or(Phase::Auth),
                control: None,
                control_text: words.get(1).cloned().unwrap_or_default(),
                module: String::new(),
                args: Vec::new(),
                file: path.to_path_buf(),
                line,
                silent: false,
                level: 0,
                broken: None,
            };
            match words.first().and_then(|w| Phase::parse(w)) {
                Some(p) => entry.phase = p,
                None => {
                    entry.broken = Some(format!(
                        "unknown facility {:?}",
                        words.first().cloned().unwrap_or_default()
                    ))
                }
            }
            if want.is_some_and(|w| w != entry.phase) {
                continue;
            }
            let control = words.get(1).map(String::as_str).unwrap_or("");
            if control.eq_ignore_ascii_case("include") {
                match words.get(2) {
                    Some(service) => match self.load(service, Some(entry.phase), depth + 1, 0) {
                        Ok(mut lines) => out.append(&mut lines),
                        Err(e) => {
                            self.problems
                                .push(format!("{}: include {e}", entry.place()));
                            entry.broken = Some(format!("include {e}"));
                            out.push(entry);
                        }
                    },
                    None => {
                        entry.broken = Some("include without a service name".into());
                        out.push(entry);
                    }
                }
                continue;
            }
            entry.control = Control::parse(control, false, Flavor::OpenPam);
            if entry.control.is_none() {
                entry
                    .broken
                    .get_or_insert_with(|| format!("unknown control {control:?}"));
            }
            match words.get(2) {
                Some(m) => entry.module = m.clone(),
                None => {
                    entry.broken.get_or_insert_with(|| "no module".into());
                }
            }
            entry.args = words.iter().skip(3).cloned().collect();
            out.push(entry);
        }
        out
    }
}

/// The effective policy of `service`, looked up in `dirs` (see
/// [`Flavor::default_dirs`]; a single directory for `pam_start_confdir`).
/// Err only when neither the service nor `other` has a policy.
pub fn load(service: &str, dirs: &[PathBuf], flavor: Flavor) -> Result<Policy, String> {
    let mut loader = Loader {
        flavor,
        dirs,
        problems: Vec::new(),
    };
    let mut policy = Policy::default();
    let own = match loader.locate(service) {
        Some(p) if p.exists() => {
            policy.file = Some(p);
            match loader.load(service, None, 0, 0) {
                Ok(lines) => lines,
                Err(e) => {
                    loader.problems.push(e);
                    Vec::new()
                }
            }
        }
        _ => Vec::new(),
    };
    let other = if service != "other" && loader.locate("other").is_some() {
        match loader.load("other", None, 0, 0) {
            Ok(lines) => lines,
            Err(e) => {
                loader.problems.push(e);
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    if policy.file.is_none() && other.is_empty() {
        return Err(format!(
            "no PAM policy for service {service:?} (and no \"other\") in {}",
            loader.dirs_text()
        ));
    }
    for phase in Phase::ALL {
        let mine: Vec<Entry> = own.iter().filter(|e| e.phase == phase).cloned().collect();
        let lines = if mine.is_empty() {
            let theirs: Vec<Entry> = other.iter().filter(|e| e.phase == phase).cloned().collect();
            if !theirs.is_empty() {
                policy.from_other.push(phase);
            }
            theirs
        } else {
            mine
        };
        policy.stacks.insert(phase, lines);
    }
    policy.problems = loader.problems;
    Ok(policy)
}

/// Where the library looks for a module named without a path, in order; an
/// absolute path is used as it is. Linux-PAM: `<dir>/<name>`. OpenPAM:
/// `<dir>/<name>.<major>`, then `<dir>/<name>`.
pub fn module_candidates(module: &str, flavor: Flavor, dirs: &[PathBuf]) -> Vec<PathBuf> {
    if module.starts_with('/') {
        return vec![PathBuf::from(module)];
    }
    let mut out = Vec::new();
    for d in dirs {
        if flavor == Flavor::OpenPam {
            if let Some(major) = openpam_major() {
                out.push(d.join(format!("{module}.{major}")));
            }
        }
        out.push(d.join(module));
    }
    out
}

/// The shared-library major OpenPAM appends to module names.
fn openpam_major() -> Option<u32> {
    if cfg!(target_os = "freebsd") {
        Some(6)
    } else if cfg!(target_os = "netbsd") {
        Some(4)
    } else {
        None
    }
}

/// Which of the earlier lines of a phase can end the stack with success
/// before `at` (an index into that phase's stack) runs: a `sufficient`
/// module (or `binding`, or `success=done`), or a jump that lands past it.
/// Returns those lines. `pam_rootok.so` is left out: it lets root (and only
/// root) through, which is what su's policy is for.
pub fn skippers(stack: &[Entry], at: usize) -> Vec<&Entry> {
    let Some(target) = stack.get(at) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, e) in stack.iter().enumerate().take(at) {
        // A substack's "done" ends the substack only.
        if e.level > target.level {
            continue;
        }
        let Some(c) = e.control else { continue };
        let name = e.module.rsplit('/').next().unwrap_or(&e.module);
        if name.split('.').next() == Some("pam_rootok") {
            continue;
        }
        let jumps_over = |a: Action| match a {
            Action::Jump(n) => {
                // Counted over the lines of this level that follow.
                let landed = stack[i + 1..]
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| x.level == e.level)
                    .nth(n as usize - 1)
                    .map(|(k, _)| i + 1 + k);
                landed.map_or(true, |l| l > at)
            }
            _ => false,
        };
        if c.can_end_early() || jumps_over(c.on_success) {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn dir(tag: &str, files: &[(&str, &str)]) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "wpam-pamstack-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir_all(&d).unwrap();
        for (name, text) in files {
            fs::write(d.join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn words_and_brackets_as_linux_pam_splits_them() {
        let w = linux_words("auth [success=ok  default=bad] pam_x.so [a=b c\\]d] e=[f g");
        let words: Vec<&str> = w.iter().map(|(s, _)| s.as_str()).collect();
        // A bracket opens a word only at its start.
        assert_eq!(
            words,
            [
                "auth",
                "success=ok  default=bad",
                "pam_x.so",
                "a=b c]d",
                "e=[f",
                "g"
            ]
        );
        assert!(w[1].1 && !w[0].1);
    }

    #[test]
    fn comments_and_continuations() {
        let lines = linux_lines(
            "# a comment\nauth required \\\n   pam_a.so x # tail \\\naccount required pam_b.so\n\n",
        );
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].0, 2);
        assert_eq!(linux_words(&lines[0].1).len(), 4, "{lines:?}");
        assert_eq!(lines[1].0, 4);
    }

    #[test]
    fn includes_substacks_and_the_other_fallback() {
        let d = dir(
            "inc",
            &[
                (
                    "sshd",
                    "@include common-auth\nauth required pam_wpam.so server_url=a \\\n  service_id=b\n\
                     account substack common-account\n",
                ),
                (
                    "common-auth",
                    "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n\
                     auth required pam_permit.so\naccount required pam_never.so\n",
                ),
                ("common-account", "account required pam_unix.so\n"),
                ("other", "session required pam_other.so\npassword required pam_deny.so\n"),
            ],
        );
        let p = load("sshd", std::slice::from_ref(&d), Flavor::LinuxPam).unwrap();
        let auth = p.stack(Phase::Auth);
        assert_eq!(auth.len(), 4, "{auth:?}");
        assert_eq!(auth[3].module, "pam_wpam.so");
        assert_eq!(auth[3].args, ["server_url=a", "service_id=b"]);
        assert_eq!(auth[3].line, 2);
        assert!(auth[3].control.unwrap().enforces());
        // @include reads every type of common-auth: its account line too.
        let acct = p.stack(Phase::Account);
        assert_eq!(acct.len(), 2, "{acct:?}");
        assert_eq!(acct[1].level, 1, "substack");
        assert_eq!(p.from_other, [Phase::Session, Phase::Password]);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        // The jump over pam_deny does not skip wpam.
        assert!(skippers(auth, 3).is_empty());
        fs::remove_dir_all(d).ok();
    }

    #[test]
    fn sufficient_and_long_jumps_skip_wpam_but_rootok_does_not() {
        let d = dir(
            "skip",
            &[(
                "su",
                "auth sufficient pam_rootok.so\nauth sufficient pam_unix.so\n\
                 auth [success=2 default=ignore] pam_x.so\nauth required pam_wpam.so\n\
                 auth optional pam_wpam.so\n",
            )],
        );
        let p = load("su", std::slice::from_ref(&d), Flavor::LinuxPam).unwrap();
        let auth = p.stack(Phase::Auth);
        let s: Vec<&str> = skippers(auth, 3)
            .iter()
            .map(|e| e.module.as_str())
            .collect();
        assert_eq!(s, ["pam_unix.so", "pam_x.so"]);
        assert!(!auth[4].control.unwrap().enforces());
        fs::remove_dir_all(d).ok();
    }

    #[test]
    fn broken_lines_and_missing_includes_are_reported() {
        let d = dir(
            "broken",
            &[(
                "svc",
                "auth required\nauth include nothere\nbogus required pam_x.so\n\
                 auth maybe pam_y.so\n",
            )],
        );
        let p = load("svc", std::slice::from_ref(&d), Flavor::LinuxPam).unwrap();
        let broken: Vec<String> = p.broken().filter_map(|e| e.broken.clone()).collect();
        assert_eq!(broken.len(), 4, "{broken:?}");
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert!(load("absent", std::slice::from_ref(&d), Flavor::LinuxPam).is_err());
        fs::remove_dir_all(d).ok();
    }

    #[test]
    fn bracket_controls_by_linux_pam_defaults() {
        let c = parse_actions("success=ok default=bad");
        assert!(c.enforces() && !c.can_end_early());
        let c = parse_actions("success=done default=ignore");
        assert!(!c.enforces() && c.can_end_early());
        let c = parse_actions("success=ok auth_err=die default=ignore");
        assert!(c.enforces());
        let c = parse_actions("nonsense");
        assert_eq!(c.on_failure, Action::Bad);
    }

    #[test]
    fn openpam_includes_quotes_and_binding() {
        let d = dir(
            "openpam",
            &[
                (
                    "sshd",
                    "# FreeBSD\nauth include system\nauth required /usr/local/lib/pam_wpam.so \
                     \"log_file=/var/log/w p.log\" \\\n  server_url=a\naccount binding pam_unix.so\n",
                ),
                ("system", "auth sufficient pam_opie.so\naccount required pam_login_access.so\n"),
            ],
        );
        let p = load("sshd", std::slice::from_ref(&d), Flavor::OpenPam).unwrap();
        let auth = p.stack(Phase::Auth);
        assert_eq!(auth.len(), 2, "{auth:?}");
        assert_eq!(auth[1].args, ["log_file=/var/log/w p.log", "server_url=a"]);
        assert_eq!(auth[1].line, 3);
        assert_eq!(skippers(auth, 1).len(), 1);
        assert!(p.stack(Phase::Account)[0].control.unwrap().enforces());
        fs::remove_dir_all(d).ok();
    }

    #[test]
    fn module_names_and_search_paths() {
        assert!(is_wpam_module("pam_wpam.so"));
        assert!(is_wpam_module("/usr/pkg/lib/security/pam_wpam.so"));
        assert!(is_wpam_module("/x/target/release/libpam_wpam.so"));
        assert!(!is_wpam_module("pam_wpam_other.so"));
        let dirs = [PathBuf::from("/a"), PathBuf::from("/b")];
        assert_eq!(
            module_candidates("pam_wpam.so", Flavor::LinuxPam, &dirs),
            [
                PathBuf::from("/a/pam_wpam.so"),
                PathBuf::from("/b/pam_wpam.so")
            ]
        );
        assert_eq!(
            module_candidates("/x/pam_wpam.so", Flavor::OpenPam, &dirs),
            [PathBuf::from("/x/pam_wpam.so")]
        );
    }
}
