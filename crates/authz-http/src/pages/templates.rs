//! The pages' templates: built in (embedded with `include_str!`), each replaceable by a file of
//! the same name in the operator's `template_dir`, compiled and test-rendered once at start so a
//! broken override stops the server instead of breaking a sign-in.
//!
//! Autoescaping is on for every template (HTML), and undefined variables are errors, so a typo in
//! an override is caught by the start-up render. The `visible` filter shows invisible and
//! bidirectional control characters (U+202E and friends) as `[U+202E]`, so a client name cannot
//! reorder or hide what the consent page says.

use std::path::Path;

use authz_domain::credentials::TokenDigest;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::PagesError;

/// The layout every page extends: `<html lang="en">`, the stylesheet, the logo and product name.
pub const BASE: &str = "base.html";
/// The sign-in form.
pub const SIGN_IN: &str = "signin.html";
/// The consent page.
pub const CONSENT: &str = "consent.html";
/// Every error page (unknown client, wrong redirect URI, expired request, CSRF).
pub const ERROR: &str = "error.html";
/// The sign-out confirmation form.
pub const SIGN_OUT: &str = "signout.html";
/// The page after signing out.
pub const SIGNED_OUT: &str = "signed_out.html";
/// The landing page at `/`.
pub const HOME: &str = "home.html";
/// A guide of `docs/` rendered from Markdown (`/docs`, `/docs/{page}`).
pub const DOCUMENT: &str = "document.html";
/// The browsable OpenAPI document (`/docs/openapi`).
pub const OPENAPI: &str = "openapi.html";
/// The stylesheet (not a template: served as is at `/assets/pages.css`).
pub const STYLESHEET: &str = "pages.css";

/// Every file an operator may replace in `template_dir`, with its built-in content.
pub const BUILT_IN: &[(&str, &str)] = &[
    (BASE, include_str!("../../templates/base.html")),
    (SIGN_IN, include_str!("../../templates/signin.html")),
    (CONSENT, include_str!("../../templates/consent.html")),
    (ERROR, include_str!("../../templates/error.html")),
    (SIGN_OUT, include_str!("../../templates/signout.html")),
    (SIGNED_OUT, include_str!("../../templates/signed_out.html")),
    (HOME, include_str!("../../templates/home.html")),
    (DOCUMENT, include_str!("../../templates/document.html")),
    (OPENAPI, include_str!("../../templates/openapi.html")),
    (STYLESHEET, include_str!("../../templates/pages.css")),
];

/// What every page shows: the product, its logo, the stylesheet.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Site {
    pub product_name: String,
    pub logo_url: Option<String>,
    /// Relative URL of the stylesheet, with a content hash so it can be cached for a year.
    pub stylesheet: String,
}

/// The sign-in page.
#[derive(Debug, Serialize)]
pub(crate) struct SignInPage<'a> {
    #[serde(flatten)]
    pub site: &'a Site,
    pub client_name: String,
    pub unverified: bool,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    /// The username typed before a refused attempt (never the password).
    pub username: &'a str,
    pub error: Option<&'a str>,
}

/// One requested scope on the consent page.
#[derive(Debug, Serialize)]
pub(crate) struct ScopeLine {
    pub name: String,
    pub description: Option<String>,
}

/// The consent page.
#[derive(Debug, Serialize)]
pub(crate) struct ConsentPage<'a> {
    #[serde(flatten)]
    pub site: &'a Site,
    pub client_name: String,
    pub unverified: bool,
    /// The redirect URI's host (with port), or `scheme:` for a private-use scheme.
    pub redirect_host: String,
    /// "an application on this computer" for loopback, and similar notes.
    pub redirect_note: Option<String>,
    pub scopes: Vec<ScopeLine>,
    pub resources: Vec<String>,
    pub issuer: &'a str,
    pub user_name: String,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
}

/// An error page.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorPage<'a> {
    #[serde(flatten)]
    pub site: &'a Site,
    pub title: &'a str,
    pub message: &'a str,
    /// A same-site link that starts the step again (for a stale form), when there is one.
    pub retry_url: Option<String>,
}

