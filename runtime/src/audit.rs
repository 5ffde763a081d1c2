//! The audit log (issue 12): a durable record of every security-relevant step
//! of the authorization server — sign-in (success, failure, lockout), sign-up,
//! sign-out, registration, consent, code and refresh exchanges, refresh-token
//! reuse, revocation, key rotation — with who, which client, from which
//! address and user agent, and how it ended. Read with `SERVER audit list`.
//!
//! The address and user agent come from the request being served: the
//! `ClientAddresses` hoop runs each request inside [`Caller::scope`], so code
//! deep in the OAuth server records them without passing them along.
//! Recording never fails a request: a store error is logged and the request
//! goes on. Nothing secret is ever recorded (no tokens, codes, passwords).

use std::net::IpAddr;

use crate::store::{AuditRow, Store, now_ms};

/// Who is calling: set per request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub address: IpAddr,
    /// As sent (a cheap reference-counted copy; read only when recording).
    pub user_agent: Option<salvo::http::HeaderValue>,
}

tokio::task_local! {
    static CALLER: Caller;
}

impl Caller {
    /// Run `f` with this caller as the current one.
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        CALLER.scope(self, f).await
    }

    fn current() -> Option<Caller> {
        CALLER.try_with(Caller::clone).ok()
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    SignIn,
    SignUp,
    SignOut,
    Registration,
    Consent,
    CodeExchange,
    Refresh,
    RefreshReuse,
    Revocation,
    KeyRotation,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SignIn => "sign_in",
            Event::SignUp => "sign_up",
            Event::SignOut => "sign_out",
            Event::Registration => "registration",
            Event::Consent => "consent",
            Event::CodeExchange => "code_exchange",
            Event::Refresh => "refresh",
            Event::RefreshReuse => "refresh_reuse",
            Event::Revocation => "revocation",
            Event::KeyRotation => "key_rotation",
        }
    }
}

/// One event to record; fill in what is known.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event: Event,
    /// `success`, `failure`, `locked`, `denied`, `refused`…
    pub outcome: &'static str,
    pub user_id: Option<String>,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub detail: Option<String>,
}

impl Entry {
    pub fn new(event: Event, outcome: &'static str) -> Entry {
        Entry {
            event,
            outcome,
            user_id: None,
            subject: None,
            client_id: None,
            detail: None,
        }
    }

    pub fn user(mut self, id: impl Into<String>) -> Entry {
        self.user_id = Some(id.into());
        self
    }

    pub fn subject(mut self, s: impl Into<String>) -> Entry {
        self.subject = Some(s.into());
        self
    }

    pub fn client(mut self, id: impl Into<String>) -> Entry {
        self.client_id = Some(id.into());
        self
    }

    pub fn detail(mut self, d: impl Into<String>) -> Entry {
        self.detail = Some(d.into());
        self
    }
}

/// Bounded text: what a caller sends is not stored unbounded.
fn bounded(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Record `entry` with the current caller (if any).
pub async fn record(store: &Store, entry: Entry) {
    let caller = Caller::current();
    let row = AuditRow {
        id: 0,
        at: now_ms(),
        event: entry.event.as_str().to_string(),
        outcome: entry.outcome.to_string(),
        user_id: entry.user_id,
        subject: entry.subject.map(|s| bounded(s, 320)),
        client_id: entry.client_id.map(|s| bounded(s, 512)),
        address: caller.as_ref().map(|c| c.address.to_string()),
        user_agent: caller
            .and_then(|c| c.user_agent)
            .map(|v| bounded(String::from_utf8_lossy(v.as_bytes()).into_owned(), 512)),
        detail: entry.detail.map(|s| bounded(s, 1000)),
    };
    tracing::info!(target: "gatehouse::audit", event = row.event, outcome = row.outcome,
        user = ?row.user_id, client = ?row.client_id, address = ?row.address, "audit");
    if let Err(e) = store.insert_audit(&row).await {
        tracing::warn!(error = %e, event = row.event, "could not record an audit event");
    }
}
