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
/// Files read for one service in all (includes of includes; a real policy
/// reads about ten): the depth bound alone lets a file that includes itself
/// twice be read 2^16 times, and the walks over the stacks grow with them.
const MAX_LOADS: usize = 64;

/// Which PAM library's rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    LinuxPam,
    OpenPam,
}

/// Where macOS puts the PAM policies an MDM profile installs; Apple's
/// libpam reads a service's file there first.
pub const MACOS_MDM_PAM_D: &str =
    "/private/var/db/ManagedConfigurationFiles/com.apple.pam/etc/pam.d";

impl Flavor {
    /// This build's PAM library.
    pub const fn native() -> Flavor {
        if cfg!(any(
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "macos"
        )) {
            Flavor::OpenPam
        } else {
            Flavor::LinuxPam
        }
    }

    /// Where this library looks for a service's policy, in order. Apple's
    /// OpenPAM reads a policy installed by MDM before /etc/pam.d
    /// (openpam_configure.c, openpam_policy_path, OpenPAM-34).
    pub fn default_dirs(self) -> Vec<PathBuf> {
        let dirs: &[&str] = match self {
            Flavor::LinuxPam => &["/etc/pam.d", "/usr/lib/pam.d"],
            Flavor::OpenPam if cfg!(target_os = "macos") => {
                &[MACOS_MDM_PAM_D, "/etc/pam.d", "/usr/local/etc/pam.d"]
            }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// Linux-PAM's return values, by number (`_pam_token_returns`): the names a
/// bracket control gives them. 1.5 has 32 (`conv_again`, `incomplete`).
pub const RETURNS: [&str; 32] = [
    "success",
    "open_err",
    "symbol_err",
    "service_err",
    "system_err",
    "buf_err",
    "perm_denied",
    "auth_err",
    "cred_insufficient",
    "authinfo_unavail",
    "user_unknown",
    "maxtries",
    "new_authtok_reqd",
    "acct_expired",
    "session_err",
    "cred_unavail",
    "cred_expired",
    "cred_err",
    "no_module_data",
    "conv_err",
    "authtok_err",
    "authtok_recover_err",
    "authtok_lock_busy",
    "authtok_disable_aging",
    "try_again",
    "ignore",
    "abort",
    "authtok_expired",
    "module_unknown",
    "bad_item",
    "conv_again",
    "incomplete",
];
pub const PAM_SUCCESS: usize = 0;
const PAM_PERM_DENIED: usize = 6;
const PAM_AUTH_ERR: usize = 7;
const PAM_NEW_AUTHTOK_REQD: usize = 12;
const PAM_SESSION_ERR: usize = 14;
const PAM_AUTHTOK_ERR: usize = 20;
pub const PAM_IGNORE: usize = 25;
/// Returned to the application to be called again: never a verdict.
const PAM_INCOMPLETE: usize = 31;

/// A failure: not success, ignore, new_authtok_reqd (a success that asks
/// for a password change) or incomplete.
pub fn is_failure(ret: usize) -> bool {
    !matches!(
        ret,
        PAM_SUCCESS | PAM_IGNORE | PAM_NEW_AUTHTOK_REQD | PAM_INCOMPLETE
    )
}

/// A line's control: the action for each return value (Linux-PAM's
/// `actions[]`; OpenPAM's keywords mapped onto the same table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    actions: [Action; RETURNS.len()],
}

impl Control {
    /// Every return value does `a`.
    pub fn all(a: Action) -> Control {
        Control {
            actions: [a; RETURNS.len()],
        }
    }

    /// A keyword's table (`pam_handlers.c`): success and new_authtok_reqd
    /// do `success`, ignore does `ignore` when given, the rest `default`.
    fn keyword(success: Action, ignore: Option<Action>, default: Action) -> Control {
        let mut c = Control::all(default);
        c.actions[PAM_SUCCESS] = success;
        c.actions[PAM_NEW_AUTHTOK_REQD] = success;
        if let Some(i) = ignore {
            c.actions[PAM_IGNORE] = i;
        }
        c
    }

    /// A keyword control (`required`...), or a `[value=action ...]` list
    /// read as Linux-PAM reads it (an unparsable list: everything is `bad`).
    fn parse(word: &str, bracketed: bool, flavor: Flavor) -> Option<Control> {
        if bracketed {
            return (flavor == Flavor::LinuxPam).then(|| parse_actions(word));
        }
        use Action::{Bad, Die, Done, Ignore, Ok};
        match word.to_ascii_lowercase().as_str() {
            "required" => Some(Control::keyword(Ok, Some(Ignore), Bad)),
            "requisite" => Some(Control::keyword(Ok, Some(Ignore), Die)),
            "optional" => Some(Control::keyword(Ok, None, Ignore)),
            "sufficient" => Some(Control::keyword(Done, None, Ignore)),
            // OpenPAM: success ends the chain if nothing failed before;
            // failure is remembered (as required); PAM_IGNORE is ignored.
            "binding" if flavor == Flavor::OpenPam => {
                Some(Control::keyword(Done, Some(Ignore), Bad))
            }
            _ => None,
        }
    }

    /// What return value `ret` (an index into [`RETURNS`]) does.
    pub fn action(&self, ret: usize) -> Action {
        self.actions.get(ret).copied().unwrap_or(Action::Bad)
    }

    /// Every failure of this module fails the stack (`bad` or `die`).
    pub fn enforces(&self) -> bool {
        (0..RETURNS.len())
            .filter(|&r| is_failure(r))
            .all(|r| matches!(self.action(r), Action::Bad | Action::Die))
    }
}

/// `_pam_parse_control` (`pam_misc.c`): `value=action` tokens, each value
/// the first name of [`RETURNS`] (or `default`) the text starts with,
/// blanks allowed around `=`; `default` fills the values not set so far;
/// the values left unset are `bad`. A token it cannot read makes every
/// value `bad`.
fn parse_actions(list: &str) -> Control {
    const ACTIONS: [(&str, Action); 6] = [
        ("ignore", Action::Ignore),
        ("ok", Action::Ok),
        ("done", Action::Done),
        ("bad", Action::Bad),
        ("die", Action::Die),
        ("reset", Action::Reset),
    ];
    let bad = Control::all(Action::Bad);
    let mut set: [Option<Action>; RETURNS.len()] = [None; RETURNS.len()];
    let mut rest = list;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some((ret, name)) = RETURNS
            .iter()
            .copied()
            .chain(["default"])
            .enumerate()
            .find(|(_, n)| rest.starts_with(n))
        else {
            return bad;
        };
        rest = &rest[name.len()..];
        if rest.is_empty() {
            return bad;
        }
        rest = rest.trim_start();
        let Some(after) = rest.strip_prefix('=') else {
            return bad;
        };
        rest = after.trim_start();
        if rest.is_empty() {
            return bad;
        }
        let action = if let Some((w, a)) = ACTIONS.iter().find(|(w, _)| rest.starts_with(w)) {
            rest = &rest[w.len()..];
            *a
        } else {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            match rest[..digits].parse::<i32>() {
                Ok(n) if n > 0 => {
                    rest = &rest[digits..];
                    Action::Jump(n as u32)
                }
                _ => return bad,
            }
        };
        if ret == RETURNS.len() {
            for a in set.iter_mut().filter(|a| a.is_none()) {
                *a = Some(action);
            }
        } else {
            set[ret] = Some(action);
        }
    }
    Control {
        actions: set.map(|a| a.unwrap_or(Action::Bad)),
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
    /// Linux-PAM's handler for a `substack` line itself: no module, never
    /// called, but one step of a jump at its level (the substack's lines
    /// follow it one level deeper).
    pub substack: bool,
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
    /// Files read so far (bounded by [`MAX_LOADS`]).
    loads: usize,
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
        if self.loads >= MAX_LOADS {
            return Err(format!(
                "{name}: more than {MAX_LOADS} files included in all"
            ));
        }
        self.loads += 1;
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
                substack: false,
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
                if sub == 1 {
                    out.push(Entry {
                        substack: true,
                        ..entry.clone()
                    });
                }
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
                entry.control = Some(Control::all(Action::Bad));
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
                substack: false,
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
        loads: 0,
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
    } else if cfg!(target_os = "macos") {
        // Apple's openpam.xcodeproj: LIB_MAJ=2 (its modules are pam_*.so.2).
        Some(2)
    } else {
        None
    }
}

/// A module's name without directory and suffix (`pam_unix`).
pub fn module_name(module: &str) -> &str {
    let base = module.rsplit('/').next().unwrap_or(module);
    base.split('.').next().unwrap_or(base)
}

/// What pam_rootok answers in a service: it succeeds when the calling
/// process's real uid is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootOk {
    /// A daemon running as root (sshd, login, a display manager): always,
    /// whoever logs in.
    Always,
    /// A program the user runs, setuid (su, sudo...): only when root runs it.
    RootCallerOnly,
    /// Not known for this service: either.
    Either,
}

