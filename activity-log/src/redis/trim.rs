//! Trimming a stream only behind what every consumer group has
//! acknowledged.

use ::redis::aio::MultiplexedConnection;
use ::redis::streams::{StreamInfoGroupsReply, StreamPendingReply};
use ::redis::RedisError;

/// A stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
fn parse(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Trims each of `keys` to the oldest entry some group still needs: for a
/// group with pending entries its oldest pending one, else the last entry
/// it was delivered (everything before it is acknowledged). A stream with
/// no group is left alone. Returns the entries removed.
pub(crate) async fn behind_every_group(conn: &mut MultiplexedConnection, keys: &[String]) -> Result<u64, RedisError> {
    let mut removed = 0;
    for key in keys {
        let groups: StreamInfoGroupsReply = ::redis::cmd("XINFO").arg("GROUPS").arg(key).query_async(conn).await?;
        let mut floor: Option<((u64, u64), String)> = None;
        for group in &groups.groups {
            let needed = if group.pending > 0 {
                let reply: StreamPendingReply =
                    ::redis::cmd("XPENDING").arg(key).arg(&group.name).query_async(conn).await?;
                match reply {
                    StreamPendingReply::Data(data) => data.start_id,
                    // Acknowledged since XINFO: everything delivered is done.
                    StreamPendingReply::Empty => group.last_delivered_id.clone(),
                }
            } else {
                group.last_delivered_id.clone()
            };
            let Some(parsed) = parse(&needed) else { return Ok(removed) };
            if floor.as_ref().map_or(true, |(f, _)| parsed < *f) {
                floor = Some((parsed, needed));
            }
        }
        if let Some(((ms, seq), id)) = floor {
            if (ms, seq) > (0, 0) {
                let n: u64 = ::redis::cmd("XTRIM").arg(key).arg("MINID").arg(&id).query_async(conn).await?;
                removed += n;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn ids_order_by_time_then_sequence() {
        assert!(parse("1700000000000-5") < parse("1700000000001-0"));
        assert!(parse("5-2") > parse("5-1"));
        assert_eq!(parse("0-0"), Some((0, 0)));
        assert_eq!(parse("garbage"), None);
    }
}
