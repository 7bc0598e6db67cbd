//! The operator's and integrator's documentation, served as HTML: a landing page at `/`, the
//! guides of `docs/*.md` under `/docs` (the API guide at `/docs` itself, the
//! `service_documentation` of the metadata), their images, and a browsable view of the OpenAPI
//! document at `/docs/openapi`. Everything is rendered on the server (no script: the pages'
//! Content-Security-Policy forbids them) and carries the pages' security headers.
//!
//! Markdown is rendered with `pulldown-cmark`. Raw HTML in a document is shown as text, never
//! passed through; links between documents (`operations.md#user-accounts`) become links between
//! pages (`/docs/operations#user-accounts`, written relative so the pages work under any path),
//! headings get GitHub's anchors, and a link to a file that is not served becomes plain text.

use actix_web::http::{header, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use pulldown_cmark::{CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

use super::handlers::render_page;
use super::templates::{
    DocumentPage, ErrorPage, HomePage, NavLink, OpenApiPage, Site, DOCUMENT, ERROR, HOME, OPENAPI,
};
use super::{security, PagesState};

/// One served document: its slug (`/docs/{slug}`), its file name in `docs/` and its Markdown.
#[derive(Debug, Clone, Copy)]
pub struct Document {
    /// The last segment of its URL.
    pub slug: &'static str,
    /// Its file name in `docs/`, as other documents link to it.
    pub file: &'static str,
    /// The Markdown source, compiled in.
    pub markdown: &'static str,
}

/// Every document served, in the order of the navigation.
pub const DOCUMENTS: &[Document] = &[
    Document {
        slug: "api",
        file: "api.md",
        markdown: include_str!("../../../../docs/api.md"),
    },
    Document {
        slug: "authorization",
        file: "authorization.md",
        markdown: include_str!("../../../../docs/authorization.md"),
    },
    Document {
        slug: "mcp",
        file: "mcp.md",
        markdown: include_str!("../../../../docs/mcp.md"),
    },
    Document {
        slug: "resource-servers",
        file: "resource-servers.md",
        markdown: include_str!("../../../../docs/resource-servers.md"),
    },
    Document {
        slug: "operations",
        file: "operations.md",
        markdown: include_str!("../../../../docs/operations.md"),
    },
    Document {
        slug: "configuration",
        file: "configuration.md",
        markdown: include_str!("../../../../docs/configuration.md"),
    },
    Document {
        slug: "security",
        file: "security.md",
        markdown: include_str!("../../../../docs/security.md"),
    },
    Document {
        slug: "performance",
        file: "performance.md",
        markdown: include_str!("../../../../docs/performance.md"),
    },
    Document {
        slug: "architecture",
        file: "ARCHITECTURE.md",
        markdown: include_str!("../../../../docs/ARCHITECTURE.md"),
    },
];

/// The images the documents show (`docs/images`), served at `/docs/images/{name}`.
const IMAGES: &[(&str, &[u8])] = &[
    (
        "sign-in.png",
        include_bytes!("../../../../docs/images/sign-in.png"),
    ),
    (
        "consent.png",
        include_bytes!("../../../../docs/images/consent.png"),
    ),
];

/// The OpenAPI document (v3, as JSON) the `/docs/openapi` view shows; `build_app` registers it.
#[derive(Debug, Clone)]
pub struct OpenApiDocument(pub serde_json::Value);

/// Mounts `/`, `/docs`, `/docs/{page}` and `/docs/images/{name}`.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/")
            .wrap(from_fn(security::page_headers))
            .route(web::get().to(home)),
    )
    .service(
        web::resource("/docs")
            .wrap(from_fn(security::page_headers))
            .route(web::get().to(api_guide)),
    )
    .service(
        web::resource("/docs/images/{name}")
            .wrap(from_fn(security::page_headers))
            .route(web::get().to(image)),
    )
    .service(
        web::resource("/docs/{page}")
            .wrap(from_fn(security::page_headers))
            .route(web::get().to(document)),
    );
}

type State = web::Data<PagesState>;

/// The site of a page `depth` folders below the root (`/docs/x` is 1): the stylesheet's
/// relative URL climbs back to the root.
fn site_at(state: &PagesState, depth: usize) -> Site {
    let mut site = state.site.clone();
    site.stylesheet = format!("{}{}", "../".repeat(depth), site.stylesheet);
    site
}

/// The navigation, relative to a page whose links start with `prefix`.
fn navigation(prefix: &str) -> Vec<NavLink> {
    let mut nav: Vec<NavLink> = DOCUMENTS
        .iter()
        .map(|d| NavLink {
            href: format!("{prefix}{}", d.slug),
            title: title_of(d.markdown),
        })
        .collect();
    nav.push(NavLink {
        href: format!("{prefix}openapi"),
        title: "OpenAPI reference".into(),
    });
    nav
}

