//! Query-string parameters: parsed strictly (an unknown or repeated
//! parameter is a 400 naming it, never silently ignored), and the filter
//! they describe, forced to the principal's tenant.

use super::{Principal, Problem};
use crate::query::{ActivityFilter, Bucket, MetadataValue, Order, DEFAULT_PAGE_SIZE};
use crate::{Outcome, Severity};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// The pairs of a query string, taken one parameter at a time; what is
/// left at the end is unknown.
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
        Self { pairs }
    }

    /// Every value of `name`, removed.
    fn all(&mut self, name: &str) -> Vec<String> {
        let (taken, rest) = std::mem::take(&mut self.pairs).into_iter().partition(|(k, _)| k == name);
        self.pairs = rest;
        taken.into_iter().map(|(_, v)| v).collect()
    }

    /// The one value of `name`; given twice or empty is a 400.
    fn one(&mut self, name: &str) -> Result<Option<String>, Problem> {
        let mut values = self.all(name);
        match values.len() {
            0 => Ok(None),
            1 if values[0].is_empty() => Err(Problem::bad_parameter(name, format!("`{name}` is empty"))),
            1 => Ok(values.pop()),
            _ => Err(Problem::bad_parameter(name, format!("`{name}` is given more than once"))),
        }
    }

    fn parsed<T>(
        &mut self,
        name: &str,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, Problem> {
        match self.one(name)? {
            None => Ok(None),
            Some(v) => {
                parse(&v).map(Some).ok_or_else(|| Problem::bad_parameter(name, format!("`{name}` must be {what}")))
            }
        }
    }

    fn flag(&mut self, name: &str) -> Result<bool, Problem> {
        Ok(self.parsed(name, "`true` or `false`", |v| v.parse().ok())?.unwrap_or(false))
    }

    /// The pairs whose name starts with `prefix`, removed, prefix stripped.
    fn prefixed(&mut self, prefix: &str) -> Vec<(String, String)> {
        let (taken, rest) = std::mem::take(&mut self.pairs).into_iter().partition(|(k, _)| k.starts_with(prefix));
        self.pairs = rest;
        taken.into_iter().map(|(k, v)| (k[prefix.len()..].to_owned(), v)).collect()
    }

    /// Refuses whatever was not taken.
    pub(crate) fn finish(self) -> Result<(), Problem> {
        match self.pairs.into_iter().next() {
            None => Ok(()),
            Some((name, _)) => Err(Problem::bad_parameter(
                name.clone(),
                format!("unknown query parameter `{}`", name.chars().take(64).collect::<String>()),
            )),
        }
    }
}

fn time(v: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v).ok().map(|t| t.with_timezone(&Utc))
}

/// Which activities: the filters every read endpoint takes.
///
/// Besides these, `meta.<key>=<value>` keeps activities whose top-level
/// metadata `key` equals `value`: `true`, `false`, `null` and numbers
/// compare as JSON scalars, a value in double quotes (`meta.code="42"`) or
/// any other text as a string.
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Only this tenant's; a tenant-scoped principal may name only its own.
    #[param(min_length = 1)]
    pub tenant: Option<String>,
    /// Only these activity types (repeat the parameter for several).
    #[serde(rename = "type")]
    #[param(rename = "type", min_length = 1)]
    pub activity_type: Option<Vec<String>>,
    /// Only targets of this kind.
    #[param(min_length = 1)]
    pub target_kind: Option<String>,
    /// Only the target with this id.
    #[param(min_length = 1)]
    pub target_id: Option<String>,
    /// Only this actor's (by id).
    #[param(min_length = 1)]
    pub actor: Option<String>,
    /// Only this outcome.
    pub outcome: Option<OutcomeParam>,
    /// Only this severity.
    pub severity: Option<SeverityParam>,
    /// Only this request's.
    #[param(min_length = 1)]
    pub request_id: Option<String>,
    /// Only at or after this instant (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only strictly before this instant (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Only the last this many hours (instead of `since`).
    #[param(minimum = 1, maximum = 876000)]
    pub hours: Option<u32>,
    /// Only descriptions containing this text, case-insensitively.
    #[param(min_length = 1)]
    pub q: Option<String>,
}

