//! Verification of a SQL store's chain, written once for every dialect:
//! the chain read in position order from the retention cut, in windows of
//! positions, and each record's canonical bytes written straight from its
//! stored columns into one reused buffer ([`decode::canonical`]).
//!
//! Each dialect reads a window's rows itself, as borrowed values
//! ([`ChainRow`], [`Dialect::for_each_chain_row`]), without sqlx building
//! an owned row per record: that is most of the cost of a row on SQLite.
//! Any row its reader cannot take as this crate wrote it (a value of
//! another type, a field the fast path would not read as
//! [`decode::activity`] does) hands the rest of the window to the sqlx
//! rows, from that row on, where the full decode names the exact error.

use super::chain::{head_and_cut, push_key, push_tenant};
use super::decode::{self, Columns, Fields, RowFields};
use super::{Backend, Dialect, RowOf, SqlStore};
use crate::integrity::{write_canonical, ChainHash, Checkpoint, IntegrityError, StoredLink, VerifyReport, Walk};
use sqlx::QueryBuilder;

/// The columns read per record through sqlx: position, hash, the derived
/// search column, then the record ([`Dialect::COLUMNS`]).
const POSITION: usize = 0;
const HASH: usize = 1;
const FOLDED: usize = 2;
const RECORD_ID: usize = 3;

/// The select list of a [`ChainRow`] reader: position, hash, search
/// column, then the record's columns in [`decode::NAMES`] order (the
/// dialect's own expressions for them, as in [`Dialect::COLUMNS`]).
pub(crate) const CHAIN_ROW_PREFIX: &str = "chain_seq, chain_hash, description_folded, ";

/// One chained row as a dialect's own reader sees it: its values
/// borrowed, each `None` when it is not of the type this crate writes.
pub(crate) trait ChainRow: Fields {
    /// The chain position.
    fn position(&self) -> Option<i64>;
    /// The stored chain hash (nullable bytes).
    fn hash(&self) -> Option<Option<&[u8]>>;
    /// The search column (nullable text).
    fn folded(&self) -> Option<Option<&str>>;
}

/// The link of a row a [`ChainRow`] reader gave, its canonical bytes left
/// in `canonical`; `None` when the row must be read through sqlx instead.
fn fast_link(row: &dyn ChainRow, canonical: &mut Vec<u8>) -> Option<StoredLink> {
    let position = u64::try_from(row.position()?).ok()?;
    let hash = row.hash()?.and_then(ChainHash::from_slice);
    let folded = row.folded()?;
    canonical.clear();
    let id = decode::canonical(row, canonical)?;
    let description = row.text(decode::DESCRIPTION)?;
    let derived_mismatch = (!decode::folded_matches(description, folded)).then_some("description_folded");
    Some(StoredLink { position, id: Some(id), hash, record: Ok(id), derived_mismatch })
}

/// The window bound just before `link`'s position: reading from there
/// starts with it.
fn before(link: &StoredLink) -> i64 {
    i64::try_from(link.position).unwrap_or(i64::MAX).saturating_sub(1)
}