/// `GET /`: what this server is and where to go next.
async fn home(state: State) -> HttpResponse {
    let site = site_at(&state, 0);
    let page = HomePage {
        site: &site,
        issuer: &state.settings.issuer,
        documents: navigation("docs/"),
    };
    cached(render_page(&state, StatusCode::OK, HOME, &page))
}

/// `GET /docs`: the API guide (the metadata's `service_documentation`).
async fn api_guide(state: State) -> HttpResponse {
    show(&state, &DOCUMENTS[0], "docs/", 0)
}

/// `GET /docs/{page}`: a guide, or the OpenAPI view.
async fn document(
    state: State,
    page: web::Path<String>,
    openapi: Option<web::Data<OpenApiDocument>>,
) -> HttpResponse {
    let slug = page.into_inner();
    if slug == "openapi" {
        return match openapi {
            Some(doc) => {
                let site = site_at(&state, 1);
                let view = OpenApiPage::from_document(&site, &doc.0, navigation(""));
                cached(render_page(&state, StatusCode::OK, OPENAPI, &view))
            }
            None => not_found(&state),
        };
    }
    match DOCUMENTS.iter().find(|d| d.slug == slug) {
        Some(doc) => show(&state, doc, "", 1),
        None => not_found(&state),
    }
}

fn show(state: &PagesState, doc: &Document, prefix: &str, depth: usize) -> HttpResponse {
    let site = site_at(state, depth);
    let page = DocumentPage {
        site: &site,
        title: title_of(doc.markdown),
        body: render_markdown(doc.markdown, prefix),
        nav: navigation(prefix),
    };
    cached(render_page(state, StatusCode::OK, DOCUMENT, &page))
}

/// `GET /docs/images/{name}`.
async fn image(state: State, name: web::Path<String>) -> HttpResponse {
    match IMAGES.iter().find(|(n, _)| *n == name.as_str()) {
        Some((_, bytes)) => HttpResponse::Ok()
            .content_type("image/png")
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(*bytes),
        None => not_found(&state),
    }
}

/// The 404 page of a path under `/docs/` (its stylesheet is one folder up).
fn not_found(state: &PagesState) -> HttpResponse {
    let site = site_at(state, 1);
    let page = ErrorPage {
        site: &site,
        title: "This page does not exist",
        message: "there is no such page; the guides are listed at /docs",
        retry_url: None,
    };
    render_page(state, StatusCode::NOT_FOUND, ERROR, &page)
}

/// The documents change only with the binary: let browsers and proxies keep them a while.
fn cached(mut response: HttpResponse) -> HttpResponse {
    if response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, max-age=300"),
        );
    }
    response
}

