//! A browser for the upstream sign-in tests: its own cookie jar (so another
//! `Browser` is another browser), no automatic redirects (tests see each hop),
//! and a walk that follows redirects and signs in on a provider's login form.

use url::Url;

use crate::oauth::Page;

pub struct Browser {
    pub http: reqwest::Client,
}

/// Where a walk ended.
#[derive(Debug)]
pub enum Walk {
    /// About to request this URL (which starts with the walk's `stop`).
    Reached(String),
    /// A page that is not a redirect (and not a provider's login form).
    Page(Page),
}

impl Walk {
    pub fn reached(self) -> String {
        match self {
            Walk::Reached(u) => u,
            Walk::Page(p) => panic!("the walk ended on a page: {} {}", p.status, p.html),
        }
    }

    pub fn page(self) -> Page {
        match self {
            Walk::Page(p) => p,
            Walk::Reached(u) => panic!("the walk reached {u} instead of a page"),
        }
    }
}

async fn read(r: reqwest::Response) -> Page {
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap_or_default(),
    }
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        read(self.http.get(url).send().await.expect("GET")).await
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Page {
        read(self.http.post(url).form(form).send().await.expect("POST")).await
    }

    /// Follow redirects from `url`. On a provider's login form, sign in as
    /// `login`. Stops before requesting a URL starting with `stop`, or at a page
    /// that is not a redirect.
    pub async fn walk(&self, url: &str, login: &str, stop: &str) -> Walk {
        let mut current = Url::parse(url).expect("an absolute URL");
        for _ in 0..20 {
            if current.as_str().starts_with(stop) {
                return Walk::Reached(current.to_string());
            }
            let page = self.get(current.as_str()).await;
            if page.status.is_redirection() {
                let to = page.location().expect("a redirect has a location");
                current = current.join(&to).expect("a location URL");
                continue;
            }
            let login_form = page.html.find("action=\"/interaction/").map(|start| {
                let rest = &page.html[start + "action=\"".len()..];
                rest[..rest.find('"').expect("a closed attribute")].to_string()
            });
            match login_form {
                Some(action) if page.html.contains("name=\"login\"") => {
                    let target = current.join(&action).expect("a form action");
                    let posted = self.post_form(target.as_str(), &[("login", login)]).await;
                    assert!(
                        posted.status.is_redirection(),
                        "the provider's login: {} {}",
                        posted.status,
                        posted.html
                    );
                    current = target
                        .join(&posted.location().expect("a location"))
                        .expect("a location URL");
                }
                _ => return Walk::Page(page),
            }
        }
        panic!("more than 20 redirects from {url}");
    }
}
