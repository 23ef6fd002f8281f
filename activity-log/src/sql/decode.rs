//! Rows decoded back into activities, identically on every store: a value
//! this crate could not have written is a decode error naming the column
//! (never echoing the value).

use super::{Backend, Dialect, RowOf};
use crate::{Activity, Actor, ActorKind, Change, Outcome, Severity, Target};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// A decoding failure: the row was written by something else.
pub(crate) fn corrupt(column: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("activity row has an invalid `{column}`").into())
}

/// Parses a stored outcome; anything else is corrupt (the stats read the
/// same way, so a row can never count as a success yet fail to load).
pub(crate) fn outcome(text: &str) -> Result<Outcome, sqlx::Error> {
    Outcome::parse(text).ok_or_else(|| corrupt("outcome"))
}

/// The columns [`activity`] reads, in [`Columns`] order: the stores keep
/// the record's flat columns, the very ones (and order) of a CSV export.
pub(crate) const NAMES: [&str; 22] = crate::query::CSV_COLUMNS;

// Indices into [`NAMES`] and [`Columns`].
const ID: usize = 0;
const OCCURRED_AT: usize = 1;
pub(crate) const TENANT: usize = 2;
const ACTIVITY_TYPE: usize = 3;
const TARGET_KIND: usize = 4;
const TARGET_ID: usize = 5;
const TARGET_NAME: usize = 6;
const ACTOR_KIND: usize = 7;
const ACTOR_ID: usize = 8;
const ACTOR_NAME: usize = 9;
const OUTCOME: usize = 10;
const ERROR: usize = 11;
const SEVERITY: usize = 12;
pub(crate) const DESCRIPTION: usize = 13;
const METADATA: usize = 14;
const CHANGES: usize = 15;
pub(crate) const IP: usize = 16;
const USER_AGENT: usize = 17;
const REQUEST_ID: usize = 18;
const TRACE_ID: usize = 19;
const DURATION_US: usize = 20;
const TAGS: usize = 21;

/// Where each column of [`NAMES`] sits in the rows of one result: looked
/// up by name once per result instead of once per value (a hash lookup
/// per value is a good part of decoding a page).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns([usize; NAMES.len()]);

impl Columns {
    /// The positions in `row`'s result.
    pub(crate) fn of<D: Dialect>(row: &RowOf<D>) -> Result<Self, sqlx::Error> {
        let mut at = [0; NAMES.len()];
        for (slot, name) in at.iter_mut().zip(NAMES) {
            *slot = D::Db::position(row, name)?;
        }
        Ok(Self(at))
    }

    fn at(&self, column: usize) -> usize {
        self.0[column]
    }
}

/// Reads one row through its result's [`Columns`].
struct Reader<'r, D: Dialect> {
    row: &'r RowOf<D>,
    columns: &'r Columns,
}

impl<D: Dialect> Reader<'_, D> {
    fn text(&self, column: usize) -> Result<Option<String>, sqlx::Error> {
        D::Db::text_at(self.row, self.columns.at(column))
    }

    fn required(&self, column: usize) -> Result<String, sqlx::Error> {
        self.text(column)?.ok_or_else(|| corrupt(NAMES[column]))
    }

    fn json_or_default<T: serde::de::DeserializeOwned + Default>(&self, column: usize) -> Result<T, sqlx::Error> {
        match self.text(column)? {
            None => Ok(T::default()),
            Some(text) => serde_json::from_str(&text).map_err(|_| corrupt(NAMES[column])),
        }
    }
}

/// Decodes every row of one result selected with [`Dialect::COLUMNS`].
pub(crate) fn activities<D: Dialect>(rows: &[RowOf<D>]) -> Result<Vec<Activity>, sqlx::Error> {
    let Some(first) = rows.first() else { return Ok(Vec::new()) };
    let columns = Columns::of::<D>(first)?;
    rows.iter().map(|row| activity::<D>(row, &columns)).collect()
}

