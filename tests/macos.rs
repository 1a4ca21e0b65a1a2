//! The macOS build (dist/macos-universal/, ci/build/build-target.sh
//! macos-universal) read as macOS would read it: no Mac runs here, so the
//! files are checked against what Apple's loader and kernel demand
//! (PLATFORMS.md, macOS):
//!
//! - one universal file with an arm64 and an x86_64 slice;
//! - the module is a dylib whose install name is where it is installed,
//!   exporting exactly the three pam_sm_* functions wpam implements;
//! - it needs nothing outside the system: /usr/lib/libpam.2.dylib and
//!   /usr/lib/libSystem.B.dylib, with compatibility versions every macOS
//!   from 11 satisfies, no rpath, every import bound to one of them (two-
//!   level namespace), and from libpam only what Apple's libpam exports
//!   (ci/build/pam-stub/apple-openpam.syms, from Apple's OpenPAM sources);
//! - every slice carries a code signature whose CodeDirectory hashes match
//!   the bytes they cover, page by page (the arm64 kernel runs no unsigned
//!   code; a wrong hash kills the process that maps the page). The check is
//!   ours, not a tool's: rcodesign's `verify` says of itself that it gives
//!   misleading results. A test corrupts one byte to see the check fail.
//!
//! Missing artifacts skip, except under WPAM_REQUIRE_MACOS_ARTIFACTS=1
//! (ci/test/macos.sh, which builds them first).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use object::macho;
use object::macho::MachHeader64;
use object::read::macho::{FatArch, MachHeader, MachOFatFile32, Nlist};
use object::Endianness;
use sha2::{Digest, Sha256};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const INSTALL_NAME: &str = "/usr/local/lib/pam/pam_wpam.so";
const LIBPAM: &str = "/usr/lib/libpam.2.dylib";
const LIBSYSTEM: &str = "/usr/lib/libSystem.B.dylib";
/// macOS 11.0 as LC_BUILD_VERSION encodes it (xxxx.yy.zz in nibbles).
const MACOS_11: u32 = 11 << 16;

fn artifact(name: &str) -> Option<PathBuf> {
    let p = Path::new(ROOT).join("dist/macos-universal").join(name);
    if p.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var_os("WPAM_REQUIRE_MACOS_ARTIFACTS").is_none(),
        "{} missing: run ./build-all.sh macos-universal",
        p.display()
    );
    eprintln!(
        "skipped: {} not built (./build-all.sh macos-universal)",
        p.display()
    );
    None
}

/// What one slice says about itself.
#[derive(Debug, Default)]
struct Slice {
    cputype: u32,
    filetype: u32,
    flags: u32,
    id_dylib: Option<String>,
    /// LC_LOAD_DYLIB (and weak/reexport/lazy variants): name, compatibility version.
    dylibs: Vec<(String, u32, u32)>,
    rpaths: usize,
    minos: Option<u32>,
    /// Defined external symbols.
    exports: BTreeSet<String>,
    /// Undefined symbols with the dylib they are bound to (ordinal, 1-based).
    imports: Vec<(String, u16)>,
    signature: Option<(u32, u32)>,
}

