//! One lazily (re)connected Redis connection, shared by the tasks of a
//! sink or drainer.

use super::StreamError;
use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, RedisError};
use std::time::Duration;

/// Connects on first use and again after a connection-level error, so a
/// Redis outage is a stream of quick errors, never a dead handle.
pub(crate) struct Link {
    client: Client,
    config: AsyncConnectionConfig,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's connection info may hold a password.
        f.debug_struct("Link").finish_non_exhaustive()
    }
}

impl Link {
    pub(crate) fn open(url: &str, connect_timeout: Duration, response_timeout: Duration) -> Result<Self, StreamError> {
        let client = Client::open(url).map_err(|e| StreamError::InvalidUrl(format!("{:?}", e.kind())))?;
        let config =
            AsyncConnectionConfig::new().set_connection_timeout(connect_timeout).set_response_timeout(response_timeout);
        Ok(Self { client, config, conn: tokio::sync::Mutex::new(None) })
    }

    /// The shared connection, connecting first if there is none.
    pub(crate) async fn get(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.client.get_multiplexed_async_connection_with_config(&self.config).await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// A connection of its own (for blocking reads), not shared.
    pub(crate) async fn dedicated(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client.get_multiplexed_async_connection_with_config(&self.config).await
    }

    /// Drops the shared connection if `error` means it is broken.
    pub(crate) async fn after_error(&self, error: &RedisError) {
        if breaks_connection(error) {
            *self.conn.lock().await = None;
        }
    }
}

/// Whether an error means the connection is gone (rather than one command
/// refused).
pub(crate) fn breaks_connection(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
}
