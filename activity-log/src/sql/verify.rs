//! Verification of a SQL store's chain, written once for every dialect:
//! the chain read in position order from the retention cut, in windows of
//! positions, each streamed (the store sends the next rows while the
//! previous ones are hashed), and each record's canonical bytes written
//! straight from its row into one reused buffer
//! ([`decode::canonical`]), the full decode kept for rows it does not
//! take.

use super::chain::{head_and_cut, push_key, push_tenant};
use super::decode::{self, Columns};
use super::{Backend, Dialect, RowOf, SqlStore};
use crate::integrity::{write_canonical, ChainHash, Checkpoint, IntegrityError, StoredLink, VerifyReport, Walk};
use sqlx::QueryBuilder;

/// Chain positions read per query: one index range each.
const WINDOW: i64 = 100_000;

/// The columns read per record: position, hash, the derived search
/// column, then the record ([`Dialect::COLUMNS`]).
const POSITION: usize = 0;
const HASH: usize = 1;
const FOLDED: usize = 2;
const RECORD_ID: usize = 3;

/// Verifies `tenant`'s stored chain against `checkpoint` (whose signature
/// must verify).
pub(crate) async fn verify<S: SqlStore>(
    store: &S,
    tenant: Option<&str>,
    checkpoint: &Checkpoint,
) -> Result<VerifyReport, IntegrityError> {
    checkpoint.check_signature(None)?;
    if checkpoint.tenant.as_deref() != tenant {
        return Err(IntegrityError::Malformed("the checkpoint is for another tenant's chain".into()));
    }
    let q = super::error::query_error::<S::Dialect>;
    let (_, cut) = head_and_cut(store, tenant).await.map_err(q)?;
    let mut walk = Walk::new(checkpoint, cut);
    // One snapshot for the whole walk.
    let mut conn = store.readers().begin_with(S::Dialect::BEGIN_SNAPSHOT).await.map_err(q)?;
    if !S::Dialect::VERIFY_SETTINGS.is_empty() {
        S::Dialect::script(&mut conn, S::Dialect::VERIFY_SETTINGS).await.map_err(q)?;
    }
    // The highest position stored (a forged or moved record may lie past
    // the head): windows of positions are read up to it.
    let mut qb = QueryBuilder::new("SELECT MAX(chain_seq) AS p FROM activities WHERE chain_seq IS NOT NULL");
    push_tenant::<S::Dialect>(&mut qb, tenant);
    let rows = S::Dialect::fetch_all(&mut conn, qb, false).await.map_err(q)?;
    let last = match rows.first() {
        Some(row) => <S::Dialect as Dialect>::Db::int(row, "p").map_err(q)?.unwrap_or(0),
        None => 0,
    };
    let last = last.max(max_expired::<S::Dialect>(&mut conn, tenant).await.map_err(q)?);
    // Windows of positions (not LIMIT pages): an index range each, and a
    // position held twice comes back twice, in one window.
    let mut after = i64::try_from(cut.position).unwrap_or(i64::MAX);
    let mut canonical = Vec::with_capacity(1024);
    while !walk.is_broken() && after < last {
        let to = after.saturating_add(WINDOW);
        let mut expired =
            expired_in::<S::Dialect>(&mut conn, tenant, after, to).await.map_err(q)?.into_iter().peekable();
        let mut qb = QueryBuilder::new("SELECT chain_seq, chain_hash, description_folded, ");
        qb.push(S::Dialect::COLUMNS).push(" FROM activities WHERE chain_seq > ");
        <S::Dialect as Dialect>::Db::bind_int(&mut qb, after);
        qb.push(" AND chain_seq <= ");
        <S::Dialect as Dialect>::Db::bind_int(&mut qb, to);
        push_tenant::<S::Dialect>(&mut qb, tenant);
        qb.push(" ORDER BY chain_seq, id");
        let mut columns = None;
        let mut unreadable = None;
        let mut each = |row: &RowOf<S::Dialect>| -> bool {
            let columns = match columns {
                Some(c) => c,
                None => match Columns::of::<S::Dialect>(row) {
                    Ok(c) => *columns.insert(c),
                    Err(e) => {
                        unreadable = Some(e);
                        return false;
                    }
                },
            };
            let link = stored_link::<S::Dialect>(row, &columns, &mut canonical);
            while let Some((p, hash)) = expired.next_if(|(p, _)| *p < link.position as i64) {
                if !walk.step_over(u64::try_from(p).unwrap_or(0), hash) {
                    return false;
                }
            }
            walk.feed(link, &canonical)
        };
        S::Dialect::for_each_row(&mut conn, qb, true, &mut each).await.map_err(q)?;
        if let Some(e) = unreadable {
            return Err(q(e).into());
        }
        for (p, hash) in expired {
            if !walk.step_over(u64::try_from(p).unwrap_or(0), hash) {
                break;
            }
        }
        after = to;
    }
    let mut qb = QueryBuilder::new("SELECT COUNT(*) AS n FROM activities WHERE chain_seq IS NULL");
    push_tenant::<S::Dialect>(&mut qb, tenant);
    let rows = S::Dialect::fetch_all(&mut conn, qb, false).await.map_err(q)?;
    let unchained = match rows.first() {
        Some(row) => <S::Dialect as Dialect>::Db::int(row, "n").map_err(q)?.unwrap_or(0),
        None => 0,
    };
    conn.commit().await.map_err(q)?;
    Ok(walk.finish(u64::try_from(unchained).unwrap_or(0)))
}

