//! `/admin/users`: user accounts (list, read, create, disable, enable, set a password) behind
//! administrator tokens with the `user:read` and `user:admin` scopes.
//!
//! Every handler checks the administrator token and its scope with
//! [`AdminService::authenticate`](authz_domain::administration::AdminService::authenticate)
//! before it looks at the URL's user id, the query or the body, then calls
//! [`UserService`](authz_domain::users::UserService) with the actor `admin:NAME`, all in one
//! `web::block`. No answer, audit record or log line holds a password or a password hash.

use std::fmt;

use actix_web::{web, HttpRequest};
use authz_domain::administration::{AdminScope, UserListParams};
use authz_domain::error::RegistrationError;
use authz_domain::users::{User, UserError, UserId};
use paperclip::actix::{api_v2_operation, Apiv2Schema, NoContent};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::extract::{request_context, AdminBearer, DeferredJsonObject};
use crate::responses::{CreatedAt, Ok as JsonOk};
use crate::AppState;

/// A user account as an administrator sees it. Never carries a password or its hash.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct AdminUser {
    /// The user's stable id: 22 characters of base64url, the `sub` of their tokens.
    pub id: String,
    /// The sign-in name as first entered; unique regardless of case.
    pub username: String,
    /// A name to show instead of the username; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `active` or `disabled` (a disabled user cannot sign in and has no sessions).
    pub state: String,
    /// When the account was created (Unix seconds).
    pub created_at: i64,
    /// When the account last changed: disabled, enabled, password set (Unix seconds).
    pub updated_at: i64,
    /// When the password was last set (Unix seconds).
    pub password_changed_at: i64,
}

impl From<&User> for AdminUser {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.as_str().to_owned(),
            display_name: user.display_name.clone(),
            state: if user.is_disabled {
                "disabled"
            } else {
                "active"
            }
            .into(),
            created_at: user.created_at,
            updated_at: user.updated_at,
            password_changed_at: user.password_changed_at,
        }
    }
}

/// A page of users, ordered by username regardless of case.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct UserList {
    /// The users on this page.
    pub users: Vec<AdminUser>,
    /// How many users exist.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u64,
    /// The page size.
    pub per_page: u64,
}

/// Query parameters of `GET /admin/users`.
#[derive(Debug, Clone, Default, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// Page number, 1 to 1000000. Default 1.
    pub page: Option<String>,
    /// Page size, 1 to the smaller of `admin.max_per_page` and 100. Default
    /// `admin.default_per_page` (20).
    pub per_page: Option<String>,
}

/// `POST /admin/users` body.
#[derive(Clone, Default, Serialize, Deserialize, Apiv2Schema)]
pub struct UserCreateRequest {
    /// The sign-in name: 1 to 64 characters after trimming, no control, invisible or formatting
    /// characters; unique after Unicode case folding (`Alice` and `alice` are one account).
    pub username: String,
    /// Optional name to show: at most 128 characters, the same forbidden characters.
    pub display_name: Option<String>,
    /// The password, taken as sent (nothing trimmed): `users.password_min_chars` (8) to
    /// `users.password_max_chars` (1024) characters. Stored only as an Argon2id hash.
    pub password: String,
}

impl fmt::Debug for UserCreateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCreateRequest")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// `PUT /admin/users/{user_id}/password` body.
#[derive(Clone, Default, Serialize, Deserialize, Apiv2Schema)]
pub struct PasswordRequest {
    /// The new password, under the same rules as at creation.
    pub password: String,
}

impl fmt::Debug for PasswordRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordRequest([REDACTED])")
    }
}

/// A user refusal or failure as the administration API reports it, naming the field.
fn user_error(e: UserError) -> RegistrationError {
    match e {
        UserError::InvalidUsername(m) => {
            RegistrationError::InvalidRequest(format!("username: {m}"))
        }
        UserError::InvalidDisplayName(m) => {
            RegistrationError::InvalidRequest(format!("display_name: {m}"))
        }
        UserError::InvalidPassword(m) => {
            RegistrationError::InvalidRequest(format!("password: {m}"))
        }
        UserError::UsernameTaken(name) => RegistrationError::Conflict(format!(
            "username: {name:?} is taken: another user has the same username regardless of case"
        )),
        UserError::NotFound(id) => not_found(&id),
        UserError::InvalidQuery(m) => RegistrationError::InvalidRequest(m),
        UserError::Repository(e) => RegistrationError::Storage(e),
        UserError::Credential(e) => RegistrationError::Credentials(e),
    }
}

