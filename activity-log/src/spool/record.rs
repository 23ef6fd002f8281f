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

/// What reading a segment found.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub(crate) activities: Vec<Activity>,
    /// Whether the segment ended in a torn or corrupt record (everything
    /// from it on is skipped: a bad length can't be trusted to find the next).
    pub(crate) corrupt: bool,
}

/// Decodes every intact record of a segment, stopping at the first torn or
/// corrupt one.
pub(crate) fn decode_all(mut bytes: &[u8]) -> Decoded {
    let mut out = Decoded::default();
    while !bytes.is_empty() {
        let Some(header) = bytes.get(..HEADER) else {
            out.corrupt = true;
            break;
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let Some(payload) = bytes.get(HEADER..HEADER + len) else {
            out.corrupt = true;
            break;
        };
        if crc32fast::hash(payload) != crc {
            out.corrupt = true;
            break;
        }
        match serde_json::from_slice::<Activity>(payload) {
            Ok(a) => out.activities.push(a),
            Err(_) => {
                out.corrupt = true;
                break;
            }
        }
        bytes = &bytes[HEADER + len..];
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

    #[test]
    fn round_trips() {
        let (activities, buf) = encoded(3);
        let d = decode_all(&buf);
        assert_eq!(d.activities, activities);
        assert!(!d.corrupt);
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
            let d = decode_all(&buf[..cut]);
            assert_eq!(d.activities.len(), 2, "cut at {cut}");
            assert!(d.corrupt, "cut at {cut}");
        }
    }

    #[test]
    fn flipped_bit_is_detected() {
        let (_, mut buf) = encoded(3);
        let last = buf.len() - 3;
        buf[last] ^= 0x20;
        let d = decode_all(&buf);
        assert_eq!((d.activities.len(), d.corrupt), (2, true));
        assert!(decode_all(&[0xff; 5]).corrupt);
    }
}