/// What the walk through a stack assumes of its modules (see [`skippers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assume {
    pub rootok: RootOk,
    /// wpam may answer PAM_IGNORE (`groups=` set; always in the account
    /// phase: account_phase=skip, silent local callers).
    pub wpam_ignores: bool,
    /// A module of [`asks_a_factor`] answers success or a failure, not
    /// PAM_IGNORE: it checks the factor it asks for (the question of
    /// [`without_a_factor`]).
    pub factors_decide: bool,
}

/// Services a user runs to become someone else or change an account
/// (setuid, or run by root only): pam_rootok lets only a root caller
/// through. The local services of `services::LOCAL_SERVICES` but login (run by
/// getty, as root), and the account tools.
fn root_caller_only(service: &str) -> bool {
    (service != "login" && super::services::LOCAL_SERVICES.contains(&service))
        || ["passwd", "chsh", "chfn", "chage", "newgrp"].contains(&service)
}

/// Services of daemons running as root, for which pam_rootok always
/// succeeds.
const ROOT_DAEMONS: [&str; 10] = [
    "login",
    "gdm-password",
    "gdm-autologin",
    "lightdm",
    "sddm",
    "xrdp-sesman",
    "cockpit",
    "vsftpd",
    "dovecot",
    "remote",
];

impl Assume {
    pub fn for_service(service: &str, wpam_ignores: bool) -> Assume {
        let rootok = if root_caller_only(service) {
            RootOk::RootCallerOnly
        } else if service.starts_with("sshd") || ROOT_DAEMONS.contains(&service) {
            RootOk::Always
        } else {
            RootOk::Either
        };
        Assume {
            rootok,
            wpam_ignores,
            factors_decide: false,
        }
    }
}

