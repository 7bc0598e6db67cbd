//! The landing page at `/`, the guides rendered as HTML under `/docs` (links between them and
//! their anchors resolve) and the browsable OpenAPI view, with the pages' security headers.

use crate::on_both_backends;

/// The `href` and `src` values of an HTML page, unescaped.
fn links_in(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for rest in html.split(attr).skip(1) {
            if let Some(value) = rest.split('"').next() {
                links.push(value.replace("&amp;", "&").replace("&#x2f;", "/"));
            }
        }
    }
    links
}

fn assert_page_headers(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().expect("ascii");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{what}: {csp}"
    );
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
}

on_both_backends! {
    async fn the_landing_page_and_every_document_it_leads_to_are_html_whose_links_resolve(backend: Backend) {
        let app = crate::helpers::spawn_app(backend).await;
        let base = reqwest::Url::parse(&format!("{}/", app.address)).expect("base URL");
        // Every page reachable from `/` on this server, each fetched once (bounded).
        let mut queue = vec![base.clone()];
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut pages: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let mut fragments: Vec<(String, String, String)> = Vec::new();
        while let Some(url) = queue.pop() {
            let mut bare = url.clone();
            bare.set_fragment(None);
            if !seen.insert(bare.to_string()) {
                continue;
            }
            assert!(seen.len() < 60, "too many pages: {seen:?}");
            let res = app.http.get(bare.clone()).send().await.expect("request");
            assert_eq!(res.status(), 200, "{bare}");
            let content_type = res.headers()["content-type"].to_str().expect("ascii").to_owned();
            if !content_type.starts_with("text/html") {
                continue;
            }
            assert!(content_type.contains("charset=utf-8"), "{bare}: {content_type}");
            assert_page_headers(&res, bare.as_str());
            let html = res.text().await.expect("body");
            assert!(html.starts_with("<!doctype html>"), "{bare}");
            for link in links_in(&html) {
                let target = bare.join(&link).unwrap_or_else(|e| panic!("{bare}: {link}: {e}"));
                if target.origin() != base.origin() {
                    continue;
                }
                if let Some(fragment) = target.fragment() {
                    let mut page = target.clone();
                    page.set_fragment(None);
                    fragments.push((bare.to_string(), page.to_string(), fragment.to_owned()));
                }
                queue.push(target);
            }
            pages.insert(bare.to_string(), html);
        }
        for expected in ["docs/api", "docs/operations", "docs/configuration", "docs/openapi", "docs/images/sign-in.png", ".well-known/oauth-authorization-server", "openapi.json", "health"] {
            assert!(seen.contains(base.join(expected).expect("url").as_str()), "{expected} is linked: {seen:?}");
        }
        for (from, page, fragment) in fragments {
            let html = pages.get(&page).unwrap_or_else(|| panic!("{from}: {page} is a page"));
            assert!(html.contains(&format!("id=\"{fragment}\"")), "{from} → {page}#{fragment}: no such anchor");
        }
        let home = &pages[base.as_str()];
        assert!(home.contains(&app.settings.pages.product_name), "{home}");
    }

    async fn the_docs_are_rendered_markdown_and_the_openapi_view_lists_every_operation(backend: Backend) {
        let app = crate::helpers::spawn_app(backend).await;
        let metadata: serde_json::Value = app.http.get(app.url("/.well-known/oauth-authorization-server"))
            .send().await.expect("request").json().await.expect("JSON");
        let guide = metadata["service_documentation"].as_str().expect("service_documentation");
        let res = app.http.get(guide).send().await.expect("request");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        let html = res.text().await.expect("body");
        assert!(html.contains("<h1 id="), "headings are HTML: {}", &html[..html.len().min(2000)]);
        assert!(html.contains("<code>"), "code spans are HTML");
        assert!(!html.contains("\n## "), "no Markdown left");

        let spec: serde_json::Value = app.http.get(app.url("/openapi.json")).send().await
            .expect("request").json().await.expect("JSON");
        let res = app.http.get(app.url("/docs/openapi")).send().await.expect("request");
        assert_eq!(res.status(), 200);
        assert_page_headers(&res, "/docs/openapi");
        let view = res.text().await.expect("body");
        let mut count = 0;
        for (path, item) in spec["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("item").keys() {
                let shown = format!("<code>{} {}</code>", method.to_uppercase(), path.replace('/', "&#x2f;"));
                assert!(view.contains(&shown), "{shown} is listed");
                count += 1;
            }
        }
        assert!(count >= 10, "{count} operations");
        for schema in spec["components"]["schemas"].as_object().expect("schemas").keys() {
            assert!(view.contains(&format!("id=\"schema-{schema}\"")), "schema {schema} is shown");
        }

        let res = app.http.get(app.url("/docs/no-such-page")).send().await.expect("request");
        assert_eq!(res.status(), 404);
        assert!(res.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
        let res = app.http.get(app.url("/docs/images/nope.png")).send().await.expect("request");
        assert_eq!(res.status(), 404);
    }
}