/// Decodes a row selected with [`Dialect::COLUMNS`], whose result's
/// positions are `columns`.
pub(crate) fn activity<D: Dialect>(row: &RowOf<D>, columns: &Columns) -> Result<Activity, sqlx::Error> {
    let r = Reader::<D> { row, columns };
    let s = |column: usize| r.text(column);
    let target = match s(TARGET_KIND)? {
        Some(kind) => Some(Target { kind, id: s(TARGET_ID)?, name: s(TARGET_NAME)? }),
        None => None,
    };
    let actor = match s(ACTOR_KIND)? {
        Some(kind) => Some(Actor {
            kind: ActorKind::parse(&kind).ok_or_else(|| corrupt(NAMES[ACTOR_KIND]))?,
            id: s(ACTOR_ID)?,
            name: s(ACTOR_NAME)?,
        }),
        None => None,
    };
    let severity = Severity::parse(&r.required(SEVERITY)?).ok_or_else(|| corrupt(NAMES[SEVERITY]))?;
    let duration = D::Db::int_at(row, columns.at(DURATION_US))?.map(|us| Duration::from_micros(us.max(0) as u64));
    let metadata: Map<String, Value> = r.json_or_default(METADATA)?;
    let changes: BTreeMap<String, Change> = r.json_or_default(CHANGES)?;
    let tags: Vec<String> = r.json_or_default(TAGS)?;
    Ok(Activity {
        id: D::id(row, columns.at(ID))?,
        occurred_at: D::time(row, columns.at(OCCURRED_AT), NAMES[OCCURRED_AT])?,
        tenant: s(TENANT)?,
        activity_type: r.required(ACTIVITY_TYPE)?,
        target,
        actor,
        outcome: outcome(&r.required(OUTCOME)?)?,
        error: s(ERROR)?,
        severity,
        description: s(DESCRIPTION)?,
        metadata,
        changes,
        ip: s(IP)?,
        user_agent: s(USER_AGENT)?,
        request_id: s(REQUEST_ID)?,
        trace_id: s(TRACE_ID)?,
        duration,
        tags,
    })
}

/// A stored record's columns, borrowed, by their index in [`NAMES`]:
/// what [`canonical`] reads. Each reader answers `None` for a value that
/// is not of the type this crate writes there (a number in a text column,
/// text that is not UTF-8): the caller then decodes the row in full
/// ([`activity`]), for the exact error.
pub(crate) trait Fields {
    /// A nullable text column.
    fn text(&self, column: usize) -> Option<Option<&str>>;
    /// A nullable integer column.
    fn int(&self, column: usize) -> Option<Option<i64>>;
    /// The record's id.
    fn id(&self) -> Option<uuid::Uuid>;
    /// `occurred_at` as microseconds since the Unix epoch, within the
    /// range of a [`DateTime`](chrono::DateTime) (as [`activity`] reads it).
    fn micros(&self) -> Option<i64>;
}

/// The [`Fields`] of a sqlx row selected with [`Dialect::COLUMNS`].
pub(crate) struct RowFields<'r, D: Dialect> {
    pub(crate) row: &'r RowOf<D>,
    pub(crate) columns: &'r Columns,
}

impl<D: Dialect> Fields for RowFields<'_, D> {
    fn text(&self, column: usize) -> Option<Option<&str>> {
        D::Db::str_at(self.row, self.columns.at(column)).ok()
    }

    fn int(&self, column: usize) -> Option<Option<i64>> {
        D::Db::int_at(self.row, self.columns.at(column)).ok()
    }

    fn id(&self) -> Option<uuid::Uuid> {
        D::id(self.row, self.columns.at(ID)).ok()
    }

    fn micros(&self) -> Option<i64> {
        Some(D::time(self.row, self.columns.at(OCCURRED_AT), NAMES[OCCURRED_AT]).ok()?.timestamp_micros())
    }
}

