//! `[pages]`: how the sign-in and consent pages present themselves (re-branding).

use garde::Validate;
use serde::{Deserialize, Serialize};

/// `[pages]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct PagesSettings {
    /// The name every page shows (`<title>`, header).
    #[garde(length(min = 1, max = 100))]
    pub product_name: String,
    /// A logo for the page header: an absolute `https` URL or a path on this host; empty: none.
    #[garde(skip)]
    pub logo_url: String,
    /// A folder whose files replace the built-in templates of the same name; empty: none.
    #[garde(skip)]
    pub template_dir: String,
}