/// A module's return value, as far as the verdict cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    Success,
    /// new_authtok_reqd: a success that asks for a password change (sshd
    /// takes it from the account phase as success).
    NewAuthtok,
    Ignore,
    Failure,
}

fn ret_class(ret: usize) -> Ret {
    match ret {
        PAM_SUCCESS => Ret::Success,
        PAM_NEW_AUTHTOK_REQD => Ret::NewAuthtok,
        PAM_IGNORE => Ret::Ignore,
        _ => Ret::Failure,
    }
}

/// The values a line's module can return: a line the library makes fail
/// returns PAM_PERM_DENIED; pam_permit succeeds, pam_deny fails, pam_rootok
/// as [`RootOk`] says, wpam succeeds or fails (or ignores, see [`Assume`]);
/// any other module may return anything.
fn returns(e: &Entry, phase: Phase, assume: &Assume) -> Vec<usize> {
    if e.broken.is_some() {
        return vec![PAM_PERM_DENIED];
    }
    let all = |keep: &dyn Fn(usize) -> bool| -> Vec<usize> {
        (0..RETURNS.len())
            .filter(|&r| r != PAM_INCOMPLETE && keep(r))
            .collect()
    };
    match module_name(&e.module) {
        "pam_permit" => vec![PAM_SUCCESS],
        "pam_deny" => vec![match phase {
            Phase::Session => PAM_SESSION_ERR,
            Phase::Password => PAM_AUTHTOK_ERR,
            _ => PAM_AUTH_ERR,
        }],
        "pam_rootok" => match assume.rootok {
            RootOk::Always => vec![PAM_SUCCESS],
            RootOk::RootCallerOnly => vec![PAM_AUTH_ERR],
            RootOk::Either => vec![PAM_SUCCESS, PAM_AUTH_ERR],
        },
        _ if e.is_wpam() => {
            all(&|r| r == PAM_SUCCESS || is_failure(r) || (r == PAM_IGNORE && assume.wpam_ignores))
        }
        _ if assume.factors_decide && asks_a_factor(e) => all(&|r| r != PAM_IGNORE),
        _ => all(&|_| true),
    }
}

/// `_pam_dispatch_aux`'s impression and status, reduced to what decides the
/// verdict: success needs a positive impression with status PAM_SUCCESS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Impression {
    Undef,
    Success,
    NewAuthtok,
    /// Positive, but with a status that is not success (`ok` on a failure).
    OtherStatus,
    Negative,
}

