//! What a chaining store offers: its chains' heads, checkpoints signed on
//! demand or on a schedule, and verification.

use super::{ChainHead, Checkpoint, CheckpointSigner, IntegrityError, VerifyReport};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// A store that links its activities into per-tenant hash chains
/// ([`SqliteSink`](crate::sqlite::SqliteSink) and
/// [`PostgresSink`](crate::postgres::PostgresSink)).
#[async_trait]
pub trait ChainedStore: Send + Sync {
    /// The head of `tenant`'s chain (the genesis when it has no record).
    async fn chain_head(&self, tenant: Option<&str>) -> Result<ChainHead, IntegrityError>;

    /// Every chain the store holds, by tenant (`None`: activities without
    /// a tenant).
    async fn chains(&self) -> Result<Vec<Option<String>>, IntegrityError>;

    /// Walks `tenant`'s stored chain from the retention cut and checks it
    /// against `checkpoint` (whose signature must verify); reports the
    /// intact positions and the first break.
    async fn verify(&self, tenant: Option<&str>, checkpoint: &Checkpoint) -> Result<VerifyReport, IntegrityError>;

    /// Signs the current head of `tenant`'s chain, now.
    async fn checkpoint(&self, tenant: Option<&str>, signer: &CheckpointSigner) -> Result<Checkpoint, IntegrityError> {
        let head = self.chain_head(tenant).await?;
        Ok(signer.sign(tenant, head, chrono::Utc::now()))
    }
}

/// Signs a checkpoint of every chain of `store` every `every` (the first
/// at once) and hands each to `keep` (which sends it somewhere else: a
/// file, a ticket, another system). Runs until the returned task is
/// aborted; a failed round is logged (`tracing`) and tried again at the
/// next tick.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")]
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use activity_log::integrity::{spawn_checkpoints, CheckpointSigner};
/// use activity_log::sqlite::SqliteSink;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let store = Arc::new(SqliteSink::connect("sqlite://activity.db").await?);
/// let signer = CheckpointSigner::from_secret_hex(&std::env::var("CHECKPOINT_KEY")?)?;
/// let task = spawn_checkpoints(store, signer, Duration::from_secs(3600), |c| {
///     let _ = std::fs::write(format!("checkpoint-{}.json", c.position), c.to_json());
/// });
/// # task.abort(); Ok(()) }
/// ```
pub fn spawn_checkpoints<S, F>(
    store: Arc<S>,
    signer: CheckpointSigner,
    every: Duration,
    mut keep: F,
) -> tokio::task::JoinHandle<()>
where
    S: ChainedStore + ?Sized + 'static,
    F: FnMut(Checkpoint) + Send + 'static,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let chains = match store.chains().await {
                Ok(chains) => chains,
                Err(e) => {
                    tracing::warn!(error = %e, "scheduled checkpoints: could not list the chains");
                    continue;
                }
            };
            for tenant in chains {
                match store.checkpoint(tenant.as_deref(), &signer).await {
                    Ok(c) => keep(c),
                    Err(e) => tracing::warn!(error = %e, "scheduled checkpoint failed"),
                }
            }
        }
    })
}
