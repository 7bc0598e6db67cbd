//! `POST /register` answers that can be replayed: the body is produced as bytes once, stored
//! sealed when an `Idempotency-Key` was sent, and sent again verbatim on a replay (marked
//! `Idempotent-Replayed: true`).

use actix_web::body::BoxBody;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, Responder};
use authz_domain::error::RegistrationError;
use authz_domain::registration::{
    IdempotencyError, IdempotencyKey, RegisterError, IDEMPOTENCY_KEY_HEADER,
};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, Either, Response};
use paperclip::v2::schema::Apiv2Schema;

use crate::dto::{ClientInformationResponse, ErrorBody};
use crate::error::ApiError;

/// Marks a replayed answer.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// A registration answer as bytes: a new client (`201`), a replay of the first answer, or `422`
/// for a key reused with another body.
#[derive(Debug)]
pub struct RegistrationReply {
    /// The status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Vec<u8>,
    /// Whether this repeats an earlier answer.
    pub replayed: bool,
}

impl RegistrationReply {
    /// `422`: the key was used with another body.
    pub fn mismatch() -> Self {
        let body = serde_json::to_vec(&ErrorBody {
            error: "invalid_request".into(),
            error_description: IdempotencyError::Mismatch.to_string(),
        })
        .unwrap_or_default();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body,
            replayed: false,
        }
    }
}

impl Responder for RegistrationReply {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.replayed {
            response.insert_header((REPLAYED_HEADER, "true"));
        }
        response.body(self.body)
    }
}

impl Apiv2Schema for RegistrationReply {
    fn name() -> Option<String> {
        ClientInformationResponse::name()
    }
    fn raw_schema() -> DefaultSchemaRaw {
        ClientInformationResponse::raw_schema()
    }
}

impl OperationModifier for RegistrationReply {
    fn update_response(op: &mut DefaultOperationRaw) {
        let mut created = ClientInformationResponse::schema_with_ref();
        created.retain_ref();
        op.responses.insert(
            "201".into(),
            Either::Right(Response {
                description: Some(
                    "Created; also the replay of the first answer to an Idempotency-Key (then with `Idempotent-Replayed: true`)".into(),
                ),
                schema: Some(created),
                ..Default::default()
            }),
        );
        let mut error = ErrorBody::schema_with_ref();
        error.retain_ref();
        op.responses.insert(
            "422".into(),
            Either::Right(Response {
                description: Some(
                    "`invalid_request`: the Idempotency-Key was already used with a different body"
                        .into(),
                ),
                schema: Some(error),
                ..Default::default()
            }),
        );
    }
}

/// The `Idempotency-Key` header: absent, or one valid key (two headers are refused).
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, IdempotencyError> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY_HEADER);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(IdempotencyError::InvalidKey(format!(
            "{IDEMPOTENCY_KEY_HEADER}: send one header, not several"
        )));
    }
    IdempotencyKey::parse(first.as_bytes()).map(Some)
}

/// A refused registration as an answer: `422` as a reply, the rest as errors (`409` for a key
/// in flight, `400` for a bad key).
pub fn refusal(e: RegisterError) -> Result<RegistrationReply, ApiError> {
    match e {
        RegisterError::Registration(e) => Err(e.into()),
        RegisterError::Idempotency(IdempotencyError::Mismatch) => Ok(RegistrationReply::mismatch()),
        RegisterError::Idempotency(e @ IdempotencyError::InFlight) => {
            Err(RegistrationError::Conflict(e.to_string()).into())
        }
        RegisterError::Idempotency(IdempotencyError::InvalidKey(m)) => {
            Err(ApiError::InvalidRequest(m))
        }
        RegisterError::Idempotency(IdempotencyError::Storage(e)) => {
            Err(RegistrationError::Storage(e).into())
        }
    }
}
