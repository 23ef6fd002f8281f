//! The on-disk record format: `[len: u32 LE][crc32: u32 LE][len bytes of JSON]`.

use crate::Activity;

/// Bytes before a record's payload.
pub(crate) const HEADER: usize = 8;

/// Appends the encoded `activity` to `buf`.
pub(crate) fn encode(activity: &Activity, buf: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    serde_json::to_writer(&mut *buf, activity)?;
    let payload = &buf[start + HEADER..];
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// What the bytes at the start of a buffer hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next<'a> {
    /// An intact record: its payload and its length on disk.
    Record { payload: &'a [u8], len: usize },
    /// The buffer ends inside a record that needs `len` bytes in all.
    Incomplete { len: usize },
    /// The checksum does not match: a torn or damaged record (nothing after
    /// it can be trusted, as its length may be wrong too).
    Corrupt,
}

/// Looks at the record at the start of `bytes` (which must not be empty).
pub(crate) fn next(bytes: &[u8]) -> Next<'_> {
    let Some(header) = bytes.get(..HEADER) else { return Next::Incomplete { len: HEADER } };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let Some(payload) = bytes.get(HEADER..HEADER + len) else { return Next::Incomplete { len: HEADER + len } };
    if crc32fast::hash(payload) != crc {
        return Next::Corrupt;
    }
    Next::Record { payload, len: HEADER + len }
}

/// Decodes a record's payload; `None` when it is not an activity (which a
/// matching checksum makes a bug or a foreign file, treated as corrupt).
pub(crate) fn decode(payload: &[u8]) -> Option<Activity> {
    serde_json::from_slice(payload).ok()
}

/// What a segment holds, found without decoding a single activity.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Intact records.
    pub(crate) records: u64,
    /// Whether the segment ends in a torn or corrupt record.
    pub(crate) corrupt: bool,
}

/// Counts the intact records of a segment (checksums only).
pub(crate) fn scan(mut bytes: &[u8]) -> Scan {
    let mut out = Scan::default();
    while !bytes.is_empty() {
        match next(bytes) {
            Next::Record { len, .. } => {
                out.records += 1;
                bytes = &bytes[len..];
            }
            Next::Incomplete { .. } | Next::Corrupt => {
                out.corrupt = true;
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(n: usize) -> (Vec<Activity>, Vec<u8>) {
        let activities: Vec<_> =
            (0..n).map(|i| Activity::new("call_created").target("call", i).build().unwrap()).collect();
        let mut buf = Vec::new();
        for a in &activities {
            encode(a, &mut buf).unwrap();
        }
        (activities, buf)
    }

    fn decode_all(mut bytes: &[u8]) -> Vec<Activity> {
        let mut out = Vec::new();
        while let Next::Record { payload, len } = next(bytes) {
            out.push(decode(payload).unwrap());
            bytes = &bytes[len..];
            if bytes.is_empty() {
                break;
            }
        }
        out
    }

    #[test]
    fn round_trips() {
        let (activities, buf) = encoded(3);
        assert_eq!(decode_all(&buf), activities);
        assert_eq!(scan(&buf), Scan { records: 3, corrupt: false });
    }

    #[test]
    fn torn_tail_is_detected_at_every_cut() {
        let (activities, buf) = encoded(3);
        let two = {
            let mut b = Vec::new();
            encode(&activities[0], &mut b).unwrap();
            encode(&activities[1], &mut b).unwrap();
            b.len()
        };
        for cut in two + 1..buf.len() {
            assert_eq!(scan(&buf[..cut]), Scan { records: 2, corrupt: true }, "cut at {cut}");
            assert!(matches!(next(&buf[two..cut]), Next::Incomplete { .. }), "cut at {cut}");
        }
    }

    #[test]
    fn flipped_bit_is_detected() {
        let (_, mut buf) = encoded(3);
        let last = buf.len() - 3;
        buf[last] ^= 0x20;
        assert_eq!(scan(&buf), Scan { records: 2, corrupt: true });
        assert!(scan(&[0xff; 5]).corrupt);
    }
}