/// The index after the lines of `level` that follow `i` (Linux-PAM's
/// `decision_made`: the rest of this level is skipped).
fn end_of_level(stack: &[Entry], i: usize, level: usize) -> usize {
    (i + 1..stack.len())
        .find(|&j| stack[j].level < level)
        .unwrap_or(stack.len())
}

/// A jump of `n` from line `i` at `level`: skips the next `n` handlers of
/// that level, each with the deeper lines (a substack) after it. Returns
/// the last line skipped and the steps left (non-zero: a jump past the end
/// of its level, which Linux-PAM logs as "bad jump in stack" and fails).
fn jump(stack: &[Entry], i: usize, level: usize, n: u32) -> (usize, u32) {
    let (mut h, mut n) = (i, n);
    while n > 0 && h + 1 < stack.len() && stack[h + 1].level >= level {
        h += 1;
        while h + 1 < stack.len() && stack[h + 1].level > level {
            h += 1;
        }
        n -= 1;
    }
    (h, n)
}

/// Every way through a phase's stack, walked as Linux-PAM's dispatch loop
/// walks it (OpenPAM's keywords are mapped onto the same actions, which give
/// OpenPAM's verdicts), each line's module returning each value it can
/// ([`returns`]). `ran` is told each line that runs and what it returned,
/// and carries a tag along the way (None: stop following this way).
/// Returns the distinct tags of the ways that end in success (for the
/// account phase, new_authtok_reqd counts too: sshd lets such a login in to
/// change its password).
fn walk<T: Copy + Eq + std::hash::Hash>(
    stack: &[Entry],
    phase: Phase,
    assume: &Assume,
    start: T,
    ran: &dyn Fn(T, usize, Ret) -> Option<T>,
) -> Vec<T> {
    #[derive(Clone, PartialEq, Eq, Hash)]
    struct State<T> {
        next: usize,
        prev_level: usize,
        imp: Impression,
        /// The impression on entering each substack level (for `reset`).
        saved: Vec<Impression>,
        tag: T,
    }
    let mut out: Vec<T> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut todo = vec![State {
        next: 0,
        prev_level: 0,
        imp: Impression::Undef,
        saved: vec![Impression::Undef; MAX_LEVEL + 2],
        tag: start,
    }];
    while let Some(st) = todo.pop() {
        if !seen.insert(st.clone()) {
            continue;
        }
        let i = st.next;
        let Some(e) = stack.get(i) else {
            let granted = st.imp == Impression::Success
                || (phase == Phase::Account && st.imp == Impression::NewAuthtok);
            if granted && !out.contains(&st.tag) {
                out.push(st.tag);
            }
            continue;
        };
        let level = e.level.min(MAX_LEVEL + 1);
        let mut saved = st.saved.clone();
        if st.prev_level < level {
            saved[level] = st.imp;
        }
        // Impressions saved for deeper levels are never read again (a way
        // back into a level saves anew): forgotten, so that ways differing
        // only there are one state, not exponentially many.
        saved[level + 1..].fill(Impression::Undef);
        if e.substack {
            todo.push(State {
                next: i + 1,
                prev_level: level,
                saved,
                ..st
            });
            continue;
        }
        let control = e.control.unwrap_or(Control::all(Action::Bad));
        let mut tried: Vec<(Ret, Action)> = Vec::new();
        for r in returns(e, phase, assume) {
            let (ret, action) = (ret_class(r), control.action(r));
            if tried.contains(&(ret, action)) {
                continue;
            }
            tried.push((ret, action));
            let Some(tag) = ran(st.tag, i, ret) else {
                continue;
            };
            let (imp, next) = match action {
                Action::Reset => (saved[level], i + 1),
                Action::Ok | Action::Done => {
                    let imp = match st.imp {
                        Impression::Undef | Impression::Success => match ret {
                            Ret::Success => Impression::Success,
                            Ret::NewAuthtok => Impression::NewAuthtok,
                            _ => Impression::OtherStatus,
                        },
                        other => other,
                    };
                    if action == Action::Done && imp != Impression::Negative {
                        (imp, end_of_level(stack, i, level))
                    } else {
                        (imp, i + 1)
                    }
                }
                Action::Bad => (Impression::Negative, i + 1),
                Action::Die => (Impression::Negative, end_of_level(stack, i, level)),
                Action::Ignore => (st.imp, i + 1),
                Action::Jump(n) => {
                    let (h, left) = jump(stack, i, level, n);
                    let imp = if left > 0 {
                        Impression::Negative
                    } else {
                        st.imp
                    };
                    (imp, h + 1)
                }
            };
            todo.push(State {
                next,
                prev_level: level,
                imp,
                saved: saved.clone(),
                tag,
            });
        }
    }
    out
}