/// An outcome, as a parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum OutcomeParam {
    Success,
    Failure,
    Denied,
}

/// A severity, as a parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum SeverityParam {
    Info,
    Warning,
    Error,
}

/// Takes the filter parameters and builds the filter, confined to what
/// `principal` may see: its tenant (naming another is a 403) and, for a
/// principal limited to one actor, that actor.
pub(crate) fn filter(params: &mut Params, principal: &Principal) -> Result<ActivityFilter, Problem> {
    let mut f = ActivityFilter::new();
    f.tenant = params.one("tenant")?;
    if let Some(own) = principal.tenant_id() {
        match f.tenant.as_deref() {
            Some(asked) if asked != own => {
                return Err(Problem::forbidden("this principal may read only its own tenant's activities"))
            }
            _ => f.tenant = Some(own.to_owned()),
        }
    }
    f.activity_types = params.all("type");
    if f.activity_types.iter().any(String::is_empty) {
        return Err(Problem::bad_parameter("type", "`type` is empty"));
    }
    f.target_kind = params.one("target_kind")?;
    f.target_id = params.one("target_id")?;
    f.actor_id = params.one("actor")?;
    if let Some(own) = &principal.actor {
        match f.actor_id.as_deref() {
            Some(asked) if asked != own => {
                return Err(Problem::forbidden("this principal may read only its own actor's activities"))
            }
            _ => f.actor_id = Some(own.clone()),
        }
    }
    f.outcome = params.parsed("outcome", "`success`, `failure` or `denied`", Outcome::parse)?;
    f.severity = params.parsed("severity", "`info`, `warning` or `error`", Severity::parse)?;
    f.request_id = params.one("request_id")?;
    f.since = params.parsed("since", "an RFC 3339 time such as 2026-01-31T09:00:00Z", time)?;
    f.until = params.parsed("until", "an RFC 3339 time such as 2026-01-31T09:00:00Z", time)?;
    let hours = params.parsed("hours", "a whole number of hours from 1 to 876000", |v| {
        v.parse::<u32>().ok().filter(|h| (1..=876_000).contains(h))
    })?;
    if let Some(hours) = hours {
        if f.since.is_some() {
            return Err(Problem::bad_parameter("hours", "give `hours` or `since`, not both"));
        }
        f.since = Some(Utc::now() - chrono::Duration::hours(hours.into()));
    }
    if let (Some(s), Some(u)) = (f.since, f.until) {
        if s > u {
            return Err(Problem::bad_parameter("until", "`until` is before `since`"));
        }
    }
    f.search = params.one("q")?;
    for (key, value) in params.prefixed("meta.") {
        if key.is_empty() {
            return Err(Problem::bad_parameter("meta.", "a metadata filter needs a key: `meta.<key>=<value>`"));
        }
        f.metadata.push((key, metadata_value(&value)));
    }
    Ok(f)
}

fn metadata_value(text: &str) -> MetadataValue {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Bool(b)) => MetadataValue::Bool(b),
        Ok(serde_json::Value::Null) => MetadataValue::Null,
        Ok(serde_json::Value::String(s)) => MetadataValue::String(s),
        Ok(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(i) => MetadataValue::Integer(i),
            None => n.as_f64().map_or_else(|| MetadataValue::String(text.to_owned()), MetadataValue::Float),
        },
        _ => MetadataValue::String(text.to_owned()),
    }
}

/// Paging: which rows of the list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many rows (1 to 1000; more is a 400, not a clamp).
    #[param(minimum = 1, maximum = 1000, default = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
    /// Rows to skip (instead of a cursor).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub offset: Option<u64>,
    /// Also count every matching row (`total`; one more query).
    pub total: Option<bool>,
    /// `newest` (the default) or `oldest` first.
    pub order: Option<OrderParam>,
}