/// The text of the first level-1 heading, or "Documentation".
pub fn title_of(markdown: &str) -> String {
    let mut in_title = false;
    let mut title = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1,
                ..
            }) => in_title = true,
            Event::End(TagEnd::Heading(HeadingLevel::H1)) => break,
            Event::Text(t) | Event::Code(t) if in_title => title.push_str(&t),
            _ => {}
        }
    }
    if title.is_empty() {
        "Documentation".into()
    } else {
        title
    }
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, punctuation other than `-` and `_`
/// dropped.
pub fn anchor_of(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Where a link of a document points when served: another document (`prefix` + slug), an image
/// (`prefix` + `images/…`), an anchor or a web address as written; `None` for a file that is
/// not served (the link becomes text).
pub fn served_target(dest: &str, prefix: &str) -> Option<String> {
    if dest.starts_with('#')
        || dest.starts_with("https://")
        || dest.starts_with("http://")
        || dest.starts_with("mailto:")
    {
        return Some(dest.to_owned());
    }
    if let Some(image) = dest.strip_prefix("images/") {
        return IMAGES
            .iter()
            .any(|(n, _)| *n == image)
            .then(|| format!("{prefix}{dest}"));
    }
    let (file, fragment) = match dest.split_once('#') {
        Some((f, frag)) => (f, Some(frag)),
        None => (dest, None),
    };
    let doc = DOCUMENTS.iter().find(|d| d.file == file)?;
    Some(match fragment {
        Some(f) => format!("{prefix}{}#{f}", doc.slug),
        None => format!("{prefix}{}", doc.slug),
    })
}

/// The HTML of a document; links are written relative to a page whose document links start
/// with `prefix` (`"docs/"` at `/docs`, `""` at `/docs/{page}`).
pub fn render_markdown(markdown: &str, prefix: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut events: Vec<Event<'_>> = Vec::new();
    // Whether each open link is kept (a link to a file that is not served is dropped).
    let mut links: Vec<bool> = Vec::new();
    for event in Parser::new_ext(markdown, options) {
        match event {
            // Raw HTML is shown as text, never interpreted.
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => match served_target(&dest_url, prefix) {
                Some(target) => {
                    links.push(true);
                    events.push(Event::Start(Tag::Link {
                        link_type,
                        dest_url: CowStr::from(target),
                        title,
                        id,
                    }));
                }
                None => links.push(false),
            },
            Event::End(TagEnd::Link) => {
                if links.pop().unwrap_or(false) {
                    events.push(Event::End(TagEnd::Link));
                }
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let target = served_target(&dest_url, prefix).unwrap_or_default();
                events.push(Event::Start(Tag::Image {
                    link_type,
                    dest_url: CowStr::from(target),
                    title,
                    id,
                }));
            }
            other => events.push(other),
        }
    }
    add_heading_anchors(&mut events);
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html
}

/// Gives every heading GitHub's anchor as its `id` (`-1`, `-2` … for repeats), so
/// `operations.md#user-accounts` lands on its section.
fn add_heading_anchors(events: &mut [Event<'_>]) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for i in 0..events.len() {
        if !matches!(events[i], Event::Start(Tag::Heading { .. })) {
            continue;
        }
        let mut text = String::new();
        for event in &events[i + 1..] {
            match event {
                Event::End(TagEnd::Heading(_)) => break,
                Event::Text(t) | Event::Code(t) => text.push_str(t),
                _ => {}
            }
        }
        let base = anchor_of(&text);
        let count = seen.entry(base.clone()).or_insert(0);
        let anchor = if *count == 0 {
            base
        } else {
            format!("{base}-{count}")
        };
        *count += 1;
        if let Event::Start(Tag::Heading { id, .. }) = &mut events[i] {
            *id = Some(CowStr::from(anchor));
        }
    }
}

/// Every anchor the headings of `markdown` get.
pub fn anchors_of(markdown: &str) -> Vec<String> {
    let html = render_markdown(markdown, "");
    html.split(" id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// Every link destination of `markdown` as written (for tests of the documents' links).
pub fn links_of(markdown: &str) -> Vec<String> {
    Parser::new_ext(markdown, Options::ENABLE_TABLES)
        .filter_map(|e| match e {
            Event::Start(Tag::Link {
                link_type: LinkType::Inline | LinkType::Reference | LinkType::Shortcut,
                dest_url,
                ..
            })
            | Event::Start(Tag::Image { dest_url, .. }) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render_markdown(
            "# T\n\n<script>alert(1)</script>\n\nx <b onclick=y>z</b>",
            "",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn links_between_documents_become_links_between_pages() {
        let html = render_markdown(
            "See [ops](operations.md#user-accounts), [api](api.md), [e2e](../tests/e2e/README.md), \
             [web](https://example.com/) and [bad](javascript:alert(1)).",
            "docs/",
        );
        assert!(
            html.contains(r#"<a href="docs/operations#user-accounts">ops</a>"#),
            "{html}"
        );
        assert!(html.contains(r#"<a href="docs/api">api</a>"#), "{html}");
        assert!(html.contains(" e2e,"), "{html}");
        assert!(!html.contains("README"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.com/">web</a>"#),
            "{html}"
        );
        assert!(!html.contains("javascript"), "{html}");
    }

    #[test]
    fn headings_get_github_anchors() {
        assert_eq!(
            anchor_of("Signing keys and the key-encryption key"),
            "signing-keys-and-the-key-encryption-key"
        );
        assert_eq!(
            anchor_of("`POST /register` (RFC 7591)"),
            "post-register-rfc-7591"
        );
        let html = render_markdown("## A b\n\n## A b\n", "");
        assert!(html.contains(r#"<h2 id="a-b">"#), "{html}");
        assert!(html.contains(r#"<h2 id="a-b-1">"#), "{html}");
    }

    #[test]
    fn every_link_between_documents_lands_on_a_heading() {
        for doc in DOCUMENTS {
            for dest in links_of(doc.markdown) {
                if dest.starts_with("http") || dest.starts_with("../") {
                    continue;
                }
                let target = served_target(&dest, "")
                    .unwrap_or_else(|| panic!("{}: {dest} is not served", doc.file));
                let (slug, anchor) = match target.split_once('#') {
                    Some((s, a)) => (s, Some(a)),
                    None => (target.as_str(), None),
                };
                let Some(anchor) = anchor else { continue };
                let markdown = if slug.is_empty() {
                    doc.markdown
                } else {
                    DOCUMENTS
                        .iter()
                        .find(|d| d.slug == slug)
                        .map(|d| d.markdown)
                        .unwrap_or_else(|| panic!("{}: {dest}", doc.file))
                };
                assert!(
                    anchors_of(markdown).iter().any(|a| a == anchor),
                    "{}: {dest}: no heading has the anchor {anchor}",
                    doc.file
                );
            }
        }
    }
}
