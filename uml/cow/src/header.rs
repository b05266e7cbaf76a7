//! The COW header: parsing all four historical layouts, writing the canonical one, and the
//! geometry (where the bitmap and the data area are) that follows from it.
//!
//! Layouts (all offsets in bytes):
//!
//! | layout | header length | field byte order | path field |
//! |---|---:|---|---|
//! | v1 | 280 | the magic's (host order of the writer; little-endian on x86) | 8..264 |
//! | v2 | 4120 | big-endian | 8..4104 |
//! | v3 | 4128 | big-endian | 32..4128 |
//! | v3 with the broken 64-bit layout | 4136 | big-endian | 36..4132 |

use std::fmt;

/// The magic number, `OOOM` when stored big-endian.
pub const MAGIC: u32 = 0x4F4F_4F4D;
/// What a reader reads before deciding anything (the longest layout).
pub const MAX_HEADER_LEN: usize = 4136;
/// The only sector size the kernel really uses.
pub const SECTOR_SIZE: u32 = 512;
/// The alignment we write (the kernel's `PAGE_SIZE` on x86).
pub const ALIGNMENT: u32 = 4096;
/// Length of the v2/v3 path field, NUL included.
pub const PATH_FIELD_LEN: usize = 4096;
/// The largest disk size a header may give: a file offset (`off_t`) must reach its end, and
/// the geometry's sums must not overflow.
pub const MAX_DISK_SIZE: u64 = i64::MAX as u64;
/// Length of the canonical v3 header.
pub const V3_HEADER_LEN: usize = 4128;

const V1_LEN: usize = 280;
const V1_PATH_LEN: usize = 256;
const V2_LEN: usize = 4120;
const V3_BROKEN_LEN: usize = 4136;

/// Which header layout a file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
    V3,
    /// v3 as written by 64-bit builds before Dec 2005 (an 8-byte mtime shifted the fields).
    V3Broken,
}

impl Version {
    /// The number stored in the header.
    pub fn number(self) -> u32 {
        match self {
            Version::V1 => 1,
            Version::V2 => 2,
            Version::V3 | Version::V3Broken => 3,
        }
    }
    /// A short human name.
    pub fn describe(self) -> &'static str {
        match self {
            Version::V1 => "v1 (legacy)",
            Version::V2 => "v2 (legacy)",
            Version::V3 => "v3",
            Version::V3Broken => "v3, broken 64-bit layout",
        }
    }
    /// The name used in JSON output.
    pub fn key(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::V3 => "v3",
            Version::V3Broken => "v3-broken-64bit",
        }
    }
    /// Where this layout keeps its fields.
    fn fields(self) -> Fields {
        match self {
            Version::V1 => Fields {
                path: 8,
                path_len: V1_PATH_LEN,
                mtime: 264,
                size: 268,
                sector_size: 276,
                alignment: None,
                cow_format: None,
            },
            Version::V2 => Fields {
                path: 8,
                path_len: PATH_FIELD_LEN,
                mtime: 4104,
                size: 4108,
                sector_size: 4116,
                alignment: None,
                cow_format: None,
            },
            Version::V3 => Fields {
                path: 32,
                path_len: PATH_FIELD_LEN,
                mtime: 8,
                size: 12,
                sector_size: 20,
                alignment: Some(24),
                cow_format: Some(28),
            },
            Version::V3Broken => Fields {
                path: 36,
                path_len: PATH_FIELD_LEN,
                mtime: 8,
                size: 16,
                sector_size: 24,
                alignment: Some(28),
                cow_format: Some(32),
            },
        }
    }
    fn header_len(self) -> usize {
        match self {
            Version::V1 => V1_LEN,
            Version::V2 => V2_LEN,
            Version::V3 => V3_HEADER_LEN,
            Version::V3Broken => V3_BROKEN_LEN,
        }
    }
}

/// Byte offsets of a layout's fields (`None`: the layout has no such field).
struct Fields {
    path: usize,
    path_len: usize,
    mtime: usize,
    size: usize,
    sector_size: usize,
    alignment: Option<usize>,
    cow_format: Option<usize>,
}