/// An order, as a parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum OrderParam {
    Newest,
    Oldest,
}

pub(crate) fn order(params: &mut Params) -> Result<Order, Problem> {
    Ok(params
        .parsed("order", "`newest` or `oldest`", |v| match v {
            "newest" => Some(Order::NewestFirst),
            "oldest" => Some(Order::OldestFirst),
            _ => None,
        })?
        .unwrap_or_default())
}

pub(crate) fn page(params: &mut Params, order: Order) -> Result<crate::query::PageRequest, Problem> {
    use crate::query::{PageRequest, MAX_PAGE_SIZE};
    let limit = params.parsed("limit", "a whole number from 1 to 1000", |v| v.parse::<u32>().ok())?;
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(Problem::bad_parameter(
            "limit",
            format!("`limit` must be 1 to {MAX_PAGE_SIZE}; follow `next_cursor` for more"),
        ));
    }
    let cursor = params.one("cursor")?;
    let offset = params.parsed("offset", "a whole number from 0 to 9223372036854775807", |v| {
        v.parse::<u64>().ok().filter(|o| i64::try_from(*o).is_ok())
    })?;
    let mut request = PageRequest::first(limit);
    match (cursor, offset) {
        (Some(_), Some(_)) => return Err(Problem::bad_parameter("offset", "give `cursor` or `offset`, not both")),
        (Some(c), None) => {
            let cursor: crate::query::Cursor = c.parse().map_err(|_| {
                Problem::bad_parameter(
                    "cursor",
                    "invalid `cursor`: pass back `next_cursor` unchanged, with the same order",
                )
            })?;
            if cursor.order() != order {
                return Err(Problem::bad_parameter("cursor", "the `cursor` was made for the other `order`"));
            }
            request = request.after(cursor);
        }
        (None, Some(o)) => request = request.offset(o),
        (None, None) => {}
    }
    if params.flag("total")? {
        request = request.with_total();
    }
    Ok(request)
}

/// Statistics options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// The histogram's bucket: `hour` (the default) or `day`.
    pub bucket: Option<BucketParam>,
    /// How many top actors to list (1 to 100, default 10).
    #[param(minimum = 1, maximum = 100)]
    pub top_actors: Option<u32>,
}

/// A bucket width, as a parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum BucketParam {
    Hour,
    Day,
}

pub(crate) fn stats(params: &mut Params) -> Result<crate::query::StatsRequest, Problem> {
    let mut request = crate::query::StatsRequest::new();
    if let Some(b) = params.parsed("bucket", "`hour` or `day`", |v| match v {
        "hour" => Some(Bucket::Hour),
        "day" => Some(Bucket::Day),
        _ => None,
    })? {
        request = request.bucket(b);
    }
    if let Some(n) = params.parsed("top_actors", "a whole number from 1 to 100", |v| {
        v.parse::<u32>().ok().filter(|n| (1..=100).contains(n))
    })? {
        request = request.top_actors(n);
    }
    Ok(request)
}

/// Export options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (the default), `json` or `ndjson`.
    pub format: Option<FormatParam>,
    /// `newest` (the default) or `oldest` first.
    pub order: Option<OrderParam>,
}

/// An export format, as a parameter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum FormatParam {
    Csv,
    Json,
    Ndjson,
}

pub(crate) fn format(params: &mut Params) -> Result<crate::query::ExportFormat, Problem> {
    use crate::query::ExportFormat;
    Ok(params
        .parsed("format", "`csv`, `json` or `ndjson`", |v| match v {
            "csv" => Some(ExportFormat::Csv),
            "json" => Some(ExportFormat::Json),
            "ndjson" => Some(ExportFormat::Ndjson),
            _ => None,
        })?
        .unwrap_or(ExportFormat::Csv))
}

/// The one value of `name`, for endpoint-specific parameters.
pub(crate) fn take_one(params: &mut Params, name: &str) -> Result<Option<String>, Problem> {
    params.one(name)
}