/// The sign-out confirmation.
#[derive(Debug, Serialize)]
pub(crate) struct SignOutPage<'a> {
    #[serde(flatten)]
    pub site: &'a Site,
    pub csrf_token: &'a str,
}

/// A page with only the site around it (signed out).
#[derive(Debug, Serialize)]
pub(crate) struct PlainPage<'a> {
    #[serde(flatten)]
    pub site: &'a Site,
}

/// A link of the documentation's navigation.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NavLink {
    pub href: String,
    pub title: String,
}

/// The landing page.
#[derive(Debug, Serialize)]
pub(crate) struct HomePage<'a> {
    #[serde(flatten)]
    pub site: &'a Site,
    pub issuer: &'a str,
    pub documents: Vec<NavLink>,
}

/// A guide: `body` is the HTML rendered from its Markdown (raw HTML in it escaped).
#[derive(Debug, Serialize)]
pub(crate) struct DocumentPage<'a> {
    #[serde(flatten)]
    pub site: &'a Site,
    pub title: String,
    pub body: String,
    pub nav: Vec<NavLink>,
}

pub(crate) use super::openapi_view::OpenApiPage;

/// The compiled templates and the stylesheet.
#[derive(Debug)]
pub(crate) struct Templates {
    env: Environment<'static>,
    stylesheet: String,
    stylesheet_version: String,
}

