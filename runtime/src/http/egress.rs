//! Outbound HTTP: the one client through which the server calls other servers
//! (upstream identity providers' discovery, JWKS, token, userinfo and GitHub's
//! API). Every call follows the same rules (IDENTITY.md U-10):
//!
//! - https only; plain http only to a loopback address, for local development;
//! - redirects are never followed (a 3xx is an error: the configured URL is the
//!   one trusted, not wherever it points);
//! - a connect timeout and an overall deadline;
//! - a cap on the size of the answer, enforced while reading it.

use std::time::Duration;

use bytes::Bytes;
use url::Url;

/// Limits of outbound calls.
#[derive(Debug, Clone)]
pub struct EgressLimits {
    /// Connecting (TCP and TLS).
    pub connect_timeout: Duration,
    /// The whole call, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// The largest answer read, in bytes.
    pub max_body: usize,
}

impl Default for EgressLimits {
    fn default() -> Self {
        EgressLimits {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_body: 256 * 1024,
        }
    }
}

/// Why an outbound call did not give an answer to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("`{0}` is not allowed: only https, or http to a loopback address")]
    NotAllowed(String),
    #[error("could not reach {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("{host} did not answer within {seconds} s")]
    TimedOut { host: String, seconds: u64 },
    #[error("{host} answered with a redirect ({status}); redirects are not followed")]
    Redirected { host: String, status: u16 },
    #[error("{host} answered with more than {limit} bytes")]
    TooLarge { host: String, limit: usize },
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct EgressResponse {
    pub status: u16,
    pub content_type: Option<String>,
    /// `Cache-Control`, for callers that cache what they fetched.
    pub cache_control: Option<String>,
    pub body: Bytes,
}

impl EgressResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether the answer says it is JSON (`application/json`, `…+json`).
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|c| {
            let essence = c
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
    }
}

/// The outbound client; cheap to clone.
#[derive(Clone)]
pub struct Egress {
    client: reqwest::Client,
    limits: EgressLimits,
    /// Certificate authorities trusted besides the public ones, by pinned
    /// fetches (test-only: see `DocumentSettings::trusted_roots`).
    roots: Vec<reqwest::Certificate>,
}

/// Whether a URL may be called: https, or http to a loopback address.
pub fn check_url(url: &Url) -> Result<(), EgressError> {
    let loopback = url
        .host()
        .is_some_and(|h| gatehouse_specs::redirect::is_loopback_host(&h));
    let ok = match url.scheme() {
        "https" => url.host().is_some(),
        "http" => loopback,
        _ => false,
    };
    if ok && url.username().is_empty() && url.password().is_none() {
        Ok(())
    } else {
        Err(EgressError::NotAllowed(redact(url)))
    }
}

/// A URL fit for a message: no query (it may hold codes or tokens), no user info.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.to_string(),
    }
}

