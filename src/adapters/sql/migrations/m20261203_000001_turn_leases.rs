//! Turn leases on `threads`: who runs the thread's turn (`turn_owner`, an owner token) and until
//! when the lease holds without renewal (`turn_lease_until`, BIGINT microseconds since the Unix
//! epoch like every instant here). Both NULL: no turn is running.
//!
//! Nullable columns without defaults, so adding them rewrites no row on either engine. A
//! partial index over the few rows that hold a lease keeps the start-up and shutdown sweeps
//! ("free every lease of this replica") off the full table; both engines support it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer_null, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Threads {
    Table,
    TurnOwner,
    TurnLeaseUntil,
}

const INDEX: &str = "ix_threads_turn_owner";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite has no `ADD COLUMN IF NOT EXISTS`; checking first keeps the step idempotent
        // on both engines (Postgres migrators are serialised by an advisory lock).
        for (name, mut col) in [
            ("turn_owner", text_null(Threads::TurnOwner)),
            (
                "turn_lease_until",
                big_integer_null(Threads::TurnLeaseUntil),
            ),
        ] {
            if manager.has_column("threads", name).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(Threads::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {INDEX} ON threads (turn_owner) \
                 WHERE turn_owner IS NOT NULL"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        conn.execute_unprepared(&format!("DROP INDEX IF EXISTS {INDEX}"))
            .await?;
        for col in ["turn_lease_until", "turn_owner"] {
            if manager.has_column("threads", col).await? {
                conn.execute_unprepared(&format!("ALTER TABLE threads DROP COLUMN {col}"))
                    .await?;
            }
        }
        Ok(())
    }
}