/// Writes into `out` the [canonical bytes](crate::integrity::canonical_bytes)
/// of the record whose columns `f` reads, straight from them (borrowed
/// from the row): no [`Activity`] is built, and the metadata is the only
/// JSON parsed (verification does this for every record). Returns the
/// record's id; `None` when the row holds anything [`activity`] might
/// refuse or read differently (`out` then holds garbage): the caller
/// decodes the row in full instead, for the same bytes or the exact error.
pub(crate) fn canonical(f: &dyn Fields, out: &mut Vec<u8>) -> Option<uuid::Uuid> {
    use crate::integrity::canonical::{integer, null, object, opt, plain_object, string};
    let s = |column: usize| f.text(column);
    let required = |column: usize| s(column).flatten();
    out.extend_from_slice(br#"{"activity_type":"#);
    string(out, required(ACTIVITY_TYPE)?);
    out.extend_from_slice(br#","actor":"#);
    match s(ACTOR_KIND)? {
        None => null(out),
        Some(kind) => {
            let kind = ActorKind::parse(kind)?;
            out.extend_from_slice(br#"{"id":"#);
            opt(out, s(ACTOR_ID)?);
            out.extend_from_slice(br#","kind":"#);
            string(out, kind.as_str());
            out.extend_from_slice(br#","name":"#);
            opt(out, s(ACTOR_NAME)?);
            out.push(b'}');
        }
    }
    out.extend_from_slice(br#","changes":"#);
    match s(CHANGES)? {
        None => out.extend_from_slice(b"{}"),
        Some(text) => {
            let changes: BTreeMap<String, Change> = serde_json::from_str(text).ok()?;
            crate::integrity::canonical::changes(out, &changes);
        }
    }
    out.extend_from_slice(br#","description":"#);
    opt(out, s(DESCRIPTION)?);
    out.extend_from_slice(br#","duration_us":"#);
    match f.int(DURATION_US)? {
        None => null(out),
        // As `activity` reads it: a negative duration is zero.
        Some(us) => integer(out, us.max(0)),
    }
    out.extend_from_slice(br#","error":"#);
    opt(out, s(ERROR)?);
    let id = f.id()?;
    out.extend_from_slice(br#","id":""#);
    out.extend_from_slice(id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).as_bytes());
    out.extend_from_slice(br#"","ip":"#);
    opt(out, s(IP)?);
    out.extend_from_slice(br#","metadata":"#);
    match s(METADATA)? {
        None => out.extend_from_slice(b"{}"),
        Some(text) if plain_object(out, text) => {}
        Some(text) => {
            let metadata: Map<String, Value> = serde_json::from_str(text).ok()?;
            object(out, &metadata);
        }
    }
    out.extend_from_slice(br#","occurred_at":"#);
    integer(out, f.micros()?);
    out.extend_from_slice(br#","outcome":"#);
    string(out, Outcome::parse(required(OUTCOME)?)?.as_str());
    out.extend_from_slice(br#","request_id":"#);
    opt(out, s(REQUEST_ID)?);
    out.extend_from_slice(br#","severity":"#);
    string(out, Severity::parse(required(SEVERITY)?)?.as_str());
    out.extend_from_slice(br#","tags":["#);
    if let Some(text) = s(TAGS)? {
        let tags: Vec<String> = serde_json::from_str(text).ok()?;
        for (i, tag) in tags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, tag);
        }
    }
    out.extend_from_slice(br#"],"target":"#);
    match s(TARGET_KIND)? {
        None => null(out),
        Some(kind) => {
            out.extend_from_slice(br#"{"id":"#);
            opt(out, s(TARGET_ID)?);
            out.extend_from_slice(br#","kind":"#);
            string(out, kind);
            out.extend_from_slice(br#","name":"#);
            opt(out, s(TARGET_NAME)?);
            out.push(b'}');
        }
    }
    out.extend_from_slice(br#","tenant":"#);
    opt(out, s(TENANT)?);
    out.extend_from_slice(br#","trace_id":"#);
    opt(out, s(TRACE_ID)?);
    out.extend_from_slice(br#","user_agent":"#);
    opt(out, s(USER_AGENT)?);
    out.push(b'}');
    Some(id)
}

/// Whether `folded` is `description` lower-cased (as the writers store
/// it), without allocating for ASCII text.
pub(crate) fn folded_matches(description: Option<&str>, folded: Option<&str>) -> bool {
    match (description, folded) {
        (None, None) => true,
        // Every byte compared, differences or-ed together (no early
        // exit: the compiler vectorises it; this runs for every record).
        (Some(d), Some(f)) if d.is_ascii() => {
            d.len() == f.len()
                && d.bytes().zip(f.bytes()).fold(0, |diff, (a, b)| diff | (a.to_ascii_lowercase() ^ b)) == 0
        }
        (Some(d), Some(f)) => d.to_lowercase() == f,
        _ => false,
    }
}

/// The description column of `row`, borrowed (`None` also when it cannot
/// be read: the full decode then reports the row unreadable).
pub(crate) fn description<'r, D: Dialect>(row: &'r RowOf<D>, columns: &Columns) -> Option<&'r str> {
    D::Db::str_at(row, columns.at(DESCRIPTION)).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::folded_matches;

    #[test]
    fn the_search_column_matches_the_lower_cased_description() {
        assert!(folded_matches(None, None));
        assert!(folded_matches(Some("Inbound Call"), Some("inbound call")));
        assert!(!folded_matches(Some("Inbound Call"), Some("Inbound call")));
        assert!(!folded_matches(Some("Inbound"), Some("inbound ")));
        assert!(!folded_matches(Some("x"), None));
        assert!(!folded_matches(None, Some("x")));
        assert!(folded_matches(Some("ÉCOLE Straße"), Some("école straße")));
        assert!(!folded_matches(Some("ÉCOLE"), Some("École")));
    }
}