impl Templates {
    /// The built-in templates, with each file found in `dir` replacing the one of the same
    /// name. Every template is compiled and rendered once with sample values.
    pub(crate) fn load(dir: Option<&Path>) -> Result<Self, PagesError> {
        if let Some(dir) = dir {
            if !dir.is_dir() {
                return Err(PagesError::TemplateDir(format!(
                    "{} is not a readable folder",
                    dir.display()
                )));
            }
        }
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("visible", visible);
        let mut stylesheet = String::new();
        for (name, built_in) in BUILT_IN {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| PagesError::TemplateDir(format!("{}: {e}", path.display())))?,
                None => (*built_in).to_owned(),
            };
            if *name == STYLESHEET {
                stylesheet = source;
            } else {
                env.add_template_owned(*name, source)
                    .map_err(|e| PagesError::Template {
                        name: name.to_string(),
                        message: describe(&e),
                    })?;
            }
        }
        let digest = TokenDigest::of(&stylesheet);
        let stylesheet_version = digest.as_bytes()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let templates = Self {
            env,
            stylesheet,
            stylesheet_version,
        };
        templates.check()?;
        Ok(templates)
    }

    /// The stylesheet's content.
    pub(crate) fn stylesheet(&self) -> &str {
        &self.stylesheet
    }

    /// The stylesheet's relative URL (from a page at the root of the pages), versioned by its
    /// content.
    pub(crate) fn stylesheet_url(&self) -> String {
        format!("assets/pages.css?v={}", self.stylesheet_version)
    }

    /// Renders `name` with `context`.
    pub(crate) fn render<S: Serialize>(
        &self,
        name: &str,
        context: &S,
    ) -> Result<String, PagesError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| PagesError::Template {
                name: name.to_owned(),
                message: describe(&e),
            })?;
        template
            .render(minijinja::Value::from(minijinja::value::Serde(context)))
            .map_err(|e| PagesError::Template {
                name: name.to_owned(),
                message: describe(&e),
            })
    }

    /// Renders every page once with sample values, so an override that refers to an unknown
    /// variable or filter fails at start.
    fn check(&self) -> Result<(), PagesError> {
        let site = Site {
            product_name: "Product".into(),
            logo_url: Some("/logo.png".into()),
            stylesheet: self.stylesheet_url(),
        };
        self.render(
            SIGN_IN,
            &SignInPage {
                site: &site,
                client_name: "Client".into(),
                unverified: true,
                request_id: "ar_x",
                csrf_token: "t",
                username: "u",
                error: Some("e"),
            },
        )?;
        self.render(
            CONSENT,
            &ConsentPage {
                site: &site,
                client_name: "Client".into(),
                unverified: true,
                redirect_host: "127.0.0.1:3000".into(),
                redirect_note: Some("note".into()),
                scopes: vec![ScopeLine {
                    name: "s".into(),
                    description: Some("d".into()),
                }],
                resources: vec!["https://r.example".into()],
                issuer: "https://issuer.example",
                user_name: "user".into(),
                request_id: "ar_x",
                csrf_token: "t",
            },
        )?;
        self.render(
            ERROR,
            &ErrorPage {
                site: &site,
                title: "t",
                message: "m",
                retry_url: Some("signin".into()),
            },
        )?;
        self.render(
            SIGN_OUT,
            &SignOutPage {
                site: &site,
                csrf_token: "t",
            },
        )?;
        self.render(SIGNED_OUT, &PlainPage { site: &site })?;
        let nav = vec![NavLink {
            href: "docs/api".into(),
            title: "API".into(),
        }];
        self.render(
            HOME,
            &HomePage {
                site: &site,
                issuer: "https://issuer.example",
                documents: nav.clone(),
            },
        )?;
        self.render(
            DOCUMENT,
            &DocumentPage {
                site: &site,
                title: "t".into(),
                body: "<p>b</p>".into(),
                nav: nav.clone(),
            },
        )?;
        let sample = serde_json::json!({
            "info": {"title": "t", "version": "1", "description": "d"},
            "paths": {"/a": {"post": {"tags": ["x"], "summary": "s",
                "parameters": [{"name": "p", "in": "query", "schema": {"type": "string"}}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/S"}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "string"}}}}}}}},
            "components": {"schemas": {"S": {"type": "object", "properties": {"f": {"type": "string"}}}}}
        });
        self.render(OPENAPI, &OpenApiPage::from_document(&site, &sample, nav))?;
        Ok(())
    }
}

/// minijinja's error with its template position, on one line.
fn describe(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether `c` is invisible or changes the direction of the text around it: C0/C1 controls,
/// the bidirectional embeddings, overrides, isolates and marks, zero-width characters, and the
/// byte-order mark.
pub(crate) fn is_deceptive_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// The `visible` filter: every [`is_deceptive_char`] shown as `[U+XXXX]`. The result is still
/// HTML-escaped by autoescaping.
pub(crate) fn visible(value: String) -> String {
    if !value.chars().any(is_deceptive_char) {
        return value;
    }
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        if is_deceptive_char(c) {
            out.push_str(&format!("[U+{:04X}]", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> Templates {
        Templates::load(None).expect("built-in templates load")
    }

    fn site() -> Site {
        Site {
            product_name: "Acme <Auth>".into(),
            logo_url: None,
            stylesheet: "assets/pages.css?v=1".into(),
        }
    }

    fn consent(client_name: &str, unverified: bool, note: Option<&str>) -> String {
        let site = site();
        templates()
            .render(
                CONSENT,
                &ConsentPage {
                    site: &site,
                    client_name: client_name.into(),
                    unverified,
                    redirect_host: "127.0.0.1:53690".into(),
                    redirect_note: note.map(str::to_owned),
                    scopes: vec![
                        ScopeLine {
                            name: "mcp:tools".into(),
                            description: Some("Use your tools".into()),
                        },
                        ScopeLine {
                            name: "other".into(),
                            description: None,
                        },
                    ],
                    resources: vec!["https://mcp.example.com/mcp".into()],
                    issuer: "https://auth.example.com",
                    user_name: "alice".into(),
                    request_id: "ar_abc",
                    csrf_token: "tok",
                },
            )
            .expect("renders")
    }

    #[test]
    fn a_hostile_client_name_is_escaped() {
        let html = consent("<script>alert(1)</script>\"'&", true, None);
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(html.contains("&quot;&#x27;&amp;"), "{html}");
    }

    #[test]
    fn a_right_to_left_override_in_a_client_name_is_shown_not_obeyed() {
        let html = consent("Good\u{202E}exe.evil", false, None);
        assert!(!html.contains('\u{202E}'), "{html}");
        assert!(html.contains("Good[U+202E]exe.evil"), "{html}");
        assert!(html.contains("<bdi class=\"client\">"), "{html}");
    }

    #[test]
    fn a_dynamically_registered_client_is_marked_unverified() {
        let html = consent("Claude", true, None);
        assert!(
            html.contains("<span class=\"badge\">unverified</span>"),
            "{html}"
        );
        assert!(html.contains("has not checked"), "{html}");
        let html = consent("Claude", false, None);
        assert!(!html.contains("unverified"), "{html}");
    }

    #[test]
    fn the_loopback_note_and_the_host_are_shown() {
        let html = consent("Claude", true, Some("an application on this computer"));
        assert!(
            html.contains("<p class=\"host\"><bdi>127.0.0.1:53690</bdi></p>"),
            "{html}"
        );
        assert!(html.contains("an application on this computer"), "{html}");
    }

    #[test]
    fn the_consent_page_lists_scopes_resources_and_both_buttons() {
        let html = consent("Claude", true, None);
        assert!(
            html.contains("Use your tools <code>mcp:tools</code>"),
            "{html}"
        );
        assert!(html.contains("<code>other</code>"), "{html}");
        assert!(
            html.contains("<code>https:&#x2f;&#x2f;mcp.example.com&#x2f;mcp</code>"),
            "{html}"
        );
        assert!(html.contains("name=\"decision\" value=\"allow\""), "{html}");
        assert!(html.contains("name=\"decision\" value=\"deny\""), "{html}");
        assert!(html.contains("name=\"csrf_token\" value=\"tok\""), "{html}");
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html.contains("Acme &lt;Auth&gt;"), "{html}");
    }

    #[test]
    fn pages_have_no_inline_script_or_style() {
        let html = consent("Claude", true, None);
        for forbidden in ["<script", "style=", "<style", "onclick", "javascript:"] {
            assert!(!html.contains(forbidden), "{forbidden} in {html}");
        }
    }

    #[test]
    fn the_sign_in_form_labels_its_inputs_and_shows_the_error() {
        let site = site();
        let html = templates()
            .render(
                SIGN_IN,
                &SignInPage {
                    site: &site,
                    client_name: "Claude".into(),
                    unverified: true,
                    request_id: "ar_abc",
                    csrf_token: "tok",
                    username: "<b>alice</b>",
                    error: Some(authz_domain::users::INVALID_CREDENTIALS_MESSAGE),
                },
            )
            .expect("renders");
        assert!(html.contains("<label for=\"username\">"), "{html}");
        assert!(html.contains("<label for=\"password\">"), "{html}");
        assert!(html.contains("autocomplete=\"username\""), "{html}");
        assert!(html.contains("autocomplete=\"current-password\""), "{html}");
        assert!(
            html.contains("value=\"&lt;b&gt;alice&lt;&#x2f;b&gt;\""),
            "{html}"
        );
        assert!(html.contains("role=\"alert\""), "{html}");
    }

    #[test]
    fn an_override_replaces_one_template_and_a_broken_one_is_refused_at_start() {
        let dir = std::env::temp_dir().join(format!("authz-pages-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join(SIGNED_OUT),
            "{% extends \"base.html\" %}{% block content %}Bye from {{ product_name }}{% endblock %}",
        )
        .expect("write");
        let loaded = Templates::load(Some(&dir)).expect("override loads");
        let html = loaded
            .render(SIGNED_OUT, &PlainPage { site: &site() })
            .expect("renders");
        assert!(html.contains("Bye from Acme &lt;Auth&gt;"), "{html}");

        std::fs::write(dir.join(ERROR), "{{ no_such_variable }}").expect("write");
        let err = Templates::load(Some(&dir)).expect_err("refused");
        assert!(err.to_string().contains(ERROR), "{err}");
        std::fs::write(dir.join(ERROR), "{% if %}").expect("write");
        assert!(Templates::load(Some(&dir)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            Templates::load(Some(&dir)).is_err(),
            "a missing folder is refused"
        );
    }

    #[test]
    fn the_visible_filter_leaves_ordinary_text_alone() {
        assert_eq!(
            visible("Claude Desktop é 日本".into()),
            "Claude Desktop é 日本"
        );
        assert_eq!(visible("a\u{200B}b\u{2066}".into()), "a[U+200B]b[U+2066]");
    }
}
