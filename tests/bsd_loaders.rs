//! What each BSD's own loader demands of the objects wpam ships, checked on
//! the cross-built objects in dist/ (`make test-bsd` builds them first and
//! makes a missing one a failure). Each rule cites the loader source it
//! comes from; each test prints the program headers it judged
//! (`cargo test --test bsd_loaders -- --nocapture`), the same layout as
//! docs/bsd-loaders.md, which sets them beside real BSD binaries.
//!
//! - NetBSD 9 and 10 `ld.elf_so` (libexec/ld.elf_so/map_object.c, rev 1.60
//!   of 2019-01-06, before netbsd-9 branched; the rule stands until rev 1.69
//!   of 2024-08-03, after netbsd-10 branched): exactly two PT_LOAD, text then
//!   data ("wrong number of segments (%d != 2)", which OpenPAM reports as a
//!   module it could not load). Two segments from lld means
//!   `--no-rosegment -znorelro`, which zig passes for NetBSD: no
//!   PT_GNU_RELRO, so the GOT stays writable after relocation.
//! - FreeBSD rtld (libexec/rtld-elf/map_object.c): ELF64/x86-64 ET_DYN,
//!   program headers in the first page, PT_DYNAMIC, one or more page-aligned
//!   PT_LOAD in address order.
//! - OpenBSD kernel (sys/kern/exec_elf.c rev 1.194, exec_elf_makecmds and
//!   elf_os_pt_note): at most 32 program headers, a PT_NOTE (<= 1024 bytes)
//!   holding a note named "OpenBSD" or ENOEXEC, a PIE needs PT_PHDR and its
//!   first PT_LOAD at address 0, no PT_SHLIB, power-of-two alignments,
//!   PT_LOAD p_filesz <= p_memsz != 0, PT_INTERP NUL-terminated.
//! - OpenBSD IBT (sys/arch/amd64/amd64/machdep.c rev 1.303,
//!   maybe_enable_user_cet): on CPUs with IBT every process runs with
//!   ENDBR_EN | NO_TRACK_EN unless the binary has PT_OPENBSD_NOBTCFI
//!   (0x65a3dbe8). wpam builds the style with IBT instead (ci/build/build-target.sh
//!   says why): no NOBTCFI, and endbr64 at every indirect-branch target the
//!   binary exposes. ci/build/openbsd-link.sh proved at link time that every code
//!   object was compiled for IBT; this checks the shipped bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/elf.rs"]
mod elf;
mod support {
    pub(crate) use super::deadline;
    #[path = "artifacts.rs"]
    pub mod artifacts;
}

use elf::*;
use support::artifacts::{artifact, tool};

/// amd64 page size on all three systems.
const PAGE: u64 = 4096;
/// OpenBSD exec_elf.c: ELF_MAX_VALID_PHDR.
const OPENBSD_MAX_PHDR: u16 = 32;
/// OpenBSD exec_elf.c elf_os_pt_note: larger PT_NOTEs are not read.
const OPENBSD_MAX_NOTE: u64 = 1024;
/// sys/syslimits.h PATH_MAX: exec_elf.c's bound on PT_INTERP.
const OPENBSD_MAXPATHLEN: u64 = 1024;

fn show(what: &str, path: &Path, e: &Elf) {
    eprintln!(
        "{what}: {}\n  OS/ABI {} type {} entry {:#x}, {} program headers\n{e}",
        path.display(),
        e.osabi,
        e.e_type,
        e.entry,
        e.phnum
    );
}

/// dist/<target>/<name>, read and its program headers printed; None when
/// not built (skipped, or a failure under WPAM_REQUIRE_BSD_ARTIFACTS).
fn object(target: &str, name: &str, what: &str) -> Option<(PathBuf, Elf)> {
    let p = artifact(target, name)?;
    let e = Elf::read(&p);
    show(what, &p, &e);
    Some((p, e))
}

/// What NetBSD's and FreeBSD's map_object() check before the segments:
/// the header, the program headers in the first page, PT_DYNAMIC.
fn check_shared_object(e: &Elf) {
    check_ident(e, ET_DYN);
    check_phdrs_in_first_page(e);
    assert!(e.first(PT_DYNAMIC).is_some(), "not dynamically linked");
}

/// The header fields every loader checks first (NetBSD and FreeBSD
/// map_object.c, OpenBSD elf_check_header): ELF64, little-endian,
/// EV_CURRENT, x86-64, program headers of the native size.
fn check_ident(e: &Elf, e_type: u16) {
    assert_eq!((e.class, e.endian, e.ei_version, e.version), (2, 1, 1, 1));
    assert_eq!(e.machine, EM_X86_64);
    assert_eq!(e.e_type, e_type);
    assert_eq!(e.phentsize, 56, "e_phentsize != sizeof(Elf64_Phdr)");
}