/// Byte order of the numeric fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn u32(self, b: &[u8], off: usize) -> u32 {
        let a: [u8; 4] = b[off..off + 4].try_into().unwrap();
        match self {
            ByteOrder::Little => u32::from_le_bytes(a),
            ByteOrder::Big => u32::from_be_bytes(a),
        }
    }
    fn u64(self, b: &[u8], off: usize) -> u64 {
        let a: [u8; 8] = b[off..off + 8].try_into().unwrap();
        match self {
            ByteOrder::Little => u64::from_le_bytes(a),
            ByteOrder::Big => u64::from_be_bytes(a),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ByteOrder::Little => "little-endian",
            ByteOrder::Big => "big-endian",
        }
    }
}

/// Why a header could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("file too short for a COW header ({len} bytes; at least 8 are needed)")]
    Short { len: usize },
    #[error(
        "not a COW file (first bytes {}, the COW magic is 4f 4f 4f 4d \"OOOM\")",
        hex4(found)
    )]
    NotCow { found: [u8; 4] },
    #[error("truncated COW header: {len} bytes, a {} header needs {need}", version.describe())]
    Truncated {
        version: Version,
        len: usize,
        need: usize,
    },
    #[error("unsupported COW version {0} (known: 1, 2, 3)")]
    BadVersion(u32),
    #[error("invalid COW header: sector size {0} (only 512 is used by UML)")]
    BadSectorSize(u32),
    #[error("invalid COW header: alignment is 0")]
    ZeroAlignment,
    #[error("invalid COW header: disk size {0} bytes is larger than any file can be (at most {MAX_DISK_SIZE})")]
    SizeTooLarge(u64),
    #[error("invalid COW header: the backing file path is not NUL-terminated")]
    PathUnterminated,
}

fn hex4(b: &[u8; 4]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A parsed COW header, whatever its layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: Version,
    /// Byte order of the numeric fields (big-endian except for v1).
    pub byte_order: ByteOrder,
    /// The backing file's path as stored (bytes before the first NUL).
    pub backing_file: Vec<u8>,
    /// The backing file's mtime in whole seconds when the COW was made.
    pub mtime: u32,
    /// The backing file's size in bytes.
    pub size: u64,
    pub sector_size: u32,
    /// v3 only; v1 and v2 align to the sector size.
    pub alignment: u32,
    /// v3 only (0, the bitmap format, is the only one defined; the kernel ignores it).
    pub cow_format: u32,
}

/// Where the parts of a COW file are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub header_len: u64,
    pub bitmap_offset: u64,
    /// The bitmap length the header implies (one byte short for v1/v2 when the sector count is
    /// not a multiple of 8: the historical rounding bug).
    pub bitmap_len: u64,
    pub data_offset: u64,
    /// Sectors of the virtual disk: the size rounded up to whole sectors.
    pub sectors: u64,
    pub size: u64,
    pub sector_size: u64,
}

impl Geometry {
    /// Bytes of bitmap needed to hold one bit per sector.
    pub fn bitmap_bytes_needed(&self) -> u64 {
        self.sectors.div_ceil(8)
    }
    /// Length of a freshly made COW file: the data area ends where the disk ends.
    pub fn full_len(&self) -> u64 {
        self.data_offset + self.size
    }
}

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

impl Header {
    /// A canonical v3 header (sector size 512, alignment 4096, format 0).
    pub fn new_v3(backing_file: Vec<u8>, mtime: u32, size: u64) -> Header {
        Header {
            version: Version::V3,
            byte_order: ByteOrder::Big,
            backing_file,
            mtime,
            size,
            sector_size: SECTOR_SIZE,
            alignment: ALIGNMENT,
            cow_format: 0,
        }
    }

