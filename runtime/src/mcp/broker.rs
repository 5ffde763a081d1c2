//! Signals between the processes serving one database: a new event on a stream,
//! a cancellation, a client's answer, a stream taken over, a session deleted. In
//! one process they travel on a broadcast channel; with PostgreSQL every process
//! also LISTENs on one channel and re-broadcasts what others NOTIFY.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::store::{Backend, NOTIFY_CHANNEL, Store};

/// One signal. The text form (`E s1 g 7`) is what PostgreSQL carries; session and
/// stream ids are visible ASCII without spaces, request keys come last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal {
    /// `E`: stream `stream` of `session` has events up to `seq` (or ended).
    Event {
        session: String,
        stream: String,
        seq: i64,
    },
    /// `C`: the client cancelled request `request` (its id key).
    Cancel { session: String, request: String },
    /// `R`: the client's answer to server request `request` is in the store.
    Response { session: String, request: String },
    /// `T`: a new connection took over a stream; others holding it close.
    Takeover {
        session: String,
        stream: String,
        holder: String,
    },
    /// `D`: the session is gone; close its streams.
    Deleted { session: String },
    /// `S`: signals may have been missed (the listener reconnected); stream
    /// readers look at the log again.
    Resync,
    /// `U`: resource `uri` changed (2026-07-28 `subscriptions/listen`
    /// streams on every process tell their subscribers).
    Updated { uri: String },
}

impl Signal {
    pub(crate) fn encode(&self) -> String {
        match self {
            Signal::Event {
                session,
                stream,
                seq,
            } => format!("E {session} {stream} {seq}"),
            Signal::Cancel { session, request } => format!("C {session} {request}"),
            Signal::Response { session, request } => format!("R {session} {request}"),
            Signal::Takeover {
                session,
                stream,
                holder,
            } => format!("T {session} {stream} {holder}"),
            Signal::Deleted { session } => format!("D {session}"),
            Signal::Resync => "S".to_string(),
            Signal::Updated { uri } => format!("U {uri}"),
        }
    }

    pub(crate) fn decode(text: &str) -> Option<Signal> {
        if text == "S" {
            return Some(Signal::Resync);
        }
        let (kind, rest) = text.split_once(' ')?;
        match kind {
            "U" => Some(Signal::Updated {
                uri: rest.to_string(),
            }),
            "E" => {
                let mut p = rest.splitn(3, ' ');
                Some(Signal::Event {
                    session: p.next()?.to_string(),
                    stream: p.next()?.to_string(),
                    seq: p.next()?.parse().ok()?,
                })
            }
            "C" | "R" => {
                let (session, request) = rest.split_once(' ')?;
                let (session, request) = (session.to_string(), request.to_string());
                Some(if kind == "C" {
                    Signal::Cancel { session, request }
                } else {
                    Signal::Response { session, request }
                })
            }
            "T" => {
                let mut p = rest.splitn(3, ' ');
                Some(Signal::Takeover {
                    session: p.next()?.to_string(),
                    stream: p.next()?.to_string(),
                    holder: p.next()?.to_string(),
                })
            }
            "D" => Some(Signal::Deleted {
                session: rest.to_string(),
            }),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Broker {
    local: broadcast::Sender<Arc<Signal>>,
    store: Store,
}

impl Broker {
    pub(crate) fn new(store: Store) -> Broker {
        let (local, _) = broadcast::channel(4096);
        Broker { local, store }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Signal>> {
        self.local.subscribe()
    }

    fn deliver_locally(&self, signal: Signal) {
        let _ = self.local.send(Arc::new(signal));
    }

    /// Tell this process and every other one.
    pub(crate) async fn publish(&self, signal: Signal) {
        let text = signal.encode();
        self.deliver_locally(signal);
        if let Err(e) = self.store.publish(&text).await {
            tracing::warn!(error = %e, "could not publish a signal to other replicas");
        }
    }

    /// An event was appended. PostgreSQL already sent the NOTIFY with the insert
    /// (and our own listener hears it); SQLite serves one process, so tell it here.
    pub(crate) fn event_appended(&self, session: &str, stream: &str, seq: i64) {
        if self.store.backend() == Backend::Sqlite {
            self.deliver_locally(Signal::Event {
                session: session.to_string(),
                stream: stream.to_string(),
                seq,
            });
        }
    }

    /// With PostgreSQL, listen for other processes' signals. After a lost
    /// connection it reconnects and sends a local `Resync`, so stream readers look
    /// at the log for whatever was signalled in between (a missed signal delays an
    /// event, it never loses one).
    /// Also returns a receiver that turns true once the first `LISTEN` is in
    /// place: a replica that serves before then could
    /// miss a signal sent meanwhile (a listen stream opened on it at once
    /// would not hear an update made on another replica).
    pub(crate) fn spawn_listener_ready(
        &self,
    ) -> Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::watch::Receiver<bool>,
    )> {
        let pool = self.store.postgres()?.clone();
        let local = self.local.clone();
        let (listening, ready) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "signal listener cannot connect; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(e) = listener.listen(NOTIFY_CHANNEL).await {
                    tracing::warn!(error = %e, "signal listener cannot LISTEN; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                let _ = listening.send(true);
                let _ = local.send(Arc::new(Signal::Resync));
                loop {
                    match listener.recv().await {
                        Ok(n) => {
                            if let Some(signal) = Signal::decode(n.payload()) {
                                let _ = local.send(Arc::new(signal));
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "signal listener lost its connection; reconnecting");
                            break;
                        }
                    }
                }
            }
        });
        Some((task, ready))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_round_trip() {
        for s in [
            Signal::Event {
                session: "s".into(),
                stream: "g".into(),
                seq: 7,
            },
            Signal::Cancel {
                session: "s".into(),
                request: "\"a b\"".into(),
            },
            Signal::Response {
                session: "s".into(),
                request: "12".into(),
            },
            Signal::Takeover {
                session: "s".into(),
                stream: "g".into(),
                holder: "h1".into(),
            },
            Signal::Deleted {
                session: "s".into(),
            },
            Signal::Resync,
            Signal::Updated {
                uri: "test://a b".into(),
            },
        ] {
            assert_eq!(Signal::decode(&s.encode()), Some(s));
        }
        assert_eq!(Signal::decode("X y"), None);
        assert_eq!(Signal::decode("E s g notanumber"), None);
    }
}
