//! Streamable HTTP (T-1…T-29) over real HTTP, on every backend.

use std::time::Duration;

use gatehouse::Settings;
use gatehouse_tests::client::{ACCEPT_BOTH, Reply, read_reply};
use gatehouse_tests::{Session, SseStream, TestServer, backend_tests, testkit};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn quick() -> Settings {
    Settings {
        keepalive: Duration::from_millis(300),
        poll_interval: Duration::from_millis(200),
        max_body: 4096,
        ..Settings::default()
    }
}

async fn kit(db: &gatehouse_tests::TestDb) -> TestServer {
    TestServer::start_with(db, testkit::app(), quick()).await
}

fn ping(id: i64) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": "ping" })
}

/// The messages of an SSE reply that are notifications with this method.
fn notifications<'a>(reply: &'a Reply, method: &str) -> Vec<&'a Value> {
    reply
        .messages
        .iter()
        .filter(|m| m["method"] == method)
        .collect()
}

backend_tests! {
    // T-6: a POST must accept both JSON and SSE (406 otherwise); wildcards count.
    async fn post_accept_header(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        // (reqwest always sends an Accept header, `*/*` by default.)
        for (accept, status) in [
            (Some("application/json"), StatusCode::NOT_ACCEPTABLE),
            (Some("text/event-stream"), StatusCode::NOT_ACCEPTABLE),
            (Some("text/html"), StatusCode::NOT_ACCEPTABLE),
            (Some("application/json, text/event-stream"), StatusCode::OK),
            (Some("text/event-stream;q=0.9, application/json"), StatusCode::OK),
            (Some("*/*"), StatusCode::OK),
            (Some("application/*, text/*"), StatusCode::OK),
            (Some(" Application/JSON ;q=1 ,TEXT/EVENT-STREAM"), StatusCode::OK),
            // Near misses: a longer type, a major type only, a parameter's value.
            (Some("application/jsonl, text/event-stream"), StatusCode::NOT_ACCEPTABLE),
            (Some("application, text/event-stream"), StatusCode::NOT_ACCEPTABLE),
            (Some("text/event-stream; x=application/json"), StatusCode::NOT_ACCEPTABLE),
        ] {
            let mut req = session.client.http.post(&session.client.url)
                .header("content-type", "application/json")
                .header("mcp-session-id", &session.id)
                .body(ping(1).to_string());
            if let Some(a) = accept {
                req = req.header("accept", a);
            }
            let reply = read_reply(req.send().await.unwrap()).await;
            assert_eq!(reply.status, status, "Accept: {accept:?}");
            if status == StatusCode::NOT_ACCEPTABLE {
                insta::assert_json_snapshot!("not_acceptable_post", reply.body());
            }
        }
    }

    // 415 for a body that is not declared JSON; charset utf-8 is fine.
    async fn post_content_type(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        for (ct, status) in [
            ("text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ("application/x-www-form-urlencoded", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ("application/json; charset=latin1", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ("application/json; charset=utf-8", StatusCode::OK),
            ("Application/JSON", StatusCode::OK),
        ] {
            let reply = read_reply(session.client.http.post(&session.client.url)
                .header("accept", ACCEPT_BOTH)
                .header("content-type", ct)
                .header("mcp-session-id", &session.id)
                .body(ping(1).to_string()).send().await.unwrap()).await;
            assert_eq!(reply.status, status, "Content-Type: {ct}");
        }
        let reply = read_reply(session.client.http.post(&session.client.url)
            .header("accept", ACCEPT_BOTH)
            .header("mcp-session-id", &session.id)
            .body(ping(1).to_string()).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "no Content-Type");
        insta::assert_json_snapshot!("unsupported_media_type", reply.body());
    }

    // 413 beyond the body limit (declared or streamed), -32700 for non-JSON.
    async fn post_body_limits_and_parse_errors(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let big = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "echo", "arguments": { "text": "x".repeat(5000) } } });
        let reply = session.send(big).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        insta::assert_json_snapshot!("payload_too_large", reply.body());
        // Chunked, so no Content-Length to check up front.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(vec![b' '; 3000]), Ok(vec![b' '; 3000])];
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let reply = read_reply(session.post().body(body).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        let reply = read_reply(session.post().body("{not json").send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body()["error"]["code"], -32700);
        let reply = read_reply(session.post().body("").send().await.unwrap()).await;
        assert_eq!(reply.body()["error"]["code"], -32700);
    }

    // T-8: only notifications or responses → 202 with no body.
    async fn notifications_and_responses_get_202(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-06-18").await;
        let reply = session.send(json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": 99 } })).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert!(reply.text.is_empty());
        // An answer to a request nobody is waiting for is accepted and dropped.
        let reply = session.send(json!({ "jsonrpc": "2.0", "id": "gh-unknown", "result": {} })).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
    }

    // T-18…T-21: the session id comes with initialize only; missing → 400; unknown
    // or deleted → 404 for POST, GET and DELETE; a fresh initialize recovers.
    async fn session_semantics(db) {
        let server = kit(&db).await;
        let client = server.client();
        let reply = client.send(ping(1)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "T-20: no session header");
        insta::assert_json_snapshot!("missing_session", reply.body());
        let get = client.http.get(&client.url).header("accept", "text/event-stream").send().await.unwrap();
        assert_eq!(get.status(), StatusCode::BAD_REQUEST);
        let del = client.http.delete(&client.url).send().await.unwrap();
        assert_eq!(del.status(), StatusCode::BAD_REQUEST);

        let session = client.initialize("2025-11-25").await;
        let reply = session.request("tools/list", json!({})).await;
        assert!(reply.header("mcp-session-id").is_none(), "T-18: only initialize assigns a session");

        let ghost = Session::resume(client.clone(), "0123456789abcdef0123456789abcdef", "2025-11-25");
        let reply = ghost.send(ping(1)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "T-21: unknown session");
        insta::assert_json_snapshot!("session_not_found", reply.body());
        assert_eq!(ghost.get(None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(ghost.delete().await, StatusCode::NOT_FOUND);

        assert_eq!(session.delete().await, StatusCode::OK, "T-22: DELETE ends the session");
        assert_eq!(session.send(ping(2)).await.status, StatusCode::NOT_FOUND, "T-21: deleted");
        assert_eq!(session.get(None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(session.delete().await, StatusCode::NOT_FOUND);

        // T-21: on 404 the client starts over with initialize (a stale header is ignored).
        let reply = session.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": gatehouse_tests::client::initialize_params("2025-11-25") })).await;
        assert_eq!(reply.status, StatusCode::OK);
        let fresh = reply.header("mcp-session-id").unwrap();
        assert_ne!(fresh, session.id);
    }

    // T-23: header names are case-insensitive (`MCP-Session-Id`).
    async fn session_header_case(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let reply = read_reply(session.client.post()
            .header("MCP-Session-Id", &session.id)
            .header("MCP-Protocol-Version", "2025-11-25")
            .json(&ping(1)).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK);
    }

    // T-21: activity keeps a session alive; one unused past the idle timeout
    // expires → 404.
    async fn idle_sessions_expire(db) {
        let settings = Settings { session_idle_timeout: Duration::from_millis(1200), ..quick() };
        let server = TestServer::start_with(&db, testkit::app(), settings).await;
        let session = server.client().initialize("2025-11-25").await;
        for i in 0..6 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            assert_eq!(session.send(ping(i)).await.status, StatusCode::OK, "active at {}ms", 400 * (i + 1));
        }
        tokio::time::sleep(Duration::from_millis(1800)).await;
        assert_eq!(session.send(ping(9)).await.status, StatusCode::NOT_FOUND);
    }

    // T-24…T-26: an unsupported MCP-Protocol-Version → 400; absent → the session's
    // version; another supported version → the session's negotiated one wins.
    async fn protocol_version_header(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-03-26").await;
        for bad in ["2024-11-05", "garbage", ""] {
            let reply = read_reply(session.client.post().header("mcp-session-id", &session.id)
                .header("mcp-protocol-version", bad).json(&ping(1)).send().await.unwrap()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "T-26: {bad:?}");
            if bad == "garbage" {
                insta::assert_json_snapshot!("bad_protocol_version", reply.body());
            }
        }
        // Not even text (issue 12): refused, not taken for absent.
        let latin1 = reqwest::header::HeaderValue::from_bytes(b"2025-11-25\xff").unwrap();
        let reply = read_reply(session.client.post().header("mcp-session-id", &session.id)
            .header("mcp-protocol-version", latin1).json(&ping(1)).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "T-26: a header that is not text");
        let reply = read_reply(session.client.post().header("mcp-session-id", &session.id)
            .json(&ping(1)).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK, "T-25: absent header");
        // The 2025-03-26 session stays 2025-03-26: no structuredContent even when
        // the header claims 2025-06-18.
        let reply = read_reply(session.client.post().header("mcp-session-id", &session.id)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": { "name": "kinds", "arguments": { "s": "ab" } } })).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body()["result"].get("structuredContent").is_none());
    }

    // T-5/T-7: one message per POST, except T-27: 2025-03-26 sessions may batch: an array of responses, 202 for a batch
    // of notifications; T-28: later versions get 400 -32600; initialize never
    // batches; an empty batch is invalid.
    async fn batches(db) {
        let server = kit(&db).await;
        let old = server.client().initialize("2025-03-26").await;
        let reply = old.send(json!([
            ping(1),
            { "jsonrpc": "2.0", "method": "notifications/initialized" },
            { "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "hi" } } },
            { "jsonrpc": "2.0", "id": 3, "method": "nope" },
            { "jsonrpc": "1.0", "id": 4, "method": "ping" },
        ])).await;
        assert_eq!(reply.status, StatusCode::OK);
        let mut responses = reply.body().as_array().expect("a batch gets an array").clone();
        responses.sort_by_key(|r| r["id"].as_i64());
        insta::assert_json_snapshot!("batch_responses", responses);

        let reply = old.send(json!([{ "jsonrpc": "2.0", "method": "notifications/initialized" }])).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        let reply = old.send(json!([])).await;
        assert_eq!((reply.status, reply.body()["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!(-32600)));
        let reply = old.send(json!([{ "jsonrpc": "2.0", "id": 9, "method": "initialize",
            "params": gatehouse_tests::client::initialize_params("2025-03-26") }])).await;
        assert_eq!((reply.status, reply.body()["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!(-32600)));

        for version in ["2025-06-18", "2025-11-25"] {
            let new = server.client().initialize(version).await;
            let reply = new.send(json!([ping(1)])).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "T-28 {version}");
            assert_eq!(reply.body()["error"]["code"], -32600);
        }
    }

    // T-9/T-10/T-11: a request that sends notifications (L-3: progress only with
    // `_meta.progressToken`) is answered as SSE; the
    // response comes last and ends the stream. 2025-11-25 streams start with a
    // priming event (id, empty data, retry); older ones do not (older SDKs fail on
    // empty data).
    async fn post_sse_streams_and_priming(db) {
        let server = kit(&db).await;
        for version in ["2025-03-26", "2025-06-18", "2025-11-25"] {
            let session = server.client().initialize(version).await;
            let reply = session.request("tools/call", json!({ "name": "progress",
                "arguments": { "steps": 3 }, "_meta": { "progressToken": "tok" } })).await;
            assert!(reply.is_sse(), "{version}: progress streams");
            let first = &reply.events[0];
            if version == "2025-11-25" {
                assert_eq!(first.data.as_deref(), Some(""), "T-11 priming event");
                assert!(first.id.is_some() && first.retry.is_some());
            } else {
                assert!(first.json().is_some(), "{version}: no priming event");
                assert!(reply.events.iter().all(|e| e.retry.is_none()));
            }
            let progress = notifications(&reply, "notifications/progress");
            let values: Vec<f64> = progress.iter().map(|p| p["params"]["progress"].as_f64().unwrap()).collect();
            assert_eq!(values, [0.0, 1.0, 2.0, 3.0], "increasing, duplicates dropped");
            assert!(progress.iter().all(|p| p["params"]["progressToken"] == "tok" && p["params"]["total"] == 3.0));
            assert_eq!(reply.body()["result"]["content"][0]["text"], "done", "the response is last");
            // Every event carries an id (T-16), distinct.
            let ids: Vec<&str> = reply.events.iter().map(|e| e.id.as_deref().unwrap()).collect();
            let mut unique = ids.clone();
            unique.dedup();
            assert_eq!(ids.len(), unique.len());
        }
        // Without a progress token there are no progress notifications, and a plain
        // JSON response.
        let session = server.client().initialize("2025-11-25").await;
        let reply = session.request("tools/call", json!({ "name": "progress", "arguments": { "steps": 2 } })).await;
        assert!(!reply.is_sse());
        assert_eq!(reply.body()["result"]["content"][0]["text"], "done");
    }

    // A request still running after the keep-alive interval switches to SSE and
    // keeps the connection busy with comments.
    async fn slow_requests_switch_to_sse_with_keepalives(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-06-18").await;
        let response = session.post().json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "slow", "arguments": { "ms": 1000 } } })).send().await.unwrap();
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut stream = SseStream::new(response);
        let mut keepalives = 0;
        let result = loop {
            let block = stream.next_block(WAIT).await.expect("the stream delivers the response");
            if block.comment {
                keepalives += 1;
            } else if let Some(m) = block.json() {
                break m;
            }
        };
        assert!(keepalives >= 1, "idle SSE streams get keep-alive comments");
        assert_eq!(result["result"]["content"][0]["text"], "finished");
    }

    // Cancellation (3.5): notifications/cancelled stops the handler; no response is
    // sent for the request.
    async fn cancelled_requests_stop(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let post = session.post().json(&json!({ "jsonrpc": "2.0", "id": 42, "method": "tools/call",
            "params": { "name": "slow", "arguments": { "ms": 20000 } } })).send();
        let started = std::time::Instant::now();
        let (response, _) = tokio::join!(post, async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let r = session.send(json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": { "requestId": 42, "reason": "user gave up" } })).await;
            assert_eq!(r.status, StatusCode::ACCEPTED);
        });
        let reply = read_reply(response.unwrap()).await;
        assert!(started.elapsed() < Duration::from_secs(10), "the handler stopped");
        assert!(reply.messages.iter().all(|m| m.get("id").is_none() || m.get("method").is_some()),
            "no response for a cancelled request: {reply:?}");
    }

    // Server-to-client requests made during a tool call travel on that call's POST
    // stream; the client's answer (POSTed, 202) reaches the tool (3.9).
    async fn sampling_on_the_post_stream(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let response = session.post().json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "sample", "arguments": { "prompt": "Say hi" } } })).send().await.unwrap();
        let mut stream = SseStream::new(response);
        let request = loop {
            let e = stream.next_event(WAIT).await.expect("the sampling request arrives");
            if let Some(m) = e.json() {
                break m;
            }
        };
        assert_eq!(request["method"], "sampling/createMessage");
        assert_eq!(request["params"]["messages"][0]["content"]["text"], "Say hi");
        let answer = session.send(json!({ "jsonrpc": "2.0", "id": request["id"], "result": {
            "role": "assistant", "content": { "type": "text", "text": "hi there" }, "model": "test" } })).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
        let rest = stream.rest(WAIT).await;
        let result = rest.iter().filter_map(|e| e.json()).next_back().unwrap();
        assert_eq!(result["id"], 1);
        assert_eq!(result["result"]["content"][0]["text"], "the model said: hi there");

        // L-8: a client that did not declare sampling is never asked.
        let plain = server.client().initialize_with(json!({ "protocolVersion": "2025-11-25",
            "capabilities": {}, "clientInfo": { "name": "plain", "version": "1" } })).await;
        let result = plain.call_tool("sample", json!({ "prompt": "x" })).await;
        assert_eq!(result["isError"], true);
        assert_eq!(result["content"][0]["text"], "the client does not support sampling");
    }

    // T-1: one endpoint takes POST and GET. T-13/T-14/T-15: GET opens the standalone stream (406 without SSE in Accept);
    // notifications unrelated to a request arrive there, exactly once, and never
    // on the POST stream.
    async fn get_stream_carries_session_notifications(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let no_sse = session.client.http.get(&session.client.url).header("accept", "application/json")
            .header("mcp-session-id", &session.id).send().await.unwrap();
        assert_eq!(no_sse.status(), StatusCode::NOT_ACCEPTABLE);

        let mut stream = session.stream(None).await;
        let prime = stream.next_event(WAIT).await.unwrap();
        assert_eq!((prime.data.as_deref(), prime.id.as_deref()), (Some(""), Some("g-0")), "priming");
        let reply = session.request("tools/call", json!({ "name": "announce", "arguments": { "count": 3 } })).await;
        assert!(!reply.is_sse(), "the announcements are not on the POST stream");
        assert_eq!(reply.body()["result"]["content"][0]["text"], "announced 3");
        for n in 1..=3 {
            let e = stream.next_event(WAIT).await.unwrap();
            assert_eq!(e.id.as_deref(), Some(format!("g-{n}").as_str()));
            let m = e.json().unwrap();
            assert_eq!(m["method"], "notifications/message");
            assert_eq!(m["params"]["data"]["n"], n);
            assert!(m.get("result").is_none(), "T-14: no responses on the GET stream");
        }
    }

    // T-15: a second GET for the same stream takes over; the first one ends, so no
    // message is delivered twice.
    async fn second_get_takes_over(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-06-18").await;
        let mut first = session.stream(None).await;
        let mut second = session.stream(None).await;
        assert!(first.rest(WAIT).await.is_empty(), "the first stream ends");
        assert!(first.ended);
        session.call_tool("announce", json!({ "count": 1 })).await;
        let e = second.next_event(WAIT).await.unwrap();
        assert_eq!(e.json().unwrap()["params"]["data"]["n"], 1);
    }

    // T-16/T-17: after a dropped connection the client resumes with Last-Event-ID
    // and gets exactly the events after it, from that stream only; nothing is lost
    // when the POST connection drops mid-call (T-12).
    async fn resume_with_last_event_id(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        // The GET stream: read two, drop, announce more, resume.
        let mut stream = session.stream(None).await;
        stream.next_event(WAIT).await.unwrap(); // priming
        session.call_tool("announce", json!({ "count": 2 })).await;
        let two = [stream.next_event(WAIT).await.unwrap(), stream.next_event(WAIT).await.unwrap()];
        drop(stream);
        session.call_tool("announce", json!({ "count": 3 })).await;
        let mut resumed = session.stream(two[1].id.as_deref()).await;
        let mut got = Vec::new();
        for _ in 0..3 {
            let e = resumed.next_event(WAIT).await.unwrap();
            got.push((e.id.clone().unwrap(), e.json().unwrap()["params"]["data"]["n"].clone()));
        }
        assert_eq!(got, [("g-3".to_string(), json!(1)), ("g-4".to_string(), json!(2)), ("g-5".to_string(), json!(3))]);

        // A POST stream: progress with a delay, connection dropped after the first
        // progress event; the rest (and the response) come back on a GET resume.
        let response = session.post().json(&json!({ "jsonrpc": "2.0", "id": 77, "method": "tools/call",
            "params": { "name": "progress", "arguments": { "steps": 4, "delay_ms": 100 }, "_meta": { "progressToken": 5 } } }))
            .send().await.unwrap();
        let mut post_stream = SseStream::new(response);
        let prime = post_stream.next_event(WAIT).await.unwrap();
        let first = post_stream.next_event(WAIT).await.unwrap();
        assert_eq!(first.json().unwrap()["params"]["progress"], 0.0);
        drop(post_stream);
        let stream_id = prime.id.as_deref().unwrap().rsplit_once('-').unwrap().0.to_string();
        assert_ne!(stream_id, "g", "T-16: the POST stream has its own id space");
        let mut resumed = session.stream(first.id.as_deref()).await;
        let rest = resumed.rest(WAIT).await;
        assert!(resumed.ended, "a resumed POST stream ends after the response");
        let messages: Vec<Value> = rest.iter().filter_map(|e| e.json()).collect();
        let progress: Vec<f64> = messages.iter().filter(|m| m["method"] == "notifications/progress")
            .map(|m| m["params"]["progress"].as_f64().unwrap()).collect();
        assert_eq!(progress, [1.0, 2.0, 3.0, 4.0], "nothing lost, nothing repeated");
        assert_eq!(messages.last().unwrap()["id"], 77);
        assert!(rest.iter().all(|e| e.id.as_deref().unwrap().starts_with(&format!("{stream_id}-"))),
            "T-17: only that stream's events");
        // Resuming from the priming event replays everything.
        let all = session.stream(prime.id.as_deref()).await.rest(WAIT).await;
        assert_eq!(all.iter().filter_map(|e| e.json()).count(), 6);

        // Unknown or foreign event ids are refused.
        for bad in ["nonsense", "zzzz-1", "g-999"] {
            let r = session.get(Some(bad)).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let other = server.client().initialize("2025-11-25").await;
        assert_eq!(other.get(first.id.as_deref()).await.status(), StatusCode::BAD_REQUEST,
            "another session cannot resume this session's stream");
    }

    // T-12: a client whose POST connection drops while the reply is still
    // undecided (no event sent yet, so it could still be plain JSON) has not
    // cancelled anything: the tool runs to its end. (A lone request runs in the
    // POST's own task until then, so this is what moves it to a task of its own.)
    async fn dropped_post_does_not_stop_the_tool(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let mut stream = session.stream(None).await;
        stream.next_event(WAIT).await.unwrap(); // priming
        let post = session.post().json(&json!({ "jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": { "name": "announce", "arguments": { "count": 3, "interval_ms": 150 } } })).send();
        let gave_up = tokio::time::timeout(Duration::from_millis(75), post).await;
        assert!(gave_up.is_err(), "the client hung up before the answer");
        let mut seen = Vec::new();
        for _ in 0..3 {
            let e = stream.next_event(WAIT).await.expect("the tool goes on after the POST is gone");
            seen.push(e.json().unwrap()["params"]["data"]["n"].clone());
        }
        assert_eq!(seen, [json!(1), json!(2), json!(3)]);
    }

    // DELETE ends the session's open streams too.
    async fn delete_closes_streams(db) {
        let server = kit(&db).await;
        let session = server.client().initialize("2025-06-18").await;
        let mut stream = session.stream(None).await;
        assert_eq!(session.delete().await, StatusCode::OK);
        assert!(stream.rest(WAIT).await.is_empty());
        assert!(stream.ended);
    }

    // T-2: a present, disallowed Origin gets 403 (so does a rebinding Host on a
    // loopback listener); no Origin, the spec's origins and loopback pass.
    async fn origin_rules(db) {
        let server = kit(&db).await;
        let client = server.client();
        let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": gatehouse_tests::client::initialize_params("2025-11-25") });
        let port = server.running.local_addr().port();
        for (origin, status) in [
            ("https://evil.example.com", StatusCode::FORBIDDEN),
            ("null", StatusCode::FORBIDDEN),
            ("https://app.example.com.evil.com", StatusCode::FORBIDDEN),
            ("https://app.example.com", StatusCode::OK),
            ("http://localhost:6274", StatusCode::OK),
            (&format!("http://127.0.0.1:{port}"), StatusCode::OK),
        ] {
            let reply = read_reply(client.post().header("origin", origin).json(&init).send().await.unwrap()).await;
            assert_eq!(reply.status, status, "Origin {origin}");
            if origin == "https://evil.example.com" {
                insta::assert_json_snapshot!("forbidden_origin", reply.body());
            }
        }
        let reply = read_reply(client.post().header("host", "evil.example.com").json(&init).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "DNS rebinding: Host");
        let reply = read_reply(client.post().header("host", format!("localhost:{port}")).json(&init).send().await.unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK);
    }

    // CORS: browsers may send the MCP headers and read Mcp-Session-Id and
    // WWW-Authenticate; disallowed origins get no CORS grant.
    async fn cors_for_browsers(db) {
        let server = kit(&db).await;
        let client = server.client();
        let preflight = client.http.request(reqwest::Method::OPTIONS, &client.url)
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, mcp-session-id, mcp-protocol-version, authorization")
            .send().await.unwrap();
        assert!(preflight.status().is_success());
        let h = preflight.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        let allowed = h["access-control-allow-headers"].to_str().unwrap().to_string();
        for name in ["mcp-session-id", "mcp-protocol-version", "authorization", "content-type", "last-event-id"] {
            assert!(allowed.contains(name), "{name} in {allowed}");
        }
        let reply = read_reply(client.post().header("origin", "https://app.example.com")
            .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": gatehouse_tests::client::initialize_params("2025-11-25") })).send().await.unwrap()).await;
        let exposed = reply.header("access-control-expose-headers").unwrap().to_string();
        assert!(exposed.contains("mcp-session-id") && exposed.contains("www-authenticate"), "{exposed}");
        let denied = client.http.request(reqwest::Method::OPTIONS, &client.url)
            .header("origin", "https://evil.example.com")
            .header("access-control-request-method", "POST")
            .send().await.unwrap();
        assert!(denied.headers().get("access-control-allow-origin").is_none());
    }

    // Methods other than GET, POST, DELETE (and CORS preflights) get 405.
    async fn other_methods_not_allowed(db) {
        let server = kit(&db).await;
        let client = server.client();
        let r = client.http.put(&client.url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()["allow"], "GET, POST, DELETE");
    }
}

// Issue 5: an SSE answer is written in several pieces (priming event,
// notifications, response). Without TCP_NODELAY on accepted connections each
// piece after the first waits for the client's delayed ACK (about 40 ms on
// Linux), so every such call on a keep-alive connection takes 40 ms or more.
// The server runs in its own process here, so the test's own runtime does not
// slow it down; the median of 20 calls must stay well under 40 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_calls_do_not_stall_on_nagle() {
    let db = gatehouse_tests::TestDb::sqlite().await;
    let server =
        gatehouse_tests::server::Process::testkit(env!("CARGO_BIN_EXE_testkit-server"), db.url());
    let session = server.client().initialize("2025-11-25").await;
    let mut took = Vec::new();
    for _ in 0..20 {
        let start = std::time::Instant::now();
        let reply = session
            .request(
                "tools/call",
                json!({ "name": "progress", "arguments": { "steps": 2 }, "_meta": { "progressToken": "t" } }),
            )
            .await;
        took.push(start.elapsed());
        assert!(
            reply.is_sse() && reply.events.len() >= 4,
            "several events: {reply:?}"
        );
    }
    took.sort();
    let median = took[took.len() / 2];
    assert!(
        median < std::time::Duration::from_millis(20),
        "median SSE tools/call {median:?}: {took:?}"
    );
}