    /// Parses the first bytes of a file (up to [`MAX_HEADER_LEN`] of them).
    pub fn parse(buf: &[u8]) -> Result<Header, HeaderError> {
        if buf.len() < 8 {
            return Err(HeaderError::Short { len: buf.len() });
        }
        let first: [u8; 4] = buf[0..4].try_into().unwrap();
        let magic_order = if u32::from_be_bytes(first) == MAGIC {
            ByteOrder::Big
        } else if u32::from_le_bytes(first) == MAGIC {
            ByteOrder::Little
        } else {
            return Err(HeaderError::NotCow { found: first });
        };
        let number = magic_order.u32(buf, 4);
        let version = match number {
            1 => Version::V1,
            2 => Version::V2,
            3 if buf.len() >= 36 && buf[32..36] == [0, 0, 0, 0] => Version::V3Broken,
            3 => Version::V3,
            n => return Err(HeaderError::BadVersion(n)),
        };
        let need = version.header_len();
        if buf.len() < need {
            // A v3 file cut before byte 36 cannot be told from the broken layout; report the
            // shorter requirement.
            return Err(HeaderError::Truncated {
                version,
                len: buf.len(),
                need,
            });
        }
        // v1 keeps the magic's byte order; the others are big-endian.
        let order = match version {
            Version::V1 => magic_order,
            _ => ByteOrder::Big,
        };
        let f = version.fields();
        let path = &buf[f.path..f.path + f.path_len];
        let mtime = order.u32(buf, f.mtime);
        let size = order.u64(buf, f.size);
        let sector_size = order.u32(buf, f.sector_size);
        let alignment = f.alignment.map(|o| order.u32(buf, o));
        let cow_format = f.cow_format.map_or(0, |o| order.u32(buf, o));
        let nul = path
            .iter()
            .position(|&b| b == 0)
            .ok_or(HeaderError::PathUnterminated)?;
        if sector_size != SECTOR_SIZE {
            return Err(HeaderError::BadSectorSize(sector_size));
        }
        let alignment = alignment.unwrap_or(sector_size);
        if alignment == 0 {
            return Err(HeaderError::ZeroAlignment);
        }
        // Found by the cow_header fuzz target: a size near 2^64 overflowed the geometry.
        if size > MAX_DISK_SIZE {
            return Err(HeaderError::SizeTooLarge(size));
        }
        Ok(Header {
            version,
            byte_order: order,
            backing_file: path[..nul].to_vec(),
            mtime,
            size,
            sector_size,
            alignment,
            cow_format,
        })
    }

