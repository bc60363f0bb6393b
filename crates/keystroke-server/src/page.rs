//! The collection page: a self-contained HTML, script and style sheet compiled into the binary
//! (no CDN, no build step), served at `/` and `/collect`. It records key presses in any browser
//! and calls /train and /predict as the mobile app does. Its headers forbid everything the page
//! does not need: scripts and styles from this server only (no inline script, no `eval`),
//! requests to this server only, no framing.

/// A file the server serves as it is.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    /// Its path on the server.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// The page.
pub static COLLECT_HTML: Asset = Asset {
    path: "/collect",
    content_type: "text/html; charset=utf-8",
    bytes: include_bytes!("../assets/collect.html"),
};

/// Its script.
pub static COLLECT_JS: Asset = Asset {
    path: "/collect.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../assets/collect.js"),
};

/// Its style sheet.
pub static COLLECT_CSS: Asset = Asset {
    path: "/collect.css",
    content_type: "text/css; charset=utf-8",
    bytes: include_bytes!("../assets/collect.css"),
};

/// Its icon.
pub static FAVICON: Asset = Asset {
    path: "/favicon.svg",
    content_type: "image/svg+xml",
    bytes: include_bytes!("../assets/favicon.svg"),
};

/// The asset at `path` (`/` is the page).
pub fn asset(path: &str) -> Option<&'static Asset> {
    match path {
        "/" => Some(&COLLECT_HTML),
        _ => [&COLLECT_HTML, &COLLECT_JS, &COLLECT_CSS, &FAVICON]
            .into_iter()
            .find(|a| a.path == path),
    }
}

/// `Content-Security-Policy` of every asset: this server's own script, style, images and
/// requests; nothing inline, no `eval`, no plugins, no framing, no form posts elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The headers every asset carries besides its type.
pub fn security_headers() -> [(&'static str, String); 5] {
    [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY.into()),
        ("X-Content-Type-Options", "nosniff".into()),
        ("Referrer-Policy", "no-referrer".into()),
        ("X-Frame-Options", "DENY".into()),
        ("Cache-Control", "no-cache".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_files_and_runs_no_inline_script() {
        let html = std::str::from_utf8(COLLECT_HTML.bytes).unwrap();
        assert!(html.contains(r#"<script src="/collect.js" defer></script>"#));
        assert!(html.contains(r#"<link rel="stylesheet" href="/collect.css">"#));
        assert!(html.contains(r#"<link rel="icon" href="/favicon.svg" type="image/svg+xml">"#));
        // No inline script, handler attribute or style, which the policy would block anyway.
        assert_eq!(html.matches("<script").count(), 1);
        for inline in [
            " onclick=",
            " onload=",
            " style=",
            "javascript:",
            "http://",
            "https://",
        ] {
            assert!(!html.contains(inline), "{inline}");
        }
        let js = std::str::from_utf8(COLLECT_JS.bytes).unwrap();
        for forbidden in ["eval(", "new Function", "innerHTML", "http://", "https://"] {
            assert!(!js.contains(forbidden), "{forbidden}");
        }
        assert_eq!(asset("/").unwrap().path, "/collect");
        assert_eq!(
            asset("/collect.js").unwrap().content_type,
            COLLECT_JS.content_type
        );
        assert!(asset("/collect.map").is_none());
    }
}
