//! The principal a request acts as: whose log it may see, and what it may do.

/// Which tenants' activities a principal may see.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TenantScope {
    /// One tenant's: every read is forced to it, and asking for another
    /// tenant is a 403.
    Tenant(String),
    /// Every tenant's (an operator).
    AllTenants,
}

/// What a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Permissions {
    /// Query, get, stats, export and stream.
    pub read: bool,
    /// `POST /activities`.
    pub ingest: bool,
    /// Retention.
    pub admin: bool,
}

/// Who is asking, as an [`Authenticate`](super::Authenticate)
/// implementation decided: an id (for rate limits and logs), a tenant scope,
/// and permissions (none until granted).
///
/// ```
/// use activity_log::http::{Principal, TenantScope};
///
/// let agent = Principal::tenant("dashboard-acme", "acme").read();
/// assert_eq!(agent.scope, TenantScope::Tenant("acme".into()));
/// assert!(agent.permissions.read && !agent.permissions.ingest);
/// let ops = Principal::all_tenants("ops").read().admin();
/// assert!(ops.permissions.admin);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Principal {
    /// A stable id: the key of its rate limits.
    pub id: String,
    /// Which tenants' activities it may see.
    pub scope: TenantScope,
    /// What it may do.
    pub permissions: Permissions,
    /// Only this actor's activities (a "my activity" page): every read is
    /// forced to it, like the tenant.
    pub actor: Option<String>,
}

impl Principal {
    /// A principal confined to `tenant`, with no permissions yet.
    pub fn tenant(id: impl Into<String>, tenant: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            scope: TenantScope::Tenant(tenant.into()),
            permissions: Permissions::default(),
            actor: None,
        }
    }

    /// A principal over every tenant, with no permissions yet.
    pub fn all_tenants(id: impl Into<String>) -> Self {
        Self { id: id.into(), scope: TenantScope::AllTenants, permissions: Permissions::default(), actor: None }
    }

    /// May read.
    pub fn read(mut self) -> Self {
        self.permissions.read = true;
        self
    }

    /// May ingest.
    pub fn ingest(mut self) -> Self {
        self.permissions.ingest = true;
        self
    }

    /// May administer (retention).
    pub fn admin(mut self) -> Self {
        self.permissions.admin = true;
        self
    }

    /// Confines it to one actor's activities.
    pub fn only_actor(mut self, actor_id: impl Into<String>) -> Self {
        self.actor = Some(actor_id.into());
        self
    }

    /// The tenant it is confined to, if any.
    pub fn tenant_id(&self) -> Option<&str> {
        match &self.scope {
            TenantScope::Tenant(t) => Some(t),
            TenantScope::AllTenants => None,
        }
    }
}