/// The lines before wpam's line `at` that can bring the phase's stack to
/// success without wpam being asked; empty when there is no such way.
///
/// The rule, worked out by walking every way through the stack as the
/// library does ([`walk`]) and keeping those that end in success without
/// running `at`; each such way's culprit is the last line before `at` that
/// ran on it:
/// - a jump from ANY return value (success, default, ignore, auth_err,
///   new_authtok_reqd...): Linux-PAM skips the next N handlers of the same
///   substack level (a substack is one), so a jump of N from line i lands on
///   the (N+1)th line after it: one that lands exactly on wpam asks wpam,
///   `[success=1 default=ignore]` right above wpam skips it. A jump records
///   no verdict, so whether the login then succeeds is up to the lines it
///   lands on (onto `pam_deny` it fails: no bypass); a jump past the end of
///   its level fails the stack.
/// - `done` (`sufficient`, `binding`, `success=done`): ends the level with
///   the verdict so far: success when this module or an earlier one
///   succeeded and nothing failed before; `done` on a failure value ends it
///   failed.
/// - `die` and `bad` fail the stack (only a later `reset` undoes it); a
///   substack's `done`/`die` end the substack only and its parent goes on.
///
/// pam_rootok succeeds when the caller's real uid is 0: in a daemon's
/// service (sshd, login) that is every login, so it skips wpam like any
/// other module; in su's, sudo's (a program the user runs) only a caller
/// who is already root gets through, and root needs no second factor to
/// become anyone, so that way is left out.
pub fn skippers<'a>(
    stack: &'a [Entry],
    phase: Phase,
    at: usize,
    assume: &Assume,
) -> Vec<&'a Entry> {
    if at >= stack.len() {
        return Vec::new();
    }
    let ways = walk(stack, phase, assume, None::<usize>, &|tag, i, _| {
        if i == at {
            None
        } else if i < at {
            Some(Some(i))
        } else {
            Some(tag)
        }
    });
    let mut lines: Vec<usize> = ways.into_iter().flatten().collect();
    lines.sort_unstable();
    lines.dedup();
    lines.into_iter().map(|i| &stack[i]).collect()
}

/// Whether a failure of wpam's line `at` can still end the phase in success
/// (its control does not fail the stack, or a later `reset` forgets it).
pub fn refusal_overridden(stack: &[Entry], phase: Phase, at: usize, assume: &Assume) -> bool {
    walk(stack, phase, assume, false, &|tag, i, ret| {
        if i == at {
            (ret == Ret::Failure).then_some(true)
        } else {
            Some(tag)
        }
    })
    .contains(&true)
}

/// Modules that verify nothing the user knows or holds: they check the
/// account, the time, the terminal, or set things up. Any module not listed
/// here (pam_unix, pam_sss, pam_ldap, pam_krb5, pam_winbind, pam_u2f...) is
/// taken to ask for a factor of its own.
const NOT_A_FACTOR: [&str; 45] = [
    "pam_access",
    "pam_cap",
    "pam_cracklib",
    "pam_debug",
    "pam_deny",
    "pam_echo",
    "pam_env",
    "pam_exec_env",
    "pam_faildelay",
    "pam_faillock",
    "pam_filter",
    "pam_gnome_keyring",
    "pam_group",
    "pam_issue",
    "pam_keyinit",
    "pam_kwallet",
    "pam_kwallet5",
    "pam_lastlog",
    "pam_lastlog2",
    "pam_limits",
    "pam_listfile",
    "pam_localuser",
    "pam_loginuid",
    "pam_mail",
    "pam_mkhomedir",
    "pam_motd",
    "pam_namespace",
    "pam_nologin",
    "pam_permit",
    "pam_pwquality",
    "pam_rootok",
    "pam_securetty",
    "pam_selinux",
    "pam_sepermit",
    "pam_shells",
    "pam_succeed_if",
    "pam_systemd",
    "pam_tally",
    "pam_tally2",
    "pam_time",
    "pam_timestamp",
    "pam_umask",
    "pam_warn",
    "pam_wheel",
    "pam_xauth",
];

/// The line's module asks for a factor of its own (a password, a key, a
/// code of another system): anything but wpam and [`NOT_A_FACTOR`].
pub fn asks_a_factor(e: &Entry) -> bool {
    !e.substack
        && e.broken.is_none()
        && !e.is_wpam()
        && !NOT_A_FACTOR.contains(&module_name(&e.module))
}