/// NetBSD and FreeBSD map only the first page to read the program headers
/// ("program header too large" in rtld; an assert in ld.elf_so).
fn check_phdrs_in_first_page(e: &Elf) {
    assert!(
        e.phoff + u64::from(e.phnum) * 56 <= PAGE,
        "program headers end past the first page"
    );
}

fn needed_within(e: &Elf, required: &[&str], base: &[&str]) {
    let needed = e.needed();
    for r in required {
        assert!(needed.iter().any(|n| n == r), "{r} not NEEDED: {needed:?}");
    }
    for n in &needed {
        assert!(base.contains(&n.as_str()), "{n} is not a base library");
    }
    for (tag, what) in [
        (DT_RPATH, "DT_RPATH"),
        (DT_RUNPATH, "DT_RUNPATH"),
        (DT_TEXTREL, "DT_TEXTREL"),
    ] {
        assert!(e.dyn_value(tag).is_none(), "{what} present");
    }
    eprintln!("  NEEDED {needed:?}");
}

// --- NetBSD ---------------------------------------------------------------

#[test]
fn netbsd_module_has_the_two_segments_ld_elf_so_maps() {
    let Some((_, e)) = object("netbsd-amd64", "pam_wpam.so", "NetBSD module") else {
        return;
    };
    check_shared_object(&e);

    // map_object.c: `if (nsegs != 2) ... "wrong number of segments"`, then
    // segs[0] is mapped as the whole object with its protection (text) and
    // segs[1] laid over it (data), the gap between them unmapped.
    let loads = e.loads();
    assert_eq!(loads.len(), 2, "ld.elf_so wants exactly two PT_LOAD");
    let (text, data) = (loads[0], loads[1]);
    assert_eq!(text.flags, PF_R | PF_X, "first PT_LOAD must be the text");
    assert_eq!(data.flags, PF_R | PF_W, "second PT_LOAD must be the data");
    assert!(
        data.vaddr >= (text.vaddr + text.memsz).next_multiple_of(PAGE),
        "data must start after the text's last page"
    );
    for s in [text, data] {
        // Mapped from the file at trunc_page(p_offset) to trunc_page(p_vaddr):
        // both must agree modulo the page size; rev 1.69 also wants the
        // alignment page-aligned (base_alignment drives MAP_ALIGNED before).
        assert_eq!(s.offset % PAGE, s.vaddr % PAGE, "offset/vaddr congruence");
        assert!(s.align >= PAGE && s.align.is_power_of_two(), "{s:?}");
        assert!(s.filesz <= s.memsz);
    }
    for t in [PT_TLS, PT_GNU_RELRO] {
        if let Some(s) = e.first(t) {
            assert!(
                data.contains(s.vaddr) && s.vaddr + s.memsz <= data.vaddr + data.memsz,
                "{} outside the data segment",
                type_name(t)
            );
        }
    }
    if e.first(PT_GNU_RELRO).is_none() {
        eprintln!(
            "  no PT_GNU_RELRO: the price of two segments with lld (-znorelro); \
             .data.rel.ro and the GOT stay writable after relocation"
        );
    }
}

#[test]
fn netbsd_module_needs_netbsd_base_libraries_only() {
    let Some(p) = artifact("netbsd-amd64", "pam_wpam.so") else {
        return;
    };
    let e = Elf::read(&p);
    // lib/libpam/Makefile.inc SHLIB_MAJOR=4 (rev 1.17, 2013-12-27); libc
    // major 12; lib/libpthread/shlib_version major=1. EI_OSABI is not
    // checked by ld.elf_so (map_object.c reads class, data and version only).
    let libpam =
        std::env::var("WPAM_NETBSD_LIBPAM_SONAME").unwrap_or_else(|_| "libpam.so.4".into());
    needed_within(
        &e,
        &[&libpam, "libc.so.12", "libpthread.so.1"],
        &[
            &libpam,
            "libc.so.12",
            "libpthread.so.1",
            "libgcc_s.so.1",
            "libm.so.0",
        ],
    );
}

// --- FreeBSD --------------------------------------------------------------

