//! The administration API under `/admin`: clients (list, search, read, create, replace, delete,
//! rotate secret, reissue token, lock, unlock), user accounts (`users.rs`) and the audit trail,
//! behind administrator tokens.

pub mod dto;
mod handlers;
pub mod initial_access;
pub mod users;

use paperclip::actix::web;

pub use handlers::*;
pub use users::{
    create_user, disable_user, enable_user, get_user, list_users, set_password as set_user_password,
};

/// The routes, mounted by [`crate::build_app`] when the administration API is enabled.
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.app_data(actix_web::web::QueryConfig::default().error_handler(handlers::query_error))
        .service(
            web::resource("/admin/clients")
                .route(web::get().to(list_clients))
                .route(web::post().to(create_client)),
        )
        .service(
            web::resource("/admin/clients/{client_id}")
                .route(web::get().to(get_client))
                .route(web::put().to(replace_client))
                .route(web::delete().to(delete_client)),
        )
        .service(
            web::resource("/admin/clients/{client_id}/secret").route(web::post().to(rotate_secret)),
        )
        .service(
            web::resource("/admin/clients/{client_id}/registration-access-token")
                .route(web::post().to(reissue_token)),
        )
        .service(
            web::resource("/admin/clients/{client_id}/lock").route(web::post().to(lock_client)),
        )
        .service(
            web::resource("/admin/clients/{client_id}/unlock").route(web::post().to(unlock_client)),
        )
        .service(web::resource("/admin/audit-events").route(web::get().to(audit_events)))
        .service(
            web::resource("/admin/initial-access-tokens")
                .route(web::get().to(initial_access::list_initial_access_tokens))
                .route(web::post().to(initial_access::create_initial_access_token)),
        )
        .service(
            web::resource("/admin/initial-access-tokens/{id}")
                .route(web::delete().to(initial_access::revoke_initial_access_token)),
        )
        .service(
            web::resource("/admin/users")
                .route(web::get().to(list_users))
                .route(web::post().to(create_user)),
        )
        .service(web::resource("/admin/users/{user_id}").route(web::get().to(get_user)))
        .service(
            web::resource("/admin/users/{user_id}/disable").route(web::post().to(disable_user)),
        )
        .service(web::resource("/admin/users/{user_id}/enable").route(web::post().to(enable_user)))
        .service(
            web::resource("/admin/users/{user_id}/password")
                .route(web::put().to(set_user_password)),
        );
}
