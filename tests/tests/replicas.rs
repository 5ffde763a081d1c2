//! Several server processes on one database: sessions, streams, server-to-client
//! answers and cancellations work whichever process a request lands on, and a
//! process killed with -9 loses nothing once restarted.

use std::collections::BTreeSet;
use std::time::Duration;

use gatehouse_tests::server::Process;
use gatehouse_tests::{Session, SseStream, TestDb};
use reqwest::StatusCode;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_testkit-server");
const WAIT: Duration = Duration::from_secs(15);

/// The `n` of announcements read from a stream until `want` are in hand, with
/// their event ids.
async fn read_announcements(stream: &mut SseStream, want: usize) -> Vec<(String, i64)> {
    let mut got = Vec::new();
    while got.len() < want {
        let Some(e) = stream.next_event(WAIT).await else {
            break;
        };
        if let Some(m) = e.json() {
            got.push((
                e.id.clone().unwrap(),
                m["params"]["data"]["n"].as_i64().unwrap(),
            ));
        }
    }
    got
}

/// A session created on one process is served by another: tool calls, and a
/// notification produced on A reaching the GET stream held by B (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_sessions_and_streams() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = Process::testkit(BIN, db.url());
    let b = Process::testkit(BIN, db.url());
    let on_a = a.client().initialize("2025-11-25").await;
    let on_b = Session::resume(b.client(), &on_a.id, &on_a.version);
    assert_eq!(
        on_b.call_tool("echo", json!({ "text": "via B" })).await["content"][0]["text"],
        "via B"
    );

    let mut stream_b = on_b.stream(None).await;
    assert_eq!(
        stream_b.next_event(WAIT).await.unwrap().data.as_deref(),
        Some(""),
        "priming"
    );
    on_a.call_tool("announce", json!({ "count": 3 })).await;
    let got = read_announcements(&mut stream_b, 3).await;
    assert_eq!(
        got,
        [("g-1".into(), 1), ("g-2".into(), 2), ("g-3".into(), 3)]
    );

    // The client moves to A (a load balancer's choice) and resumes there.
    drop(stream_b);
    on_b.call_tool("announce", json!({ "count": 2 })).await;
    let mut stream_a = on_a.stream(Some("g-3")).await;
    let got = read_announcements(&mut stream_a, 2).await;
    assert_eq!(got, [("g-4".into(), 1), ("g-5".into(), 2)]);
    let mut stream_b = on_b.stream(None).await;
    assert!(
        stream_a.rest(WAIT).await.is_empty(),
        "B's new GET took the stream over from A"
    );
    assert!(stream_a.ended);

    // DELETE on A ends B's stream too.
    assert_eq!(on_a.delete().await, StatusCode::OK);
    let rest = stream_b.rest(WAIT).await;
    assert!(
        rest.iter().all(|e| e.data.as_deref() == Some("")),
        "only the priming event: {rest:?}"
    );
    assert!(stream_b.ended);
    assert_eq!(
        on_b.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// A sampling request sent on A's POST stream is answered by a POST that lands on
/// B; a cancellation sent to B stops the request running on A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_cancellations_cross_replicas() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = Process::testkit(BIN, db.url());
    let b = Process::testkit(BIN, db.url());
    let on_a = a.client().initialize("2025-11-25").await;
    let on_b = Session::resume(b.client(), &on_a.id, &on_a.version);

    let response = on_a
        .post()
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "sample", "arguments": { "prompt": "hello" } } }))
        .send()
        .await
        .unwrap();
    let mut stream = SseStream::new(response);
    let request = loop {
        if let Some(m) = stream
            .next_event(WAIT)
            .await
            .expect("sampling request")
            .json()
        {
            break m;
        }
    };
    assert_eq!(request["method"], "sampling/createMessage");
    let r = on_b
        .send(json!({ "jsonrpc": "2.0", "id": request["id"], "result": {
        "role": "assistant", "content": { "type": "text", "text": "from B" }, "model": "m" } }))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let last = stream
        .rest(WAIT)
        .await
        .iter()
        .filter_map(|e| e.json())
        .next_back()
        .unwrap();
    assert_eq!(
        last["result"]["content"][0]["text"],
        "the model said: from B"
    );

    let started = std::time::Instant::now();
    let slow = on_a
        .post()
        .json(
            &json!({ "jsonrpc": "2.0", "id": "long", "method": "tools/call",
        "params": { "name": "slow", "arguments": { "ms": 30000 } } }),
        )
        .send();
    let (response, _) = tokio::join!(slow, async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        on_b.send(json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": "long" } })).await
    });
    let reply = gatehouse_tests::client::read_reply(response.unwrap()).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "cancelled on A by B"
    );
    assert!(
        reply.messages.iter().all(|m| m.get("result").is_none()),
        "no response after cancellation"
    );
}

