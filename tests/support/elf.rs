//! The parts of an ELF64 little-endian file that the BSD loaders read
//! (header, program headers, notes, the dynamic section, RELA relocations),
//! parsed from the bytes: the loader rules in tests/bsd_loaders.rs compare
//! numbers, not readelf's spelling of them.
//!
//! Only what a loader reads through program headers is used (no section
//! headers): that is all the kernel, ld.so, ld.elf_so and rtld see.

#![allow(dead_code)] // each test binary uses its own subset

use std::fmt;

pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
pub const EM_X86_64: u16 = 62;

pub const PT_LOAD: u32 = 1;
pub const PT_DYNAMIC: u32 = 2;
pub const PT_INTERP: u32 = 3;
pub const PT_NOTE: u32 = 4;
pub const PT_SHLIB: u32 = 5;
pub const PT_PHDR: u32 = 6;
pub const PT_TLS: u32 = 7;
pub const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
pub const PT_GNU_RELRO: u32 = 0x6474_e552;
pub const PT_GNU_PROPERTY: u32 = 0x6474_e553;
/// OpenBSD sys/sys/exec_elf.h: PT_OPENBSD_RANDOMIZE, _WXNEEDED, _NOBTCFI,
/// _SYSCALLS, _MUTABLE.
pub const PT_OPENBSD_RANDOMIZE: u32 = 0x65a3_dbe6;
pub const PT_OPENBSD_WXNEEDED: u32 = 0x65a3_dbe7;
pub const PT_OPENBSD_NOBTCFI: u32 = 0x65a3_dbe8;
pub const PT_OPENBSD_SYSCALLS: u32 = 0x65a3_dbe9;
pub const PT_OPENBSD_MUTABLE: u32 = 0x65a3_dbe5;

pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

pub const DT_NULL: u64 = 0;
pub const DT_NEEDED: u64 = 1;
pub const DT_STRTAB: u64 = 5;
pub const DT_RELA: u64 = 7;
pub const DT_RELASZ: u64 = 8;
pub const DT_INIT: u64 = 12;
pub const DT_FINI: u64 = 13;
pub const DT_RPATH: u64 = 15;
pub const DT_TEXTREL: u64 = 22;
pub const DT_RUNPATH: u64 = 29;

pub const R_X86_64_RELATIVE: u32 = 8;

/// `endbr64`: the instruction an indirect branch must land on under IBT.
pub const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

