//! The administration ports over diesel: paged search, usage, the audit trail, secret rotation,
//! token reissue and administrator tokens.

use authz_domain::administration::{
    AdminToken, AdminTokenRepository, AuditPage, AuditQuery, ClientAdministration, ClientPage,
    ClientQuery, ClientSort, StoredAuditEvent,
};
use authz_domain::audit::AuditEvent;
use authz_domain::clients::{PreviousSecret, RegistrationTokenRecord};
use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use diesel::prelude::*;

use super::models::{AdminTokenRow, AuditRow, ClientRow, NewTokenRow};
use super::repository::{gone, insert_audit, missing_or_stale, DieselClientRepository, TxError};
use crate::database::DbConnection;
use crate::error::repo_err;
use crate::schema::{
    admin_tokens, audit_events, client_activity, client_counts, clients,
    registration_access_tokens as tokens,
};

type Db = <DbConnection as diesel::Connection>::Backend;

/// A LIKE pattern matching `term` literally anywhere: `\`, `%` and `_` are escaped.
pub(crate) fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl ClientAdministration for DieselClientRepository {
    fn search(&self, query: &ClientQuery) -> Result<ClientPage, RepositoryError> {
        let pattern = query.search.as_deref().map(contains_pattern);
        let (total, rows) = self
            .db
            .read(|conn| {
                let total: i64 = match &pattern {
                    // Kept by triggers; summing its slots is constant time.
                    None => client_counts::table
                        .select(client_counts::n)
                        .load::<i64>(conn)?
                        .into_iter()
                        .sum(),
                    Some(p) => clients::table
                        .filter(clients::search_text.like(p).escape('\\'))
                        .count()
                        .get_result(conn)?,
                };
                // First the page's ids, from the ordering index alone (it covers them), then
                // those rows: skipping `offset` entries never touches the rows themselves.
                let mut ids = clients::table.select(clients::client_id).into_boxed::<Db>();
                if let Some(p) = &pattern {
                    ids = ids.filter(clients::search_text.like(p.clone()).escape('\\'));
                }
                ids = match query.sort {
                    ClientSort::NewestFirst => {
                        ids.order((clients::issued_at.desc(), clients::client_id.desc()))
                    }
                    ClientSort::OldestFirst => {
                        ids.order((clients::issued_at.asc(), clients::client_id.asc()))
                    }
                    ClientSort::ClientIdAsc => ids.order(clients::client_id.asc()),
                    ClientSort::ClientIdDesc => ids.order(clients::client_id.desc()),
                };
                let ids: Vec<String> = ids
                    .limit(to_i64(query.per_page))
                    .offset(to_i64(query.offset()))
                    .load(conn)?;
                let rows: Vec<ClientRow> = if ids.is_empty() {
                    Vec::new()
                } else {
                    clients::table
                        .filter(clients::client_id.eq_any(&ids))
                        .select(ClientRow::as_select())
                        .load(conn)?
                };
                // Back into the page's order (a row deleted in between is simply absent).
                let mut ordered = Vec::with_capacity(rows.len());
                let mut rows: Vec<Option<ClientRow>> = rows.into_iter().map(Some).collect();
                for id in &ids {
                    if let Some(slot) = rows
                        .iter_mut()
                        .find(|r| r.as_ref().is_some_and(|r| &r.client_id == id))
                    {
                        ordered.extend(slot.take());
                    }
                }
                Ok((total, ordered))
            })
            .map_err(repo_err)?;
        Ok(ClientPage {
            clients: rows
                .into_iter()
                .map(ClientRow::into_client)
                .collect::<Result<_, _>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    fn last_used(&self, client_id: &str) -> Result<Option<i64>, RepositoryError> {
        // A column kept by `ClientUsageStore::record_use`: one primary-key read, however many
        // audit records the client has.
        self.db
            .read(|conn| {
                client_activity::table
                    .find(client_id)
                    .select(client_activity::last_used_at)
                    .first::<Option<i64>>(conn)
                    .optional()
            })
            .map(Option::flatten)
            .map_err(repo_err)
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<AuditPage, RepositoryError> {
        let rows: Vec<AuditRow> = self
            .db
            .read(|conn| {
                let mut q = audit_events::table
                    .select(AuditRow::as_select())
                    .into_boxed::<Db>();
                if let Some(client_id) = &query.client_id {
                    q = q.filter(audit_events::client_id.eq(client_id.clone()));
                }
                if let Some(action) = query.action {
                    q = q.filter(audit_events::action.eq(action.as_str()));
                }
                if let Some(since) = query.since {
                    q = q.filter(audit_events::occurred_at.ge(since));
                }
                if let Some(until) = query.until {
                    q = q.filter(audit_events::occurred_at.lt(until));
                }
                q.order(audit_events::id.desc())
                    .limit(to_i64(query.per_page).saturating_add(1))
                    .offset(to_i64(query.offset()))
                    .load(conn)
            })
            .map_err(repo_err)?;
        let per_page = usize::try_from(query.per_page).unwrap_or(usize::MAX);
        let has_more = rows.len() > per_page;
        Ok(AuditPage {
            events: rows
                .into_iter()
                .take(per_page)
                .map(StoredAuditEvent::from)
                .collect(),
            has_more,
        })
    }

    fn rotate_secret(
        &self,
        client_id: &str,
        expected_revision: i64,
        secret_hash: &str,
        secret_expires_at: i64,
        previous: Option<&PreviousSecret>,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                let n = diesel::update(
                    clients::table
                        .find(client_id)
                        .filter(clients::revision.eq(expected_revision)),
                )
                .set((
                    clients::secret_hash.eq(secret_hash),
                    clients::secret_expires_at.eq(secret_expires_at),
                    clients::previous_secret_hash.eq(previous.map(|p| p.hash.as_str())),
                    clients::previous_secret_valid_until.eq(previous.map(|p| p.valid_until)),
                    clients::updated_at.eq(audit.occurred_at),
                    clients::revision.eq(clients::revision + 1),
                ))
                .execute(conn)?;
                if n == 0 {
                    return Err(missing_or_stale(conn, client_id));
                }
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }

    fn reissue_token(
        &self,
        token: &RegistrationTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                // Lock the client row first, so a concurrent delete or update queues behind us.
                let touched = diesel::update(clients::table.find(&token.client_id))
                    .set(clients::updated_at.eq(clients::updated_at))
                    .execute(conn)?;
                if touched == 0 {
                    return Err(gone(&token.client_id));
                }
                diesel::update(
                    tokens::table
                        .filter(tokens::client_id.eq(&token.client_id))
                        .filter(tokens::revoked_at.is_null()),
                )
                .set(tokens::revoked_at.eq(token.issued_at))
                .execute(conn)?;
                diesel::insert_into(tokens::table)
                    .values(NewTokenRow::from_record(token))
                    .execute(conn)?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }
}

impl AdminTokenRepository for DieselClientRepository {
    fn create_admin_token(
        &self,
        token: &AdminToken,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        let row = AdminTokenRow::from_token(token);
        self.db
            .write(|conn| {
                diesel::insert_into(admin_tokens::table)
                    .values(&row)
                    .execute(conn)?;
                insert_audit(conn, audit)
            })
            .map_err(|e: TxError| e.into())
    }

    fn find_admin_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AdminToken>, RepositoryError> {
        let row = self
            .db
            .read(|conn| {
                admin_tokens::table
                    .filter(admin_tokens::token_digest.eq(digest.as_bytes().as_slice()))
                    .select(AdminTokenRow::as_select())
                    .first(conn)
                    .optional()
            })
            .map_err(repo_err)?;
        row.map(AdminTokenRow::into_token).transpose()
    }

    fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, RepositoryError> {
        self.db
            .read(|conn| {
                admin_tokens::table
                    .order((admin_tokens::created_at.asc(), admin_tokens::name.asc()))
                    .select(AdminTokenRow::as_select())
                    .load(conn)
            })
            .map_err(repo_err)?
            .into_iter()
            .map(AdminTokenRow::into_token)
            .collect()
    }

    fn revoke_admin_token(&self, name: &str, audit: &AuditEvent) -> Result<(), RepositoryError> {
        self.db
            .write(|conn| {
                let exists: i64 = admin_tokens::table.find(name).count().get_result(conn)?;
                if exists == 0 {
                    return Err(TxError::Refused(RepositoryError::NotFound(format!(
                        "admin token {name}"
                    ))));
                }
                diesel::update(
                    admin_tokens::table
                        .find(name)
                        .filter(admin_tokens::revoked_at.is_null()),
                )
                .set(admin_tokens::revoked_at.eq(audit.occurred_at))
                .execute(conn)?;
                insert_audit(conn, audit)
            })
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_patterns_escape_wildcards_and_the_escape_character() {
        assert_eq!(contains_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(contains_pattern("école"), "%école%");
    }
}