/// The ways a login can pass the auth stack without any module of
/// [`asks_a_factor`] succeeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WithoutAFactor {
    /// wpam's code (or an approved push) alone.
    pub wpam_alone: bool,
    /// Nothing at all: wpam answered PAM_IGNORE (`groups=`) and the rest
    /// of the stack let the login through.
    pub nothing: bool,
}

pub fn without_a_factor(stack: &[Entry], phase: Phase, assume: &Assume) -> WithoutAFactor {
    let assume = &Assume {
        factors_decide: true,
        ..*assume
    };
    // (a factor succeeded, wpam succeeded, wpam ignored)
    let ways = walk(stack, phase, assume, (false, false, false), &|t, i, ret| {
        let e = &stack[i];
        let mut t = t;
        if ret == Ret::Success && asks_a_factor(e) {
            t.0 = true;
        }
        if e.is_wpam() {
            t.1 |= ret == Ret::Success;
            t.2 |= ret == Ret::Ignore;
        }
        Some(t)
    });
    WithoutAFactor {
        wpam_alone: ways.iter().any(|&(f, ok, _)| !f && ok),
        nothing: ways.iter().any(|&(f, ok, ign)| !f && !ok && ign),
    }
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
        // The substack line is a handler of its own, its lines one level deeper.
        assert_eq!(acct.len(), 3, "{acct:?}");
        assert!(acct[1].substack && acct[1].level == 0, "{acct:?}");
        assert_eq!(acct[2].level, 1, "substack");
        assert_eq!(p.from_other, [Phase::Session, Phase::Password]);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        // The jump over pam_deny does not skip wpam.
        assert!(skippers(auth, Phase::Auth, 3, &sshd()).is_empty());
        fs::remove_dir_all(d).ok();
    }

    #[test]
    fn a_file_that_includes_itself_twice_is_read_a_bounded_number_of_times() {
        // 16 levels of two includes each would be 2^16 reads (found by the
        // fuzz target pamstack: fuzz/regressions/pamstack/).
        for (flavor, text) in [
            (Flavor::LinuxPam, "auth include svc\n@include svc\n"),
            (Flavor::OpenPam, "auth include svc\nauth include svc\n"),
        ] {
            let d = dir("twice", &[("svc", text)]);
            let p = load("svc", std::slice::from_ref(&d), flavor).unwrap();
            fs::remove_dir_all(d).ok();
            assert!(
                p.problems
                    .iter()
                    .any(|e| e.contains(&format!("more than {MAX_LOADS} files included"))),
                "{:?}",
                p.problems
            );
        }
    }

    /// What `wpam check --service sshd` assumes (pam_rootok always succeeds).
    fn sshd() -> Assume {
        Assume::for_service("sshd", false)
    }

    /// The auth stack of `text` (a service file), and wpam's index in it.
    fn auth_of(tag: &str, files: &[(&str, &str)]) -> (Vec<Entry>, usize) {
        let d = dir(tag, files);
        let p = load("svc", std::slice::from_ref(&d), Flavor::LinuxPam).unwrap();
        fs::remove_dir_all(d).ok();
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let auth = p.stack(Phase::Auth).to_vec();
        let at = auth.iter().position(|e| e.is_wpam()).expect("a wpam line");
        (auth, at)
    }

    /// The modules of the lines that let the auth stack of `text` succeed
    /// without wpam.
    fn skips(text: &str) -> Vec<String> {
        skips_as(text, &sshd())
    }

    fn skips_as(text: &str, assume: &Assume) -> Vec<String> {
        let (auth, at) = auth_of("skip", &[("svc", text)]);
        skippers(&auth, Phase::Auth, at, assume)
            .iter()
            .map(|e| format!("{}:{}", e.module, e.line))
            .collect()
    }

    #[test]
    fn sufficient_and_long_jumps_skip_wpam_but_rootok_does_not_in_su() {
        let text = "auth sufficient pam_rootok.so\nauth sufficient pam_unix.so\n\
                    auth [success=2 default=ignore] pam_x.so\nauth required pam_wpam.so\n\
                    auth optional pam_wpam.so\nauth required pam_permit.so\n";
        let su = Assume::for_service("su", false);
        assert_eq!(skips_as(text, &su), ["pam_unix.so:2", "pam_x.so:3"]);
        // sshd runs as root: pam_rootok lets every login through (and
        // nothing after it runs).
        assert_eq!(skips(text), ["pam_rootok.so:1"]);
    }

    #[test]
    fn a_jump_of_one_right_above_wpam_skips_it_and_one_landing_on_it_does_not() {
        // Linux-PAM: a jump of N from line i lands on line i+1+N.
        assert_eq!(
            skips(
                "auth [success=1 default=ignore] pam_succeed_if.so user = root\n\
                 auth required pam_wpam.so\nauth required pam_permit.so\n"
            ),
            ["pam_succeed_if.so:1"]
        );
        assert!(skips(
            "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n\
             auth required pam_wpam.so\nauth required pam_permit.so\n"
        )
        .is_empty());
        // Two over wpam from two lines above.
        assert_eq!(
            skips(
                "auth [success=2 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n\
                 auth required pam_wpam.so\nauth required pam_permit.so\n"
            ),
            ["pam_unix.so:1"]
        );
    }

    #[test]
    fn every_return_value_counts_not_only_success() {
        // A failure jumps over wpam: everyone but root skips it.
        assert_eq!(
            skips(
                "auth [success=ok default=1] pam_succeed_if.so user = root\n\
                 auth required pam_wpam.so\nauth required pam_permit.so\n"
            ),
            ["pam_succeed_if.so:1"]
        );
        for control in [
            "[auth_err=1 default=ok]",
            "[user_unknown=1 default=ok]",
            "[ignore=1 default=ok]",
            "[new_authtok_reqd=1 default=ok]",
        ] {
            assert_eq!(
                skips(&format!(
                    "auth required pam_unix.so\nauth {control} pam_x.so\n\
                     auth required pam_wpam.so\nauth required pam_permit.so\n"
                )),
                ["pam_x.so:2"],
                "{control}"
            );
        }
        // ignore=done ends the stack, but with status PAM_IGNORE (outside
        // setcred's frozen chain): a failure.
        assert!(skips(
            "auth required pam_unix.so\nauth [ignore=done default=ok] pam_x.so\n\
             auth required pam_wpam.so\n"
        )
        .is_empty());
        // new_authtok_reqd=done: sshd takes it from the account phase as a
        // success (the password change follows), not from the auth phase.
        let text = "auth [success=ok new_authtok_reqd=done default=bad] pam_unix.so\n\
                    auth required pam_wpam.so\n";
        assert!(skips(text).is_empty());
        let (mut acct, at) = auth_of("acct", &[("svc", text)]);
        for e in &mut acct {
            e.phase = Phase::Account;
        }
        let s = skippers(&acct, Phase::Account, at, &sshd());
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].module, "pam_unix.so");
        // done on a failure ends it failed, die always: no bypass.
        assert!(skips(
            "auth [success=ok auth_err=done default=die] pam_x.so\n\
             auth required pam_wpam.so\nauth required pam_permit.so\n"
        )
        .is_empty());
    }

    #[test]
    fn a_jump_onto_pam_deny_or_past_the_end_is_no_bypass() {
        assert!(skips(
            "auth [success=ok default=1] pam_x.so\nauth required pam_wpam.so\n\
             auth requisite pam_deny.so\nauth required pam_permit.so\n"
        )
        .is_empty());
        // "bad jump in stack": Linux-PAM fails it.
        assert!(
            skips("auth [success=2 default=ok] pam_x.so\nauth required pam_wpam.so\n").is_empty()
        );
    }

    #[test]
    fn a_substack_is_one_step_of_a_jump_and_its_done_ends_only_itself() {
        let sub = (
            "sub",
            "auth sufficient pam_unix.so\nauth optional pam_y.so\n",
        );
        let jump = |n: u32| {
            let (auth, at) = auth_of(
                "sub",
                &[
                    (
                        "svc",
                        &format!(
                            "auth [success={n} default=ignore] pam_x.so\nauth substack sub\n\
                             auth required pam_wpam.so\nauth required pam_permit.so\n"
                        ),
                    ),
                    sub,
                ],
            );
            skippers(&auth, Phase::Auth, at, &sshd()).len()
        };
        // success=1 skips the substack (its two lines) and lands on wpam;
        // pam_unix's done inside the substack ends the substack only.
        assert_eq!(jump(1), 0);
        // success=2 skips the substack and wpam.
        assert_eq!(jump(2), 1);
        let (auth, at) = auth_of(
            "sub2",
            &[
                ("svc", "auth substack sub\nauth required pam_wpam.so\n"),
                sub,
            ],
        );
        assert!(skippers(&auth, Phase::Auth, at, &sshd()).is_empty());
        // wpam inside a substack after a sufficient line of that substack.
        let (auth, at) = auth_of(
            "sub3",
            &[
                ("svc", "auth substack sub\nauth required pam_permit.so\n"),
                (
                    "sub",
                    "auth sufficient pam_unix.so\nauth required pam_wpam.so\n",
                ),
            ],
        );
        let s = skippers(&auth, Phase::Auth, at, &sshd());
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].module, "pam_unix.so");
    }

    #[test]
    fn a_later_reset_forgets_a_refusal() {
        let (auth, at) = auth_of(
            "reset",
            &[(
                "svc",
                "auth required pam_wpam.so\nauth [default=reset] pam_x.so\nauth required pam_permit.so\n",
            )],
        );
        assert!(refusal_overridden(&auth, Phase::Auth, at, &sshd()));
        let (auth, at) = auth_of(
            "noreset",
            &[(
                "svc",
                "auth required pam_wpam.so\nauth required pam_permit.so\n",
            )],
        );
        assert!(!refusal_overridden(&auth, Phase::Auth, at, &sshd()));
    }

    #[test]
    fn the_code_alone_and_nothing_at_all() {
        let ways = |text: &str, ignores: bool| {
            let (auth, _) = auth_of("factor", &[("svc", text)]);
            without_a_factor(&auth, Phase::Auth, &Assume::for_service("sshd", ignores))
        };
        // Debian's sshd with `# @include common-auth` and wpam alone.
        let alone = ways("# @include common-auth\nauth required pam_wpam.so\n", false);
        assert!(alone.wpam_alone && !alone.nothing);
        // groups= (PAM_IGNORE) with pam_permit after: nothing at all.
        let w = ways(
            "auth required pam_wpam.so groups=ops\nauth required pam_permit.so\n",
            true,
        );
        assert!(w.wpam_alone && w.nothing);
        // Debian's common-auth before wpam: the password is needed.
        let w = ways(
            "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n\
             auth required pam_permit.so\nauth required pam_wpam.so\n",
            true,
        );
        assert_eq!(w, WithoutAFactor::default());
        // A password that may fail is no factor.
        assert!(
            ways(
                "auth optional pam_unix.so\nauth required pam_wpam.so\n",
                false
            )
            .wpam_alone
        );
        // After wpam, required: needed too.
        assert!(
            !ways(
                "auth required pam_wpam.so\nauth required pam_sss.so\n",
                false
            )
            .wpam_alone
        );
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
        let act = |list: &str, ret: &str| {
            let r = RETURNS.iter().position(|n| *n == ret).unwrap();
            parse_actions(list).action(r)
        };
        assert!(parse_actions("success=ok default=bad").enforces());
        assert!(!parse_actions("success=done default=ignore").enforces());
        // Every failure value must fail the stack, not only auth_err.
        assert!(!parse_actions("success=ok auth_err=die default=ignore").enforces());
        assert!(parse_actions("success=ok ignore=ignore default=die").enforces());
        assert_eq!(act("nonsense", "success"), Action::Bad);
        assert_eq!(act("success=0", "success"), Action::Bad, "no zero jumps");
        assert_eq!(
            act("success=okay", "success"),
            Action::Bad,
            "garbage after ok"
        );
        // Blanks around '=', and no blank needed between tokens.
        assert_eq!(act("success = ok default=die", "success"), Action::Ok);
        assert_eq!(act("success=okdefault=die", "auth_err"), Action::Die);
        // default fills what is unset so far; later values still override.
        assert_eq!(act("default=ignore success=1", "success"), Action::Jump(1));
        assert_eq!(act("default=ignore success=1", "auth_err"), Action::Ignore);
        assert_eq!(
            act("default=ignore default=bad", "auth_err"),
            Action::Ignore
        );
        // Unset values without a default are bad.
        assert_eq!(act("success=ok", "ignore"), Action::Bad);
        let req = Control::parse("required", false, Flavor::LinuxPam).unwrap();
        assert_eq!(req.action(PAM_IGNORE), Action::Ignore);
        assert_eq!(req.action(PAM_NEW_AUTHTOK_REQD), Action::Ok);
        assert!(req.enforces());
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
        let s = skippers(auth, Phase::Auth, 1, &Assume::for_service("sshd", false));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].module, "pam_opie.so");
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