#[derive(Clone, Copy, Debug)]
pub struct Phdr {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

impl Phdr {
    pub fn contains(&self, vaddr: u64) -> bool {
        vaddr >= self.vaddr && vaddr < self.vaddr + self.memsz
    }
    pub fn flags_str(&self) -> String {
        let f = |bit, c| if self.flags & bit != 0 { c } else { ' ' };
        [f(PF_R, 'R'), f(PF_W, 'W'), f(PF_X, 'E')].iter().collect()
    }
}

/// The name readelf gives a program header type (OS-specific ones included).
pub fn type_name(t: u32) -> String {
    match t {
        PT_LOAD => "LOAD".into(),
        PT_DYNAMIC => "DYNAMIC".into(),
        PT_INTERP => "INTERP".into(),
        PT_NOTE => "NOTE".into(),
        PT_SHLIB => "SHLIB".into(),
        PT_PHDR => "PHDR".into(),
        PT_TLS => "TLS".into(),
        PT_GNU_EH_FRAME => "GNU_EH_FRAME".into(),
        PT_GNU_STACK => "GNU_STACK".into(),
        PT_GNU_RELRO => "GNU_RELRO".into(),
        PT_GNU_PROPERTY => "GNU_PROPERTY".into(),
        PT_OPENBSD_RANDOMIZE => "OPENBSD_RANDOMIZE".into(),
        PT_OPENBSD_WXNEEDED => "OPENBSD_WXNEEDED".into(),
        PT_OPENBSD_NOBTCFI => "OPENBSD_NOBTCFI".into(),
        PT_OPENBSD_SYSCALLS => "OPENBSD_SYSCALLS".into(),
        PT_OPENBSD_MUTABLE => "OPENBSD_MUTABLE".into(),
        t => format!("{t:#x}"),
    }
}

pub struct Note {
    pub name: String,
    pub n_type: u32,
    pub desc: Vec<u8>,
}

pub struct Elf {
    pub data: Vec<u8>,
    pub class: u8,
    pub endian: u8,
    pub ei_version: u8,
    pub osabi: u8,
    pub e_type: u16,
    pub machine: u16,
    pub version: u32,
    pub entry: u64,
    pub phoff: u64,
    pub phentsize: u16,
    pub phnum: u16,
    pub phdrs: Vec<Phdr>,
}

fn u16_at(d: &[u8], o: usize) -> Result<u16, String> {
    d.get(o..o + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| format!("truncated at {o:#x}"))
}
fn u32_at(d: &[u8], o: usize) -> Result<u32, String> {
    d.get(o..o + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("truncated at {o:#x}"))
}
fn u64_at(d: &[u8], o: usize) -> Result<u64, String> {
    let mut b = [0u8; 8];
    b.copy_from_slice(
        d.get(o..o + 8)
            .ok_or_else(|| format!("truncated at {o:#x}"))?,
    );
    Ok(u64::from_le_bytes(b))
}

impl Elf {
    pub fn parse(data: Vec<u8>) -> Result<Elf, String> {
        if data.get(..4) != Some(b"\x7fELF") {
            return Err("not ELF".into());
        }
        if data[4] != 2 || data[5] != 1 {
            return Err("not ELF64 little-endian".into());
        }
        let phoff = u64_at(&data, 0x20)?;
        let phentsize = u16_at(&data, 0x36)?;
        let phnum = u16_at(&data, 0x38)?;
        let mut phdrs = Vec::new();
        for i in 0..phnum as usize {
            let o = phoff as usize + i * phentsize as usize;
            phdrs.push(Phdr {
                p_type: u32_at(&data, o)?,
                flags: u32_at(&data, o + 4)?,
                offset: u64_at(&data, o + 8)?,
                vaddr: u64_at(&data, o + 16)?,
                filesz: u64_at(&data, o + 32)?,
                memsz: u64_at(&data, o + 40)?,
                align: u64_at(&data, o + 48)?,
            });
        }
        Ok(Elf {
            class: data[4],
            endian: data[5],
            ei_version: data[6],
            osabi: data[7],
            e_type: u16_at(&data, 0x10)?,
            machine: u16_at(&data, 0x12)?,
            version: u32_at(&data, 0x14)?,
            entry: u64_at(&data, 0x18)?,
            phoff,
            phentsize,
            phnum,
            phdrs,
            data,
        })
    }