fn not_found(id: &str) -> RegistrationError {
    let shown: String = id.chars().take(64).collect();
    RegistrationError::NotFound(format!("no user has the id {shown:?}"))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The body's members, refusing any not in `accepted`.
fn body<'a>(
    members: &'a Result<Map<String, Value>, String>,
    accepted: &[&str],
) -> Result<&'a Map<String, Value>, RegistrationError> {
    let members = members
        .as_ref()
        .map_err(|e| RegistrationError::InvalidRequest(e.clone()))?;
    if let Some(unknown) = members.keys().find(|k| !accepted.contains(&k.as_str())) {
        let shown: String = unknown.chars().take(40).collect();
        return Err(RegistrationError::InvalidRequest(format!(
            "{shown}: unknown member; accepted: {}",
            accepted.join(", ")
        )));
    }
    Ok(members)
}

/// A string member; `None` when absent or `null`.
fn string<'a>(
    members: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, RegistrationError> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(RegistrationError::InvalidRequest(format!(
            "{name}: expected a string, got {}",
            json_type(other)
        ))),
    }
}

fn required<'a>(members: &'a Map<String, Value>, name: &str) -> Result<&'a str, RegistrationError> {
    string(members, name)?
        .ok_or_else(|| RegistrationError::InvalidRequest(format!("{name}: required")))
}

fn deferred(members: Result<Map<String, Value>, ApiError>) -> Result<Map<String, Value>, String> {
    members.map_err(|e| e.to_string())
}

/// List users
///
/// A page of user accounts, ordered by username regardless of case, with the number of all
/// users. Never a password or its hash. Needs `user:read` (or `user:admin`; `client:admin` is
/// not enough).
#[api_v2_operation(
    operation_id = "adminListUsers",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn list_users(
    state: web::Data<AppState>,
    token: AdminBearer,
    query: web::Query<UserListQuery>,
    req: HttpRequest,
) -> Result<JsonOk<UserList>, ApiError> {
    let admin = state.admin.clone();
    let users = state.users.clone();
    let context = request_context(&req);
    let q = query.into_inner();
    let params = UserListParams {
        page: q.page,
        per_page: q.per_page,
    };
    let list = web::block(move || -> Result<UserList, RegistrationError> {
        admin.authenticate(token.0, AdminScope::UserRead, &context)?;
        let query = params.parse(admin.policy())?;
        let page = users.list_users(&query).map_err(user_error)?;
        Ok(UserList {
            users: page.users.iter().map(AdminUser::from).collect(),
            total: page.total,
            page: query.page,
            per_page: query.per_page,
        })
    })
    .await??;
    Ok(JsonOk(list))
}

