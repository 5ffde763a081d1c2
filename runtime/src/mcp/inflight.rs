//! Requests in flight in this process: client requests that can be cancelled, and
//! server-to-client requests waiting for the client's answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

type Key = (String, String);

#[derive(Default)]
pub(crate) struct InFlight {
    /// Keys shared with their guards: one allocation per request, not three.
    running: Mutex<HashMap<Arc<Key>, CancellationToken>>,
    waiting: Mutex<HashMap<Key, oneshot::Sender<Value>>>,
}

/// Removes a running request's entry when the request finishes.
pub(crate) struct RunningGuard {
    inflight: Arc<InFlight>,
    key: Arc<Key>,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.inflight
            .running
            .lock()
            .expect("inflight lock")
            .remove(&*self.key);
    }
}

/// Removes a waiter when the wait ends (answered, timed out or cancelled).
pub(crate) struct WaitGuard {
    inflight: Arc<InFlight>,
    key: Key,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.inflight
            .waiting
            .lock()
            .expect("inflight lock")
            .remove(&self.key);
    }
}

impl InFlight {
    /// Register a client request; its token fires on `notifications/cancelled`.
    pub(crate) fn start(
        self: &Arc<Self>,
        session: &str,
        request: String,
    ) -> (CancellationToken, RunningGuard) {
        let token = CancellationToken::new();
        let key = Arc::new((session.to_string(), request));
        self.running
            .lock()
            .expect("inflight lock")
            .insert(key.clone(), token.clone());
        (
            token,
            RunningGuard {
                inflight: self.clone(),
                key,
            },
        )
    }

    /// Cancel a request running here; false if it is not (finished, or elsewhere).
    pub(crate) fn cancel(&self, session: &str, request: &str) -> bool {
        let key = (session.to_string(), request.to_string());
        match self.running.lock().expect("inflight lock").get(&key) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancel every request of a session (it was deleted).
    pub(crate) fn cancel_session(&self, session: &str) {
        for (key, token) in self.running.lock().expect("inflight lock").iter() {
            if key.0 == session {
                token.cancel();
            }
        }
    }

    /// Wait for the client's answer to a server request.
    pub(crate) fn wait_for(
        self: &Arc<Self>,
        session: &str,
        request: &str,
    ) -> (oneshot::Receiver<Value>, WaitGuard) {
        let (tx, rx) = oneshot::channel();
        let key = (session.to_string(), request.to_string());
        self.waiting
            .lock()
            .expect("inflight lock")
            .insert(key.clone(), tx);
        (
            rx,
            WaitGuard {
                inflight: self.clone(),
                key,
            },
        )
    }

    pub(crate) fn is_waiting(&self, session: &str, request: &str) -> bool {
        self.waiting
            .lock()
            .expect("inflight lock")
            .contains_key(&(session.to_string(), request.to_string()))
    }

    /// Hand an answer to its waiter here; false if nobody here waits for it.
    pub(crate) fn deliver(&self, session: &str, request: &str, message: Value) -> bool {
        let key = (session.to_string(), request.to_string());
        match self.waiting.lock().expect("inflight lock").remove(&key) {
            Some(tx) => tx.send(message).is_ok(),
            None => false,
        }
    }
}