/// kill -9 the process holding a GET stream while another keeps producing events;
/// restart it and resume with Last-Event-ID: every event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_mid_stream_then_resume_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = Process::testkit(BIN, db.url());
    let b = Process::testkit(BIN, db.url());
    let on_a = a.client().initialize("2025-11-25").await;
    let on_b = Session::resume(b.client(), &on_a.id, &on_a.version);

    let mut stream = on_a.stream(None).await;
    stream.next_event(WAIT).await.unwrap(); // priming
    let total = 30;
    let producer = tokio::spawn(async move {
        on_b.call_tool("announce", json!({ "count": total, "interval_ms": 30 }))
            .await
    });
    let before = read_announcements(&mut stream, 5).await;
    a.kill();
    let restarted = Process::testkit(BIN, db.url());
    let on_restarted = Session::resume(restarted.client(), &on_a.id, &on_a.version);
    let last_id = before.last().unwrap().0.clone();
    let mut resumed = on_restarted.stream(Some(&last_id)).await;
    let after = read_announcements(&mut resumed, total as usize - before.len()).await;
    assert_eq!(
        producer.await.unwrap()["content"][0]["text"],
        "announced 30"
    );

    let all: Vec<i64> = before.iter().chain(after.iter()).map(|(_, n)| *n).collect();
    assert_eq!(
        all,
        (1..=total).collect::<Vec<i64>>(),
        "no event lost or repeated"
    );
    let ids: BTreeSet<&String> = before
        .iter()
        .chain(after.iter())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids.len(), total as usize, "event ids are unique");
}

/// The same with one process on SQLite: events logged before a crash are
/// delivered after the restart, from the event after Last-Event-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_then_resume_on_sqlite() {
    let db = TestDb::sqlite().await;
    let a = Process::testkit(BIN, db.url());
    let session = a.client().initialize("2025-06-18").await;
    let mut stream = session.stream(None).await;
    session.call_tool("announce", json!({ "count": 6 })).await;
    let before = read_announcements(&mut stream, 2).await;
    a.kill();
    let b = Process::testkit(BIN, db.url());
    let resumed_session = Session::resume(b.client(), &session.id, &session.version);
    let mut resumed = resumed_session.stream(Some(&before[1].0)).await;
    let after = read_announcements(&mut resumed, 4).await;
    let ns: Vec<i64> = before.iter().chain(after.iter()).map(|(_, n)| *n).collect();
    assert_eq!(ns, [1, 2, 3, 4, 5, 6]);
    // And the session itself survived the crash.
    let v: Value = resumed_session.call("ping", json!({})).await;
    assert_eq!(v, json!({}));
}

/// A 2026-07-28 listen stream on one process hears of a resource changed on
/// another (the broker's `U` signal over LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_streams_hear_other_replicas() {
    use gatehouse_tests::modern::{Listen, meta, post};
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = Process::testkit(BIN, db.url());
    let b = Process::testkit(BIN, db.url());
    let mut listen = Listen::open(
        &b.url,
        5,
        json!({ "resourceSubscriptions": ["test://watched"] }),
    )
    .await;
    let ack = listen.next(WAIT).await.expect("acknowledged");
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    let touched = post(
        &a.url,
        None,
        6,
        "tools/call",
        json!({ "name": "touch", "arguments": { "uri": "test://watched" }, "_meta": meta() }),
        &[],
    )
    .await;
    assert_eq!(touched.status, StatusCode::OK, "{}", touched.body);
    let update = listen
        .next(WAIT)
        .await
        .expect("the update from the other replica");
    assert_eq!(update["params"]["uri"], "test://watched");
    assert_eq!(
        update["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        5
    );
}