#[test]
fn freebsd_module_fits_rtld() {
    let Some((_, e)) = object("freebsd-amd64", "pam_wpam.so", "FreeBSD module") else {
        return;
    };
    check_shared_object(&e);
    let loads = e.loads();
    assert!(!loads.is_empty(), "too few PT_LOAD segments");
    for s in &loads {
        // "PT_LOAD segment %d not page-aligned"
        assert_eq!(s.align % PAGE, 0, "{s:?}");
        assert_eq!(s.offset % PAGE, s.vaddr % PAGE, "{s:?}");
    }
    assert!(
        loads.windows(2).all(|w| w[0].vaddr < w[1].vaddr),
        "PT_LOAD not in address order"
    );
    // Any number of segments is fine here: lld's default four, with RELRO.
    eprintln!(
        "  {} PT_LOAD; RELRO {}",
        loads.len(),
        e.first(PT_GNU_RELRO).is_some()
    );
}

// --- OpenBSD --------------------------------------------------------------

#[test]
fn openbsd_style_passes_exec_elf() {
    openbsd_exec_elf("login_-wpam", "OpenBSD login style");
}

/// The operator command (`wpam check`, `wpam test`) is an OpenBSD
/// executable too: same kernel rules.
#[test]
fn openbsd_command_passes_exec_elf() {
    openbsd_exec_elf("wpam", "OpenBSD wpam command");
}

fn openbsd_exec_elf(name: &str, what: &str) {
    let Some((_, e)) = object("openbsd-amd64", name, what) else {
        return;
    };
    check_ident(&e, ET_DYN);
    assert!(e.phnum <= OPENBSD_MAX_PHDR, "e_phnum > ELF_MAX_VALID_PHDR");
    for s in &e.phdrs {
        assert!(s.align <= 1 || s.align.is_power_of_two(), "{s:?}");
        assert_ne!(s.p_type, PT_SHLIB, "PT_SHLIB is ENOEXEC");
    }

    // A PIE: PT_PHDR, and the first PT_LOAD at 0 (else EINVAL).
    assert!(e.first(PT_PHDR).is_some(), "PIE without PT_PHDR");
    let loads = e.loads();
    assert_eq!(
        loads.first().map(|s| s.vaddr),
        Some(0),
        "first PT_LOAD not at 0"
    );
    for s in &loads {
        assert!(s.filesz <= s.memsz && s.memsz != 0, "{s:?}");
        // W^X: a W|X segment is mapped without X; nothing here needs that.
        assert_ne!(s.flags & (PF_W | PF_X), PF_W | PF_X, "W|X segment {s:?}");
    }
    let text = loads
        .iter()
        .find(|s| s.contains(e.entry))
        .expect("entry in a PT_LOAD");
    assert_eq!(
        text.flags & PF_W,
        0,
        "the entry point's segment is writable"
    );
    assert!(
        e.first(PT_OPENBSD_WXNEEDED).is_none(),
        "needs a wxallowed mount"
    );

    // PT_INTERP: 2..MAXPATHLEN bytes, NUL-terminated: ld.so.
    let interp = e.interp().expect("PT_INTERP");
    assert!((2..=OPENBSD_MAXPATHLEN).contains(&(interp.len() as u64)));
    assert_eq!(interp, b"/usr/libexec/ld.so\0");

    // elf_os_pt_note: a PT_NOTE of at most 1024 bytes with a note named
    // "OpenBSD", or the exec fails with ENOEXEC (EI_OSABI does not replace it).
    let small_notes = e.all(PT_NOTE).iter().any(|n| n.filesz <= OPENBSD_MAX_NOTE);
    assert!(small_notes, "no PT_NOTE the kernel reads");
    let notes = e.notes();
    assert!(
        notes.iter().any(|n| n.name == "OpenBSD"),
        "no \"OpenBSD\" note: ENOEXEC"
    );
    for n in &notes {
        eprintln!("  note {:?} type {} desc {:02x?}", n.name, n.n_type, n.desc);
    }

    // ld.so picks the highest libc.so.X.Y for a bare `libc.so`; zig links
    // libc++abi and libunwind statically, so nothing from ports is needed.
    needed_within(&e, &["libc.so"], &["libc.so", "libpthread.so", "libm.so"]);
}

/// Code addresses an indirect call or jump can reach, from what the binary
/// itself says: the entry point (ld.so jumps there), DT_INIT/DT_FINI, every
/// R_X86_64_RELATIVE addend in an executable segment (function pointers in
/// data: init/fini arrays, vtables, statics, GOT entries of local
/// functions) and every rip-relative `lea` of a code address (a function
/// pointer handed to libc: pthread_create, atexit, sigaction, qsort...).
/// Jump tables are not here: LLVM emits them as `notrack jmp`, which
/// NO_TRACK_EN exempts.
struct Targets {
    /// address -> why it is a target
    all: BTreeMap<u64, &'static str>,
    /// every instruction start objdump decoded
    insns: BTreeSet<u64>,
    endbr64: usize,
}

