//! The channel from a running request to the HTTP response that carries its stream:
//! notifications and server-to-client requests first, then the final response.

use serde_json::Value;
use tokio::sync::mpsc;

/// One thing a request puts on its stream.
#[derive(Debug)]
pub(crate) enum StreamItem {
    /// A notification or a server-to-client request. Boxed: the channel
    /// allocates its slots 32 at a time, and at 24 bytes an item (not 72)
    /// each request's first block stays within the allocator's small sizes.
    Message(Box<Value>),
    /// The response, serialized; `None` when the request was cancelled (no
    /// response is sent).
    Final(Option<String>),
    /// Close the connection but not the stream (SEP-1699 polling): the client
    /// reconnects with `Last-Event-ID` and gets the rest from the log.
    Disconnect,
}

/// Sending half, held by the request's [`Context`](super::Context).
#[derive(Clone, Debug)]
pub(crate) struct Outbound {
    tx: mpsc::UnboundedSender<StreamItem>,
}

impl Outbound {
    pub(crate) fn channel() -> (Outbound, mpsc::UnboundedReceiver<StreamItem>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Outbound { tx }, rx)
    }

    /// Queue a message; false once the stream is finished.
    pub(crate) fn send(&self, message: Value) -> bool {
        self.tx.send(StreamItem::Message(Box::new(message))).is_ok()
    }

    pub(crate) fn disconnect(&self) {
        let _ = self.tx.send(StreamItem::Disconnect);
    }

    pub(crate) fn finish(&self, response: Option<String>) {
        let _ = self.tx.send(StreamItem::Final(response));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request's channel allocates a block of 32 items up front: kept
    /// small, it comes from the allocator's fast path (issue 13).
    #[test]
    fn stream_items_stay_small() {
        assert!(std::mem::size_of::<StreamItem>() <= 24);
    }
}
