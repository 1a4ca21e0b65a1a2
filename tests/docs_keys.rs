//! The configuration keys an admin can read about are the keys the parser
//! knows: docs/admin.md's reference table, the OPTIONS list of pam_wpam(8)
//! and `config::KEYS` (which `config/mod.rs`'s own unit test holds equal to the
//! parser's `match`) name the same set. A key in one and not another fails
//! here, naming the side that lacks it.

use std::collections::BTreeSet;
use std::path::Path;

fn read(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The first column of the table after docs/admin.md's `<!-- wpam-keys`
/// marker: every backquoted name in it (`prompt_id`, `prompt_code` share a
/// row).
fn admin_keys(text: &str) -> BTreeSet<String> {
    let start = text
        .find("<!-- wpam-keys")
        .expect("docs/admin.md: no <!-- wpam-keys marker before the reference table");
    let mut keys = BTreeSet::new();
    let mut rows = 0;
    for line in text[start..].lines().skip(1) {
        if !line.starts_with('|') {
            break;
        }
        rows += 1;
        let first = line.split('|').nth(1).unwrap_or("");
        if rows <= 2 {
            continue; // the header and its |---| line
        }
        for name in first.split('`').skip(1).step_by(2) {
            keys.insert(name.to_string());
        }
    }
    keys
}

/// The keys of pam_wpam(8)'s OPTIONS list: `.It Ar key Ns = ...`, and
/// `Ar wid. Ns Ar login` as `wid.<login>`.
fn man_keys(text: &str) -> BTreeSet<String> {
    let opts = text
        .split("\n.Sh OPTIONS\n")
        .nth(1)
        .expect("pam_wpam.8: no OPTIONS section");
    let opts = opts.split("\n.Sh ").next().unwrap_or(opts);
    let mut keys = BTreeSet::new();
    for line in opts.lines().filter(|l| l.starts_with(".It ")) {
        let line = line.replace("Ar wid. Ns Ar login", "Ar wid.<login>");
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(4) {
            if w[0] == "Ar" && w[2] == "Ns" && w[3] == "=" {
                keys.insert(w[1].to_string());
            }
        }
    }
    keys
}

fn differ(a: (&str, &BTreeSet<String>), b: (&str, &BTreeSet<String>)) -> Vec<String> {
    let mut out = Vec::new();
    for k in a.1.difference(b.1) {
        out.push(format!("{k}: in {}, not in {}", a.0, b.0));
    }
    for k in b.1.difference(a.1) {
        out.push(format!("{k}: in {}, not in {}", b.0, a.0));
    }
    out
}

#[test]
fn admin_md_man_page_and_parser_name_the_same_keys() {
    let parser: BTreeSet<String> = pam_wpam::config::KEYS
        .iter()
        .map(|k| k.to_string())
        .collect();
    let admin = admin_keys(&read("docs/admin.md"));
    let man = man_keys(&read("packaging/man/pam_wpam.8"));
    assert!(
        parser.len() > 20,
        "config::KEYS has only {} keys",
        parser.len()
    );
    let mut problems = differ(("config::KEYS", &parser), ("docs/admin.md", &admin));
    problems.extend(differ(("config::KEYS", &parser), ("pam_wpam.8", &man)));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