impl Egress {
    pub fn new(limits: EgressLimits) -> Egress {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.timeout)
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initializes");
        Egress {
            client,
            limits,
            roots: Vec::new(),
        }
    }

    /// As [`Egress::new`], with `roots` trusted by [`Egress::get_pinned`]
    /// besides the public certificate authorities.
    pub fn with_roots(limits: EgressLimits, roots: Vec<reqwest::Certificate>) -> Egress {
        Egress {
            roots,
            ..Egress::new(limits)
        }
    }

    /// `GET url` with `headers`.
    pub async fn get(
        &self,
        url: &Url,
        headers: &[(&str, &str)],
    ) -> Result<EgressResponse, EgressError> {
        check_url(url)?;
        let mut req = self.client.get(url.clone());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(url, req).await
    }

    /// `GET url` connecting only to `addr` (the address its host was resolved
    /// to and checked at, so a second lookup cannot point elsewhere: DNS
    /// rebinding), reading at most `max_body` bytes. The URL's scheme rules
    /// are the caller's.
    pub async fn get_pinned(
        &self,
        url: &Url,
        addr: std::net::SocketAddr,
        max_body: usize,
        headers: &[(&str, &str)],
    ) -> Result<EgressResponse, EgressError> {
        let host = url
            .host_str()
            .ok_or_else(|| EgressError::NotAllowed(redact(url)))?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.limits.connect_timeout)
            .timeout(self.limits.timeout)
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .resolve(host, addr);
        for root in &self.roots {
            builder = builder.add_root_certificate(root.clone());
        }
        let client = builder.build().map_err(|e| EgressError::Unreachable {
            host: host.to_string(),
            reason: e.to_string(),
        })?;
        let limited = Egress {
            client,
            limits: EgressLimits {
                max_body,
                ..self.limits.clone()
            },
            roots: Vec::new(),
        };
        let mut req = limited.client.get(url.clone());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        limited.send(url, req).await
    }

    /// `POST url` with a form body and `headers`.
    pub async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<EgressResponse, EgressError> {
        check_url(url)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self
            .client
            .post(url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(url, req).await
    }

    async fn send(
        &self,
        url: &Url,
        req: reqwest::RequestBuilder,
    ) -> Result<EgressResponse, EgressError> {
        let host = host_of(url);
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                EgressError::TimedOut {
                    host: host.clone(),
                    seconds: self.limits.timeout.as_secs().max(1),
                }
            } else {
                // The chain without the URL (it may carry a query).
                let mut reason = String::new();
                let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
                while let Some(s) = source {
                    reason = s.to_string();
                    source = s.source();
                }
                if reason.is_empty() {
                    reason = "connection failed".into();
                }
                EgressError::Unreachable {
                    host: host.clone(),
                    reason,
                }
            }
        };
        let mut res = req.send().await.map_err(failed)?;
        let status = res.status().as_u16();
        if (300..400).contains(&status) {
            return Err(EgressError::Redirected { host, status });
        }
        let limit = self.limits.max_body;
        if res.content_length().is_some_and(|n| n as usize > limit) {
            return Err(EgressError::TooLarge { host, limit });
        }
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type");
        let cache_control = header("cache-control");
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > limit {
                return Err(EgressError::TooLarge { host, limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(EgressResponse {
            status,
            content_type,
            cache_control,
            body: body.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A one-shot HTTP server on loopback answering every connection with `answer`
    /// (after `delay`).
    async fn serve(answer: Vec<u8>, delay: Duration) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    tokio::time::sleep(delay).await;
                    let _ = sock.write_all(&answer).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Url::parse(&format!("http://{addr}/x?code=secret")).unwrap()
    }

    fn quick() -> Egress {
        Egress::new(EgressLimits {
            connect_timeout: Duration::from_millis(500),
            timeout: Duration::from_millis(700),
            max_body: 1024,
        })
    }

    // U-10: https only, loopback http for development, never user info.
    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://accounts.google.com/x",
            "http://127.0.0.1:8080/x",
            "http://127.0.0.2/x",
            "http://localhost/x",
            "http://[::1]:9/x",
        ] {
            assert!(check_url(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/x",
            "http://10.0.0.1/x",
            "ftp://127.0.0.1/x",
            "file:///etc/passwd",
            "https://user:pw@example.com/x",
        ] {
            let e = check_url(&Url::parse(bad).unwrap()).unwrap_err();
            assert!(matches!(e, EgressError::NotAllowed(_)), "{bad}");
            assert!(!e.to_string().contains("pw@"), "no credentials in messages");
        }
    }

    // U-10: redirects are not followed.
    #[tokio::test]
    async fn redirects_are_refused() {
        let url = serve(
            b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n".to_vec(),
            Duration::ZERO,
        )
        .await;
        let e = quick().get(&url, &[]).await.unwrap_err();
        assert!(
            matches!(e, EgressError::Redirected { status: 302, .. }),
            "{e}"
        );
    }

    // U-10: a size cap, whether the length is announced or not.
    #[tokio::test]
    async fn answers_are_capped() {
        let big = vec![b'x'; 4096];
        let mut announced = b"HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n".to_vec();
        announced.extend_from_slice(&big);
        let e = quick()
            .get(&serve(announced, Duration::ZERO).await, &[])
            .await
            .unwrap_err();
        assert!(
            matches!(e, EgressError::TooLarge { limit: 1024, .. }),
            "{e}"
        );
        let mut unannounced = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
        unannounced.extend_from_slice(&big);
        let e = quick()
            .get(&serve(unannounced, Duration::ZERO).await, &[])
            .await
            .unwrap_err();
        assert!(matches!(e, EgressError::TooLarge { .. }), "{e}");
        let ok =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        let r = quick()
            .get(&serve(ok.to_vec(), Duration::ZERO).await, &[])
            .await
            .unwrap();
        assert!(r.is_success() && r.is_json());
        assert_eq!(&r.body[..], b"{}");
    }

    // U-10: a server that does not answer costs at most the deadline.
    #[tokio::test]
    async fn slow_servers_time_out() {
        let url = serve(
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
            Duration::from_secs(5),
        )
        .await;
        let started = std::time::Instant::now();
        let e = quick().get(&url, &[]).await.unwrap_err();
        assert!(matches!(e, EgressError::TimedOut { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        let down = Url::parse("http://127.0.0.1:1/x").unwrap();
        let e = quick().get(&down, &[]).await.unwrap_err();
        assert!(matches!(e, EgressError::Unreachable { .. }), "{e}");
        assert!(!e.to_string().contains("code=secret"));
    }
}