fn branch_targets(p: &Path, e: &Elf) -> Targets {
    let mut all = BTreeMap::new();
    if e.entry != 0 {
        all.insert(e.entry, "entry point");
    }
    for (tag, why) in [(DT_INIT, "DT_INIT"), (DT_FINI, "DT_FINI")] {
        if let Some(a) = e.dyn_value(tag) {
            all.insert(a, why);
        }
    }
    for a in e.relative_addends() {
        if e.is_code(a) {
            all.entry(a).or_insert("stored code pointer");
        }
    }
    let dis = tool("objdump", &["-d", "--no-show-raw-insn"], p);
    let mut insns = BTreeSet::new();
    let mut endbr64 = 0;
    for line in dis.lines() {
        let Some((addr, rest)) = line.trim_start().split_once(":\t") else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        insns.insert(addr);
        let mut words = rest.split_whitespace();
        match words.next() {
            Some("endbr64") => endbr64 += 1,
            Some("lea") if rest.contains("(%rip)") => {
                let target = rest
                    .split_once('#')
                    .and_then(|(_, c)| c.split_whitespace().next())
                    .and_then(|t| u64::from_str_radix(t, 16).ok());
                if let Some(t) = target.filter(|t| e.is_code(*t)) {
                    all.entry(t).or_insert("lea of a code address");
                }
            }
            _ => {}
        }
    }
    Targets {
        all,
        insns,
        endbr64,
    }
}

impl Targets {
    /// Targets that start an instruction but not with endbr64.
    fn without_endbr64(&self, e: &Elf) -> Vec<(u64, &'static str)> {
        self.all
            .iter()
            .filter(|(a, _)| self.insns.contains(a))
            .filter(|(a, _)| e.bytes_at(**a, 4) != Some(&ENDBR64[..]))
            .map(|(a, w)| (*a, *w))
            .collect()
    }
    fn summary(&self) -> String {
        let by_kind = self.all.values().fold(BTreeMap::new(), |mut m, w| {
            *m.entry(*w).or_insert(0) += 1;
            m
        });
        format!("{} endbr64; targets {by_kind:?}", self.endbr64)
    }
}

#[test]
fn openbsd_style_lands_every_indirect_branch_on_endbr64() {
    openbsd_ibt("login_-wpam", "OpenBSD login style");
}

#[test]
fn openbsd_command_lands_every_indirect_branch_on_endbr64() {
    openbsd_ibt("wpam", "OpenBSD wpam command");
}

fn openbsd_ibt(name: &str, what: &str) {
    let Some(p) = artifact("openbsd-amd64", name) else {
        return;
    };
    let e = Elf::read(&p);
    assert!(
        e.first(PT_OPENBSD_NOBTCFI).is_none(),
        "PT_OPENBSD_NOBTCFI: the style would run without IBT (ci/build/build-target.sh builds it with IBT)"
    );
    let t = branch_targets(&p, &e);
    eprintln!("{what}: {}", t.summary());
    assert!(t.insns.contains(&e.entry), "entry point not decoded");
    let missing = t.without_endbr64(&e);
    assert!(
        missing.is_empty(),
        "indirect-branch targets without endbr64 (SIGILL on IBT CPUs): {:x?}",
        &missing[..missing.len().min(20)]
    );
    let undecoded = t.all.keys().filter(|a| !t.insns.contains(a)).count();
    assert_eq!(
        undecoded, 0,
        "targets objdump did not decode as instructions"
    );
    assert!(t.all.len() > 100, "too few targets found: {}", t.summary());
}

/// The same analysis finds the gaps of a build without cf-protection: the
/// NetBSD module (NetBSD has no IBT enforcement, and it is built without).
#[test]
fn endbr64_check_finds_the_gaps_of_a_build_without_ibt() {
    let Some(p) = artifact("netbsd-amd64", "pam_wpam.so") else {
        return;
    };
    let e = Elf::read(&p);
    let t = branch_targets(&p, &e);
    let missing = t.without_endbr64(&e);
    eprintln!(
        "NetBSD module (no cf-protection): {}; {} without endbr64",
        t.summary(),
        missing.len()
    );
    assert_eq!(t.endbr64, 0);
    assert!(missing.len() > 100, "the check would not have caught it");
}