/// One row of a window: position, stored hash, the record's id (or why it
/// could not be read), and whether the search column matches; the
/// record's canonical bytes are left in `canonical`.
fn stored_link<D: Dialect>(row: &RowOf<D>, columns: &Columns, canonical: &mut Vec<u8>) -> StoredLink {
    let position = D::Db::int_at(row, POSITION).ok().flatten().and_then(|p| u64::try_from(p).ok()).unwrap_or(0);
    let hash = D::Db::slice_at(row, HASH).ok().flatten().and_then(ChainHash::from_slice);
    canonical.clear();
    let record = match decode::canonical::<D>(row, columns, canonical) {
        Some(id) => Ok(id),
        None => {
            canonical.clear();
            match decode::activity::<D>(row, columns) {
                Ok(a) => {
                    write_canonical(&a, canonical);
                    Ok(a.id)
                }
                Err(e) => Err(e.to_string()),
            }
        }
    };
    let id = match &record {
        Ok(id) => Some(*id),
        Err(_) => D::id(row, RECORD_ID).ok(),
    };
    let folded = D::Db::str_at(row, FOLDED).ok().flatten();
    let derived_mismatch = match &record {
        Ok(_) if !decode::folded_matches(decode::description::<D>(row, columns), folded) => Some("description_folded"),
        _ => None,
    };
    StoredLink { position, id, hash, record, derived_mismatch }
}

/// The records retention removed past the cut, in positions `(from, to]`.
async fn expired_in<D: Dialect>(
    conn: &mut super::ConnectionOf<D>,
    tenant: Option<&str>,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, Option<ChainHash>)>, sqlx::Error> {
    let mut qb = QueryBuilder::new("SELECT position, hash FROM activity_chain_expired");
    push_key::<D>(&mut qb, tenant);
    qb.push(" AND position > ");
    D::Db::bind_int(&mut qb, from);
    qb.push(" AND position <= ");
    D::Db::bind_int(&mut qb, to);
    qb.push(" ORDER BY position");
    let rows = D::fetch_all(conn, qb, false).await?;
    rows.iter()
        .map(|r| {
            let p = D::Db::int_at(r, 0)?.unwrap_or(0);
            let h = D::Db::bytes_at(r, 1)?.and_then(|h| ChainHash::from_slice(&h));
            Ok((p, h))
        })
        .collect()
}

/// The highest position noted as expired past the cut (0 if none).
async fn max_expired<D: Dialect>(conn: &mut super::ConnectionOf<D>, tenant: Option<&str>) -> Result<i64, sqlx::Error> {
    let mut qb = QueryBuilder::new("SELECT MAX(position) AS p FROM activity_chain_expired");
    push_key::<D>(&mut qb, tenant);
    let rows = D::fetch_all(conn, qb, false).await?;
    Ok(rows.first().map(|r| D::Db::int(r, "p")).transpose()?.flatten().unwrap_or(0))
}
