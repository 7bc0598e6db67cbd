//! The names of the first release, kept so code written against them still compiles: every item
//! now lives in [`crate::clients`], [`crate::registration`], [`crate::administration`],
//! [`crate::audit`], [`crate::error`], [`crate::values`] or [`crate::memory`], and is re-exported
//! here unchanged. New code should import from those modules.

pub use crate::administration::*;
pub use crate::audit::{AuditAction, AuditEvent, AuditLog, RequestContext};
pub use crate::clients::*;
pub use crate::error::{ErrorCode, RegistrationError, RepositoryError};
pub use crate::memory::{self, InMemoryClientRepository};
pub use crate::registration::*;
pub use crate::values::{
    ApplicationType, CodeChallengeMethod, GrantType, ResponseType, Scope, TokenEndpointAuthMethod,
};
