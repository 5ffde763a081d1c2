//! The sign-in, consent and error pages: minijinja templates from `templates/`,
//! embedded at build time and overridable by a directory at run time
//! (`GATEHOUSE_TEMPLATES`), auto-escaped, served self-contained (no script, no
//! third-party resource) with anti-framing and no-store headers.

use std::path::Path;

use minijinja::Environment;
use salvo::http::StatusCode;
use salvo::http::header::{self, HeaderValue};
use salvo::prelude::*;
use serde::Serialize;

const TEMPLATES: [(&str, &str); 4] = [
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "sign_in.html",
        include_str!("../../../templates/sign_in.html"),
    ),
    (
        "consent.html",
        include_str!("../../../templates/consent.html"),
    ),
    ("error.html", include_str!("../../../templates/error.html")),
];

pub(super) struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// The embedded templates, each replaced by a file of the same name in `dir`.
    pub(super) fn new(dir: Option<&Path>) -> Pages {
        let mut env = Environment::new();
        for (name, embedded) in TEMPLATES {
            let source = dir
                .map(|d| d.join(name))
                .and_then(|p| std::fs::read_to_string(&p).ok())
                .unwrap_or_else(|| embedded.to_string());
            if let Err(e) = env.add_template_owned(name, source.clone()) {
                tracing::error!(template = name, error = %e, "template override does not compile; using the built-in one");
                env.add_template_owned(name, embedded.to_string())
                    .expect("the built-in templates compile");
            }
        }
        Pages { env }
    }

    /// Render a page into the response, with its security headers.
    pub(super) fn render(
        &self,
        res: &mut Response,
        status: StatusCode,
        name: &str,
        ctx: impl Serialize,
    ) {
        let html = self
            .env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(ctx)))
            .unwrap_or_else(|e| {
                tracing::error!(template = name, error = %e, "page failed to render");
                "<!doctype html><title>Error</title><p>Something went wrong. Start again from your app.</p>".into()
            });
        res.status_code(status);
        secure_headers(res);
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let _ = res.write_body(html);
    }
}

/// No framing (clickjacking on consent), no caching, no cross-site referrer,
/// nothing loaded from anywhere.
pub(super) fn secure_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: browsers then send `Origin: null` with the forms' POSTs,
    // which the origin rules (rightly) refuse. `same-origin` keeps the pending
    // request id out of the Referer of every cross-site request.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
}