    pub fn read(path: &std::path::Path) -> Elf {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Elf::parse(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn all(&self, t: u32) -> Vec<Phdr> {
        self.phdrs
            .iter()
            .filter(|p| p.p_type == t)
            .copied()
            .collect()
    }

    pub fn first(&self, t: u32) -> Option<Phdr> {
        self.phdrs.iter().find(|p| p.p_type == t).copied()
    }

    pub fn loads(&self) -> Vec<Phdr> {
        self.all(PT_LOAD)
    }

    /// File offset of a virtual address inside a PT_LOAD's file image.
    pub fn offset_of(&self, vaddr: u64) -> Option<usize> {
        self.loads()
            .into_iter()
            .find(|p| vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz)
            .map(|p| (p.offset + (vaddr - p.vaddr)) as usize)
    }

    pub fn bytes_at(&self, vaddr: u64, n: usize) -> Option<&[u8]> {
        let o = self.offset_of(vaddr)?;
        self.data.get(o..o + n)
    }

    /// Whether `vaddr` lies in an executable PT_LOAD.
    pub fn is_code(&self, vaddr: u64) -> bool {
        self.loads()
            .iter()
            .any(|p| p.flags & PF_X != 0 && p.contains(vaddr))
    }

    /// Every note of every PT_NOTE segment (4-byte aligned, as on x86-64).
    pub fn notes(&self) -> Vec<Note> {
        let mut out = Vec::new();
        for p in self.all(PT_NOTE) {
            let (start, end) = (p.offset as usize, (p.offset + p.filesz) as usize);
            let align = p.align.max(4) as usize;
            let round = |n: usize| n.div_ceil(align) * align;
            let mut o = start;
            while o + 12 <= end {
                let (Ok(namesz), Ok(descsz), Ok(n_type)) = (
                    u32_at(&self.data, o),
                    u32_at(&self.data, o + 4),
                    u32_at(&self.data, o + 8),
                ) else {
                    break;
                };
                let name_at = o + 12;
                let desc_at = name_at + round(namesz as usize);
                let next = desc_at + round(descsz as usize);
                if next > end {
                    break;
                }
                let name = &self.data[name_at..name_at + namesz as usize];
                out.push(Note {
                    name: String::from_utf8_lossy(name.strip_suffix(&[0]).unwrap_or(name))
                        .into_owned(),
                    n_type,
                    desc: self.data[desc_at..desc_at + descsz as usize].to_vec(),
                });
                o = next;
            }
        }
        out
    }

    /// (tag, value) of the PT_DYNAMIC entries, up to DT_NULL.
    pub fn dynamic(&self) -> Vec<(u64, u64)> {
        let Some(p) = self.first(PT_DYNAMIC) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut o = p.offset as usize;
        while o + 16 <= (p.offset + p.filesz) as usize {
            let (Ok(tag), Ok(val)) = (u64_at(&self.data, o), u64_at(&self.data, o + 8)) else {
                break;
            };
            if tag == DT_NULL {
                break;
            }
            out.push((tag, val));
            o += 16;
        }
        out
    }

    pub fn dyn_value(&self, tag: u64) -> Option<u64> {
        self.dynamic()
            .into_iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v)
    }

    /// NUL-terminated string at a virtual address.
    pub fn c_string(&self, vaddr: u64) -> Option<String> {
        let o = self.offset_of(vaddr)?;
        let end = self.data[o..].iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&self.data[o..o + end]).into_owned())
    }

    /// DT_NEEDED names, in order.
    pub fn needed(&self) -> Vec<String> {
        let Some(strtab) = self.dyn_value(DT_STRTAB) else {
            return Vec::new();
        };
        self.dynamic()
            .into_iter()
            .filter(|(t, _)| *t == DT_NEEDED)
            .filter_map(|(_, off)| self.c_string(strtab + off))
            .collect()
    }

    /// The program interpreter (PT_INTERP), when there is one.
    pub fn interp(&self) -> Option<Vec<u8>> {
        let p = self.first(PT_INTERP)?;
        self.data
            .get(p.offset as usize..(p.offset + p.filesz) as usize)
            .map(<[u8]>::to_vec)
    }

    /// Addends of the R_X86_64_RELATIVE relocations of DT_RELA: every code
    /// or data address the binary stores in its writable data (function
    /// pointers, vtables, init/fini arrays, GOT entries of local symbols).
    pub fn relative_addends(&self) -> Vec<u64> {
        let (Some(rela), Some(size)) = (self.dyn_value(DT_RELA), self.dyn_value(DT_RELASZ)) else {
            return Vec::new();
        };
        let Some(start) = self.offset_of(rela) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for o in (start..start + size as usize).step_by(24) {
            let (Ok(info), Ok(addend)) = (u64_at(&self.data, o + 8), u64_at(&self.data, o + 16))
            else {
                break;
            };
            if (info & 0xffff_ffff) as u32 == R_X86_64_RELATIVE {
                out.push(addend);
            }
        }
        out
    }
}

/// The program headers as `readelf -lW` lays them out, for test output.
impl fmt::Display for Elf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {:<17} {:>8} {:>18} {:>8} {:>8} {:<3} {:>8}",
            "Type", "Offset", "VirtAddr", "FileSiz", "MemSiz", "Flg", "Align"
        )?;
        for p in &self.phdrs {
            writeln!(
                f,
                "  {:<17} {:#08x} {:#018x} {:#08x} {:#08x} {} {:#8x}",
                type_name(p.p_type),
                p.offset,
                p.vaddr,
                p.filesz,
                p.memsz,
                p.flags_str(),
                p.align
            )?;
        }
        Ok(())
    }
}