/// Feeds one link to the walk, after stepping over the expired records
/// before it; returns whether to go on.
fn feed(
    walk: &mut Walk,
    expired: &mut std::iter::Peekable<std::vec::IntoIter<(i64, Option<ChainHash>)>>,
    link: StoredLink,
    canonical: &[u8],
) -> bool {
    while let Some((p, hash)) = expired.next_if(|(p, _)| *p < link.position as i64) {
        if !walk.step_over(u64::try_from(p).unwrap_or(0), hash) {
            return false;
        }
    }
    walk.feed(link, canonical)
}

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
    let (mut canonical, mut held_bytes) = (Vec::with_capacity(1024), Vec::with_capacity(1024));
    while !walk.is_broken() && after < last {
        let to = after.saturating_add(S::Dialect::VERIFY_WINDOW);
        let mut expired =
            expired_in::<S::Dialect>(&mut conn, tenant, after, to).await.map_err(q)?.into_iter().peekable();
        // The dialect's own reader first. Its rows come in position order
        // only: each is fed once the next shows its position held once
        // (`held`, its bytes in `held_bytes`); a position held twice, or a
        // row it cannot take, hands the window over to the sqlx rows from
        // there (`from`), which order a position's rows by id.
        let mut held: Option<StoredLink> = None;
        let mut hand_over: Option<i64> = None;
        let mut each = |row: &dyn ChainRow| -> bool {
            let Some(link) = fast_link(row, &mut canonical) else {
                hand_over = Some(held.as_ref().map_or(after, before));
                return false;
            };
            if let Some(previous) = held.take() {
                if previous.position == link.position {
                    hand_over = Some(before(&previous));
                    return false;
                }
                if !feed(&mut walk, &mut expired, previous, &held_bytes) {
                    return false;
                }
            }
            held = Some(link);
            std::mem::swap(&mut canonical, &mut held_bytes);
            true
        };
        S::Dialect::for_each_chain_row(&mut conn, tenant, after, to, &mut each).await.map_err(q)?;
        match hand_over {
            Some(from) => {
                let unreadable = rows_through_sqlx::<S::Dialect>(
                    &mut conn,
                    tenant,
                    (from, to),
                    &mut walk,
                    &mut expired,
                    &mut canonical,
                )
                .await
                .map_err(q)?;
                if let Some(e) = unreadable {
                    return Err(q(e).into());
                }
            }
            None => {
                if let Some(last) = held {
                    feed(&mut walk, &mut expired, last, &held_bytes);
                }
            }
        }
        for (p, hash) in expired {
            if !walk.step_over(u64::try_from(p).unwrap_or(0), hash) {
                break;
            }
        }
        after = to;
        // A reader may have held the task for its window.
        tokio::task::yield_now().await;
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

/// Feeds the walk the rows of positions `(from, to]` read through sqlx;
/// returns the error of a result whose columns cannot be found.
async fn rows_through_sqlx<D: Dialect>(
    conn: &mut super::ConnectionOf<D>,
    tenant: Option<&str>,
    (from, to): (i64, i64),
    walk: &mut Walk,
    expired: &mut std::iter::Peekable<std::vec::IntoIter<(i64, Option<ChainHash>)>>,
    canonical: &mut Vec<u8>,
) -> Result<Option<sqlx::Error>, sqlx::Error> {
    let mut qb = QueryBuilder::new("SELECT ");
    qb.push(CHAIN_ROW_PREFIX).push(D::COLUMNS).push(" FROM activities WHERE chain_seq > ");
    D::Db::bind_int(&mut qb, from);
    qb.push(" AND chain_seq <= ");
    D::Db::bind_int(&mut qb, to);
    push_tenant::<D>(&mut qb, tenant);
    qb.push(" ORDER BY chain_seq, id");
    let mut columns = None;
    let mut unreadable = None;
    let mut each = |row: &RowOf<D>| -> bool {
        let columns = match columns {
            Some(c) => c,
            None => match Columns::of::<D>(row) {
                Ok(c) => *columns.insert(c),
                Err(e) => {
                    unreadable = Some(e);
                    return false;
                }
            },
        };
        let link = stored_link::<D>(row, &columns, canonical);
        feed(walk, expired, link, canonical)
    };
    D::for_each_row(conn, qb, true, &mut each).await?;
    Ok(unreadable)
}

/// One row of a window: position, stored hash, the record's id (or why it
/// could not be read), and whether the search column matches; the
/// record's canonical bytes are left in `canonical`.
fn stored_link<D: Dialect>(row: &RowOf<D>, columns: &Columns, canonical: &mut Vec<u8>) -> StoredLink {
    let position = D::Db::int_at(row, POSITION).ok().flatten().and_then(|p| u64::try_from(p).ok()).unwrap_or(0);
    let hash = D::Db::slice_at(row, HASH).ok().flatten().and_then(ChainHash::from_slice);
    canonical.clear();
    let record = match decode::canonical(&RowFields::<D> { row, columns }, canonical) {
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
