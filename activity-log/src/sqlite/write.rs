//! Batch writes: the shared write path ([`crate::sql::write`]) in one
//! `BEGIN IMMEDIATE` transaction per batch on the single writer
//! connection, multi-row `INSERT ... ON CONFLICT DO NOTHING` statements
//! of up to 1,024 rows, within SQLite's limit of bound variables.

/// SQLite's limit on bound variables in one statement.
pub(crate) const MAX_VARIABLES: usize = 32_766;

const _: () = assert!(crate::sql::write::ROWS_PER_STATEMENT * crate::sql::write::COLUMN_COUNT <= MAX_VARIABLES);
