//! [`ClientUsageStore`] over diesel: one conditional upsert of `client_activity.last_used_at`.

use authz_domain::clients::ClientUsageStore;
use authz_domain::error::RepositoryError;
use diesel::prelude::*;
use diesel::query_dsl::methods::FilterDsl;

use super::repository::DieselClientRepository;
use crate::database::native;
use crate::error::repo_err;
use crate::schema::client_activity;

impl ClientUsageStore for DieselClientRepository {
    fn record_use(
        &self,
        client_id: &str,
        at: i64,
        unless_since: i64,
    ) -> Result<bool, RepositoryError> {
        // The condition makes instances that each remember their own writes still write at most
        // about once per interval together; it also never moves the time backwards. A client
        // deleted meanwhile fails the foreign key: nothing to record.
        let changed = self
            .db
            .write(|conn| {
                native!(conn, |c| FilterDsl::filter(
                    diesel::insert_into(client_activity::table)
                        .values((
                            client_activity::client_id.eq(client_id),
                            client_activity::last_used_at.eq(Some(at)),
                        ))
                        .on_conflict(client_activity::client_id)
                        .do_update()
                        .set(client_activity::last_used_at.eq(Some(at))),
                    client_activity::last_used_at
                        .is_null()
                        .or(client_activity::last_used_at.le(unless_since)),
                )
                .execute(c))
                .map_err(crate::error::StorageError::from)
            })
            .map_err(|e: crate::error::StorageError| {
                tracing::warn!(error = %e, "recording a client's last use");
                repo_err(e)
            })?;
        Ok(changed > 0)
    }
}
