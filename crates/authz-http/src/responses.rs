//! Typed responders, so that OpenAPI documents each success status and body.

use actix_web::body::BoxBody;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, Either, Response};
use paperclip::v2::schema::Apiv2Schema;
use serde::Serialize;

fn document<T: Apiv2Schema>(op: &mut DefaultOperationRaw, status: &str, description: &str) {
    op.responses.insert(
        status.into(),
        Either::Right(Response {
            description: Some(description.into()),
            schema: Some({
                let mut schema = T::schema_with_ref();
                schema.retain_ref();
                schema
            }),
            ..Default::default()
        }),
    );
}

macro_rules! json_responder {
    ($(#[$meta:meta])* $name:ident, $status:ident, $code:literal, $desc:literal) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name<T>(pub T);

        impl<T: Serialize> Responder for $name<T> {
            type Body = BoxBody;
            fn respond_to(self, _: &HttpRequest) -> HttpResponse {
                HttpResponse::$status()
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .insert_header((header::PRAGMA, "no-cache"))
                    .json(&self.0)
            }
        }

        impl<T: Apiv2Schema> Apiv2Schema for $name<T> {
            fn name() -> Option<String> {
                T::name()
            }
            fn raw_schema() -> DefaultSchemaRaw {
                T::raw_schema()
            }
        }

        impl<T: Apiv2Schema> OperationModifier for $name<T> {
            fn update_response(op: &mut DefaultOperationRaw) {
                document::<T>(op, $code, $desc);
            }
        }
    };
}

json_responder!(
    /// `201 Created` with a JSON body and `Cache-Control: no-store`.
    Created, Created, "201", "Created"
);
json_responder!(
    /// `200 OK` with a JSON body and `Cache-Control: no-store`.
    Ok, Ok, "200", "OK"
);

/// `201 Created` with a `Location` header and a JSON body.
#[derive(Debug)]
pub struct CreatedAt<T>(pub String, pub T);

impl<T: Serialize> Responder for CreatedAt<T> {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::Created()
            .insert_header((header::LOCATION, self.0))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(&self.1)
    }
}

impl<T: Apiv2Schema> Apiv2Schema for CreatedAt<T> {
    fn name() -> Option<String> {
        T::name()
    }
    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Apiv2Schema> OperationModifier for CreatedAt<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        document::<T>(op, "201", "Created; `Location` names the new resource");
    }
}