fn read_slice(data: &[u8]) -> Slice {
    let header = MachHeader64::<Endianness>::parse(data, 0).expect("a 64-bit Mach-O header");
    let e = header.endian().expect("endianness");
    let mut s = Slice {
        cputype: header.cputype(e),
        filetype: header.filetype(e),
        flags: header.flags(e),
        ..Slice::default()
    };
    let mut commands = header.load_commands(e, data, 0).expect("load commands");
    while let Some(cmd) = commands.next().expect("a load command") {
        use object::read::macho::LoadCommandVariant as V;
        match cmd.variant().expect("a known load command") {
            V::IdDylib(d) => {
                let name = cmd.string(e, d.dylib.name).expect("install name");
                s.id_dylib = Some(String::from_utf8_lossy(name).into_owned());
            }
            V::Dylib(d) => {
                let name = cmd.string(e, d.dylib.name).expect("dylib name");
                s.dylibs.push((
                    String::from_utf8_lossy(name).into_owned(),
                    d.dylib.compatibility_version.get(e),
                    cmd.cmd(),
                ));
            }
            V::Rpath(_) => s.rpaths += 1,
            V::BuildVersion(b) => {
                assert_eq!(b.platform.get(e), macho::PLATFORM_MACOS, "platform");
                s.minos = Some(b.minos.get(e));
            }
            V::LinkeditData(l) if cmd.cmd() == macho::LC_CODE_SIGNATURE => {
                s.signature = Some((l.dataoff.get(e), l.datasize.get(e)));
            }
            V::Symtab(st) => {
                let symbols = st
                    .symbols::<MachHeader64<Endianness>, _>(e, data)
                    .expect("symbol table");
                for sym in symbols.iter() {
                    let t = sym.n_type();
                    if t & macho::N_STAB != 0 || t & macho::N_EXT == 0 {
                        continue;
                    }
                    let name = sym.name(e, symbols.strings()).expect("symbol name");
                    let name = String::from_utf8_lossy(name).into_owned();
                    match t & macho::N_TYPE {
                        macho::N_UNDF => s.imports.push((name, (sym.n_desc(e) >> 8) & 0xff)),
                        _ => {
                            s.exports.insert(name);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    s
}

/// The slices of a universal file, by CPU type.
fn slices(bytes: &[u8]) -> Vec<(u32, &[u8])> {
    let fat = MachOFatFile32::parse(bytes).expect("a universal (fat) Mach-O file");
    fat.arches()
        .iter()
        .map(|a| {
            // Each slice at a 16 KiB boundary, as lipo and Apple's tools
            // place arm64 slices (the arm64 page size).
            assert!(a.align() >= 14, "slice alignment 2^{}", a.align());
            assert_eq!(a.offset() % (1 << 14), 0, "slice offset {}", a.offset());
            (a.cputype(), a.data(bytes).expect("slice data"))
        })
        .collect()
}

fn be32(b: &[u8], at: usize) -> u32 {
    let s: [u8; 4] = b
        .get(at..at + 4)
        .and_then(|x| x.try_into().ok())
        .unwrap_or_else(|| panic!("blob too short at {at}"));
    u32::from_be_bytes(s)
}

const CSMAGIC_EMBEDDED_SIGNATURE: u32 = 0xfade_0cc0;
const CSMAGIC_CODEDIRECTORY: u32 = 0xfade_0c02;
const CSSLOT_CODEDIRECTORY: u32 = 0;
const CS_HASHTYPE_SHA256: u8 = 2;
const CS_ADHOC: u32 = 0x2;

/// Checks the embedded signature of one slice (xnu's cs_blobs.h layout,
/// all big-endian): a SuperBlob whose CodeDirectory has one SHA-256 per
/// page of everything before the signature. Returns the identifier.
fn check_signature(slice: &[u8], (dataoff, datasize): (u32, u32)) -> Result<String, String> {
    let (off, size) = (dataoff as usize, datasize as usize);
    let sig = slice
        .get(off..off + size)
        .ok_or("LC_CODE_SIGNATURE points past the slice")?;
    if off + size != slice.len() {
        return Err(format!(
            "the signature ends at {}, the slice at {}",
            off + size,
            slice.len()
        ));
    }
    if be32(sig, 0) != CSMAGIC_EMBEDDED_SIGNATURE {
        return Err(format!("SuperBlob magic {:#x}", be32(sig, 0)));
    }
    let count = be32(sig, 8) as usize;
    let cd_at = (0..count)
        .find(|i| be32(sig, 12 + i * 8) == CSSLOT_CODEDIRECTORY)
        .map(|i| be32(sig, 16 + i * 8) as usize)
        .ok_or("no CodeDirectory in the SuperBlob")?;
    let cd = sig.get(cd_at..).ok_or("CodeDirectory offset")?;
    if be32(cd, 0) != CSMAGIC_CODEDIRECTORY {
        return Err(format!("CodeDirectory magic {:#x}", be32(cd, 0)));
    }
    let flags = be32(cd, 12);
    let hash_offset = be32(cd, 16) as usize;
    let ident_offset = be32(cd, 20) as usize;
    let n_code_slots = be32(cd, 28) as usize;
    let code_limit = be32(cd, 32) as usize;
    let (hash_size, hash_type, page_shift) = (cd[36] as usize, cd[37], cd[39]);
    if flags & CS_ADHOC == 0 {
        return Err(format!(
            "flags {flags:#x}: not ad hoc, and no CMS is checked here"
        ));
    }
    if hash_type != CS_HASHTYPE_SHA256 || hash_size != 32 {
        return Err(format!(
            "hash type {hash_type}, size {hash_size}: not SHA-256"
        ));
    }
    if code_limit != off {
        return Err(format!(
            "the signature covers {code_limit} bytes, the code before it is {off}"
        ));
    }
    let page = 1usize << page_shift;
    if n_code_slots != code_limit.div_ceil(page) {
        return Err(format!(
            "{n_code_slots} hashes for {code_limit} bytes in pages of {page}"
        ));
    }
    for i in 0..n_code_slots {
        let want = cd
            .get(hash_offset + i * 32..hash_offset + (i + 1) * 32)
            .ok_or("hash slots past the CodeDirectory")?;
        let end = ((i + 1) * page).min(code_limit);
        let got = Sha256::digest(&slice[i * page..end]);
        if got.as_slice() != want {
            return Err(format!(
                "page {i} (bytes {}..{end}): hash differs",
                i * page
            ));
        }
    }
    let ident = cd.get(ident_offset..).ok_or("identifier offset")?;
    let ident = ident.split(|&b| b == 0).next().unwrap_or_default();
    Ok(String::from_utf8_lossy(ident).into_owned())
}

/// Apple's libpam exports (the link stub's source).
fn apple_libpam_exports() -> BTreeSet<String> {
    std::fs::read_to_string(Path::new(ROOT).join("ci/build/pam-stub/apple-openpam.syms"))
        .expect("apple-openpam.syms")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!("_{l}"))
        .collect()
}

/// Everything both files must satisfy; returns the slices read.
fn check_common(path: &Path, bytes: &[u8], filetype: u32) -> Vec<Slice> {
    let mut cpus = Vec::new();
    let mut out = Vec::new();
    for (cpu, data) in slices(bytes) {
        let s = read_slice(data);
        let what = format!("{} ({})", path.display(), cpu_name(cpu));
        assert_eq!(s.cputype, cpu, "{what}: header and fat arch disagree");
        assert_eq!(s.filetype, filetype, "{what}: file type");
        assert!(
            s.flags & macho::MH_TWOLEVEL != 0,
            "{what}: not two-level namespace"
        );
        let minos = s
            .minos
            .unwrap_or_else(|| panic!("{what}: no LC_BUILD_VERSION"));
        assert!(
            minos <= MACOS_11,
            "{what}: needs macOS {minos:#x}, later than 11.0"
        );
        assert_eq!(s.rpaths, 0, "{what}: has an LC_RPATH");
        // Only the system, and versions every release from 11 satisfies.
        let names: BTreeSet<&str> = s.dylibs.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, BTreeSet::from([LIBPAM, LIBSYSTEM]), "{what}: dylibs");
        for (name, compat, cmd) in &s.dylibs {
            assert_eq!(
                *cmd,
                macho::LC_LOAD_DYLIB,
                "{what}: {name} is not a plain load"
            );
            assert!(
                *compat <= 1 << 16,
                "{what}: {name} needs compatibility {compat:#x}"
            );
        }
        // Every import bound to one of them, and libpam's only to what
        // Apple's libpam has.
        let libpam_exports = apple_libpam_exports();
        let mut from_libpam = 0;
        for (name, ordinal) in &s.imports {
            let lib = (*ordinal as usize)
                .checked_sub(1)
                .and_then(|i| s.dylibs.get(i))
                .map(|(n, _, _)| n.as_str())
                .unwrap_or_else(|| panic!("{what}: {name} has library ordinal {ordinal}"));
            if lib == LIBPAM {
                assert!(
                    libpam_exports.contains(name),
                    "{what}: {name} is not in Apple's libpam"
                );
                from_libpam += 1;
            }
        }
        assert!(
            from_libpam > 0,
            "{what}: nothing imported from libpam: the import check saw nothing"
        );
        let sig = s
            .signature
            .unwrap_or_else(|| panic!("{what}: no LC_CODE_SIGNATURE"));
        let ident = check_signature(data, sig).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!ident.is_empty(), "{what}: empty signing identifier");
        cpus.push(cpu);
        out.push(s);
    }
    cpus.sort_unstable();
    let mut want = vec![macho::CPU_TYPE_X86_64, macho::CPU_TYPE_ARM64];
    want.sort_unstable();
    assert_eq!(cpus, want, "{}: slices", path.display());
    out
}

fn cpu_name(cpu: u32) -> &'static str {
    match cpu {
        macho::CPU_TYPE_ARM64 => "arm64",
        macho::CPU_TYPE_X86_64 => "x86_64",
        _ => "other",
    }
}

#[test]
fn the_module_is_a_universal_signed_pam_module_for_apples_libpam() {
    let Some(p) = artifact("pam_wpam.so") else {
        return;
    };
    let bytes = std::fs::read(&p).expect("read the module");
    for s in check_common(&p, &bytes, macho::MH_DYLIB) {
        assert_eq!(s.id_dylib.as_deref(), Some(INSTALL_NAME), "install name");
        let want: BTreeSet<String> = [
            "_pam_sm_acct_mgmt",
            "_pam_sm_authenticate",
            "_pam_sm_setcred",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(s.exports, want, "{}: exported symbols", cpu_name(s.cputype));
    }
}

#[test]
fn the_wpam_command_is_a_universal_signed_executable() {
    let Some(p) = artifact("wpam") else {
        return;
    };
    let bytes = std::fs::read(&p).expect("read wpam");
    for s in check_common(&p, &bytes, macho::MH_EXECUTE) {
        assert!(
            s.flags & macho::MH_PIE != 0,
            "{}: not PIE",
            cpu_name(s.cputype)
        );
    }
}

/// The signature check is not vacuous: one byte changed in the code of
/// each slice (in the middle, and in the load commands of the first page)
/// or in the first of the signature's own page hashes is found.
#[test]
fn a_changed_byte_breaks_the_signature_check() {
    let Some(p) = artifact("pam_wpam.so") else {
        return;
    };
    let bytes = std::fs::read(&p).expect("read the module");
    for (cpu, data) in slices(&bytes) {
        let sig = read_slice(data).signature.expect("LC_CODE_SIGNATURE");
        assert!(check_signature(data, sig).is_ok(), "{}", cpu_name(cpu));
        // The first code hash: SuperBlob -> CodeDirectory -> hashOffset.
        let blob = sig.0 as usize;
        let cd = blob + be32(data, blob + 16) as usize;
        let first_hash = cd + be32(data, cd + 16) as usize;
        for at in [blob / 2, 100, first_hash] {
            let mut copy = data.to_vec();
            copy[at] ^= 0x01;
            let r = check_signature(&copy, sig);
            assert!(
                r.as_ref().is_err_and(|e| e.contains("hash differs")),
                "{}: byte {at} changed: {r:?}",
                cpu_name(cpu)
            );
        }
    }
}