/// Read a user
///
/// One user account. Never a password or its hash. Needs `user:read` (or `user:admin`).
#[api_v2_operation(
    operation_id = "adminGetUser",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn get_user(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<JsonOk<AdminUser>, ApiError> {
    let admin = state.admin.clone();
    let users = state.users.clone();
    let context = request_context(&req);
    let id = path.into_inner();
    let user = web::block(move || -> Result<AdminUser, RegistrationError> {
        admin.authenticate(token.0, AdminScope::UserRead, &context)?;
        let user = users
            .find_user(&UserId::from_stored(id.as_str()))
            .map_err(user_error)?
            .ok_or_else(|| not_found(&id))?;
        Ok(AdminUser::from(&user))
    })
    .await??;
    Ok(JsonOk(user))
}

/// Create a user
///
/// Creates a local user account with a password (stored only as an Argon2id hash; never shown
/// again, not even here). Refused with `409 conflict` when another user has the same username
/// regardless of case. Audited as `user.created` with the administrator's name. Needs
/// `user:admin`.
#[api_v2_operation(
    operation_id = "adminCreateUser",
    tags("Administration"),
    consumes = "application/json",
    produces = "application/json"
)]
pub async fn create_user(
    state: web::Data<AppState>,
    token: AdminBearer,
    body_in: DeferredJsonObject<UserCreateRequest>,
    req: HttpRequest,
) -> Result<CreatedAt<AdminUser>, ApiError> {
    let admin = state.admin.clone();
    let users = state.users.clone();
    let context = request_context(&req);
    let members = deferred(body_in.members);
    let user = web::block(move || -> Result<AdminUser, RegistrationError> {
        let administrator = admin.authenticate(token.0, AdminScope::UserAdmin, &context)?;
        let members = body(&members, &["username", "display_name", "password"])?;
        let username = required(members, "username")?;
        let display_name = string(members, "display_name")?;
        let password = SecretString::from(required(members, "password")?.to_owned());
        let user = users
            .create_user(
                username,
                display_name,
                password,
                &administrator.actor(),
                &context,
            )
            .map_err(user_error)?;
        Ok(AdminUser::from(&user))
    })
    .await??;
    tracing::info!(user_id = %user.id, "user created by an administrator");
    Ok(CreatedAt(
        state.settings.url(&format!("/admin/users/{}", user.id)),
        user,
    ))
}

async fn set_disabled(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
    disabled: bool,
) -> Result<JsonOk<AdminUser>, ApiError> {
    let admin = state.admin.clone();
    let users = state.users.clone();
    let context = request_context(&req);
    let id = path.into_inner();
    let user = web::block(move || -> Result<AdminUser, RegistrationError> {
        let administrator = admin.authenticate(token.0, AdminScope::UserAdmin, &context)?;
        let user = users
            .set_disabled(
                &UserId::from_stored(id.as_str()),
                disabled,
                &administrator.actor(),
                &context,
            )
            .map_err(|e| match e {
                UserError::NotFound(_) => not_found(&id),
                e => user_error(e),
            })?;
        Ok(AdminUser::from(&user))
    })
    .await??;
    Ok(JsonOk(user))
}

/// Disable a user
///
/// The user can no longer sign in, and every session of theirs ends at once. Idempotent.
/// Audited as `user.updated` (`disabled`). Needs `user:admin`.
#[api_v2_operation(
    operation_id = "adminDisableUser",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn disable_user(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<JsonOk<AdminUser>, ApiError> {
    set_disabled(state, path, token, req, true).await
}

/// Enable a user
///
/// A disabled user may sign in again. Idempotent. Audited as `user.updated` (`enabled`). Needs
/// `user:admin`.
#[api_v2_operation(
    operation_id = "adminEnableUser",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn enable_user(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<JsonOk<AdminUser>, ApiError> {
    set_disabled(state, path, token, req, false).await
}

/// Set a user's password
///
/// Replaces the password (under the `[users]` rules) and ends every session of the user.
/// Audited as `user.password_set`, never with the password. Needs `user:admin`.
#[api_v2_operation(
    operation_id = "adminSetUserPassword",
    tags("Administration"),
    consumes = "application/json"
)]
pub async fn set_password(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    body_in: DeferredJsonObject<PasswordRequest>,
    req: HttpRequest,
) -> Result<NoContent, ApiError> {
    let admin = state.admin.clone();
    let users = state.users.clone();
    let context = request_context(&req);
    let id = path.into_inner();
    let members = deferred(body_in.members);
    web::block(move || -> Result<(), RegistrationError> {
        let administrator = admin.authenticate(token.0, AdminScope::UserAdmin, &context)?;
        let user_id = UserId::from_stored(id.as_str());
        // An unknown user is reported before the body is looked at.
        if users.find_user(&user_id).map_err(user_error)?.is_none() {
            return Err(not_found(&id));
        }
        let members = body(&members, &["password"])?;
        let password = SecretString::from(required(members, "password")?.to_owned());
        users
            .set_password(&user_id, password, &administrator.actor(), &context)
            .map_err(|e| match e {
                UserError::NotFound(_) => not_found(&id),
                e => user_error(e),
            })
    })
    .await??;
    Ok(NoContent)
}
