//! The administration API under `/admin`: clients (list, search, read, create, replace, delete,
//! rotate secret, reissue token, lock, unlock) and the audit trail, behind administrator tokens.

pub mod dto;
mod handlers;

use paperclip::actix::web;

pub use handlers::*;

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
        .service(web::resource("/admin/audit-events").route(web::get().to(audit_events)));
}