    /// The canonical v3 encoding of this header (whatever version it was read from): 4128 bytes,
    /// big-endian, path field zero-filled.
    ///
    /// Panics if the path does not fit (4095 bytes); check with [`Header::path_fits`] first.
    pub fn encode_v3(&self) -> Vec<u8> {
        let mut b = vec![0u8; V3_HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        b[4..8].copy_from_slice(&3u32.to_be_bytes());
        b[8..12].copy_from_slice(&self.mtime.to_be_bytes());
        b[12..20].copy_from_slice(&self.size.to_be_bytes());
        b[20..24].copy_from_slice(&self.sector_size.to_be_bytes());
        b[24..28].copy_from_slice(&self.alignment.to_be_bytes());
        b[28..32].copy_from_slice(&self.cow_format.to_be_bytes());
        assert!(
            self.backing_file.len() < PATH_FIELD_LEN,
            "backing path too long"
        );
        b[32..32 + self.backing_file.len()].copy_from_slice(&self.backing_file);
        b
    }

    /// True if the path fits a v3 path field (with its NUL).
    pub fn path_fits(path: &[u8]) -> bool {
        path.len() < PATH_FIELD_LEN && !path.contains(&0)
    }

    /// True for the layout we write: v3, 512-byte sectors, alignment 4096, format 0.
    pub fn is_canonical(&self) -> bool {
        self.version == Version::V3
            && self.sector_size == SECTOR_SIZE
            && self.alignment == ALIGNMENT
            && self.cow_format == 0
    }

    /// Where the bitmap and the data are, following the kernel's formulas.
    pub fn geometry(&self) -> Geometry {
        let s = self.sector_size as u64;
        let header_len = self.version.header_len() as u64;
        let sectors = self.size.div_ceil(s);
        match self.version {
            Version::V1 | Version::V2 => {
                let bitmap_offset = header_len;
                // Historical formula, one byte short when sectors % 8 != 0.
                let bitmap_len = (self.size + s - 1) / (8 * s);
                Geometry {
                    header_len,
                    bitmap_offset,
                    bitmap_len,
                    data_offset: round_up(bitmap_offset + bitmap_len, s),
                    sectors,
                    size: self.size,
                    sector_size: s,
                }
            }
            Version::V3 | Version::V3Broken => {
                let a = self.alignment as u64;
                let bitmap_offset = round_up(header_len, a);
                let bitmap_len = sectors.div_ceil(8);
                Geometry {
                    header_len,
                    bitmap_offset,
                    bitmap_len,
                    data_offset: round_up(bitmap_offset + bitmap_len, a),
                    sectors,
                    size: self.size,
                    sector_size: s,
                }
            }
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn geo(version: Version, alignment: u32, size: u64) -> Geometry {
        Header {
            version,
            byte_order: ByteOrder::Big,
            backing_file: b"/x".to_vec(),
            mtime: 0,
            size,
            sector_size: 512,
            alignment,
            cow_format: 0,
        }
        .geometry()
    }

    #[test]
    fn geometry_of_every_layout() {
        // Offsets and lengths as the kernel computes them (docs/cow-format.md).
        // (layout, alignment, size, bitmap_offset, bitmap_len, data_offset, full length)
        type Row = (Version, u32, u64, u64, u64, u64, Option<u64>);
        let rows: &[Row] = &[
            (Version::V3, 4096, MIB, 8192, 256, 12288, Some(1060864)),
            (
                Version::V3,
                4096,
                MIB + 100,
                8192,
                257,
                12288,
                Some(1060964),
            ),
            (Version::V3, 4096, 8 * MIB, 8192, 2048, 12288, Some(8400896)),
            (
                Version::V3,
                4096,
                16 * MIB,
                8192,
                4096,
                12288,
                Some(16789504),
            ),
            (
                Version::V3,
                4096,
                2048 * MIB,
                8192,
                524288,
                532480,
                Some(2148016128),
            ),
            (Version::V3, 512, MIB, 4608, 256, 5120, Some(1053696)),
            (Version::V3, 512, 16 * MIB, 4608, 4096, 8704, None),
            (Version::V2, 512, MIB, 4120, 256, 4608, Some(1053184)),
            (Version::V2, 512, 16 * MIB, 4120, 4096, 8704, None),
            (Version::V1, 512, MIB, 280, 256, 1024, Some(1049600)),
            (Version::V1, 512, 16 * MIB, 280, 4096, 4608, None),
        ];
        for &(v, a, size, bo, bl, d, len) in rows {
            let g = geo(v, a, size);
            assert_eq!(
                (g.bitmap_offset, g.bitmap_len, g.data_offset),
                (bo, bl, d),
                "{v:?} align {a} size {size}"
            );
            if let Some(len) = len {
                assert_eq!(g.full_len(), len, "{v:?} align {a} size {size}");
            }
        }
    }

    #[test]
    fn v1_v2_rounding_bug_is_kept() {
        // 9 sectors: the historical formula gives 1 byte, 2 are needed.
        let g = geo(Version::V2, 512, 9 * 512);
        assert_eq!((g.bitmap_len, g.bitmap_bytes_needed()), (1, 2));
        assert_eq!(geo(Version::V3, 4096, 9 * 512).bitmap_len, 2);
    }

    #[test]
    fn v3_encoding_byte_by_byte() {
        let h = Header::new_v3(
            b"/srv/vectors/backing/pattern-1M.img".to_vec(),
            1677812583,
            MIB,
        );
        let b = h.encode_v3();
        assert_eq!(b.len(), 4128);
        assert_eq!(
            &b[0..32],
            &[
                0x4f, 0x4f, 0x4f, 0x4d, 0, 0, 0, 3, 0x64, 0x01, 0x63, 0x67, 0, 0, 0, 0, 0, 0x10, 0,
                0, 0, 0, 2, 0, 0, 0, 0x10, 0, 0, 0, 0, 0
            ]
        );
        assert_eq!(&b[32..36], b"/srv");
        assert!(b[32 + 35..].iter().all(|&x| x == 0));
        assert_eq!(Header::parse(&b).unwrap(), h);
    }

    fn v3_broken(path: &[u8], mtime: u32, size: u64, align: u32) -> Vec<u8> {
        let mut b = vec![0u8; 4136];
        b[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        b[4..8].copy_from_slice(&3u32.to_be_bytes());
        b[8..12].copy_from_slice(&mtime.to_be_bytes());
        b[16..24].copy_from_slice(&size.to_be_bytes());
        b[24..28].copy_from_slice(&512u32.to_be_bytes());
        b[28..32].copy_from_slice(&align.to_be_bytes());
        b[36..36 + path.len()].copy_from_slice(path);
        b
    }

    #[test]
    fn parses_every_layout() {
        // v1 on x86: little-endian magic and fields.
        let mut v1 = vec![0u8; 280];
        v1[0..4].copy_from_slice(b"MOOO");
        v1[4..8].copy_from_slice(&1u32.to_le_bytes());
        v1[8..14].copy_from_slice(b"/b.img");
        v1[264..268].copy_from_slice(&7u32.to_le_bytes());
        v1[268..276].copy_from_slice(&MIB.to_le_bytes());
        v1[276..280].copy_from_slice(&512u32.to_le_bytes());
        let h = Header::parse(&v1).unwrap();
        assert_eq!(
            (
                h.version,
                h.byte_order,
                &h.backing_file[..],
                h.mtime,
                h.size,
                h.alignment
            ),
            (Version::V1, ByteOrder::Little, &b"/b.img"[..], 7, MIB, 512)
        );
        assert_eq!(h.geometry().data_offset, 1024);

        let mut v2 = vec![0u8; 4120];
        v2[0..4].copy_from_slice(b"OOOM");
        v2[4..8].copy_from_slice(&2u32.to_be_bytes());
        v2[8..14].copy_from_slice(b"/b.img");
        // Garbage after the NUL is ignored.
        v2[20] = 0xAA;
        v2[4104..4108].copy_from_slice(&9u32.to_be_bytes());
        v2[4108..4116].copy_from_slice(&MIB.to_be_bytes());
        v2[4116..4120].copy_from_slice(&512u32.to_be_bytes());
        let h = Header::parse(&v2).unwrap();
        assert_eq!(
            (h.version, &h.backing_file[..], h.mtime, h.size),
            (Version::V2, &b"/b.img"[..], 9, MIB)
        );

        let b = v3_broken(b"/b.img", 11, MIB, 4096);
        let h = Header::parse(&b).unwrap();
        assert_eq!(
            (h.version, &h.backing_file[..], h.mtime, h.size, h.alignment),
            (Version::V3Broken, &b"/b.img"[..], 11, MIB, 4096)
        );
        // 4136 rounded up to 4096.
        assert_eq!(h.geometry().bitmap_offset, 8192);
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(Header::parse(b"OOOM"), Err(HeaderError::Short { len: 4 }));
        assert!(matches!(
            Header::parse(&[0u8; 4136]),
            Err(HeaderError::NotCow { .. })
        ));
        let good = Header::new_v3(b"/b".to_vec(), 1, MIB).encode_v3();
        assert!(matches!(
            Header::parse(&good[..4000]),
            Err(HeaderError::Truncated {
                version: Version::V3,
                need: 4128,
                ..
            })
        ));
        let mut bad = good.clone();
        bad[7] = 4;
        assert_eq!(Header::parse(&bad), Err(HeaderError::BadVersion(4)));
        let mut bad = good.clone();
        bad[24..28].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(Header::parse(&bad), Err(HeaderError::ZeroAlignment));
        let mut bad = good.clone();
        bad[12..20].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(
            Header::parse(&bad),
            Err(HeaderError::SizeTooLarge(u64::MAX))
        );
        let mut bad = good.clone();
        bad[20..24].copy_from_slice(&4096u32.to_be_bytes());
        assert_eq!(Header::parse(&bad), Err(HeaderError::BadSectorSize(4096)));
        let mut bad = good;
        bad[32..].fill(b'a');
        assert_eq!(Header::parse(&bad), Err(HeaderError::PathUnterminated));
    }
}
