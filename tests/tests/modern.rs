//! MCP 2026-07-28 on the same endpoint (issue 13): requests that carry their
//! version and client capabilities in `_meta` are served without a session,
//! checked against their headers, answered with `resultType` and caching
//! hints, and leave nothing in the store; the session era is untouched.

use std::time::Duration;

use gatehouse_tests::modern::{Answer, Listen, V, meta, post, with_meta};
use gatehouse_tests::{SseStream, TestServer, backend_tests, testkit};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

/// `tools/call introduce` as a 2026-07-28 client that can elicit sends it,
/// with `extra` (answers, state) beside the name and arguments.
fn introduce(greeting: &str, extra: Value) -> Value {
    let mut params = json!({ "name": "introduce", "arguments": { "greeting": greeting } });
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    with_meta(
        params,
        json!({ "io.modelcontextprotocol/clientCapabilities": { "elicitation": {} } }),
    )
}

fn accept(content: Value) -> Value {
    json!({ "action": "accept", "content": content })
}

/// The -32602 message of an answer, or a panic showing what came instead.
fn invalid_params(a: &Answer) -> String {
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["error"]["code"], -32602, "{}", a.body);
    a.body["error"]["message"].as_str().unwrap().to_string()
}

async fn count(store: &gatehouse::Store, sql: &'static str) -> i64 {
    match (store.sqlite(), store.postgres()) {
        (Some(p), _) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        (_, Some(p)) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        _ => unreachable!(),
    }
}

backend_tests! {
    // server/discover and the method families, without a session; nothing stored.
    async fn served_without_a_session(db) {
        let server = TestServer::testkit(&db).await;
        let url = server.url();
        let d = post(&url, None, 1, "server/discover", json!({ "_meta": meta() }), &[]).await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.body);
        assert!(d.headers.get("mcp-session-id").is_none(), "no session in this era");
        let r = &d.body["result"];
        assert_eq!(r["supportedVersions"], json!([V]));
        assert_eq!(r["resultType"], "complete");
        assert!(r["capabilities"]["tools"].is_object(), "{r}");
        assert_eq!(r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "testkit");
        // Caching hints as the spec declares them (`caching:`).
        assert_eq!((r["ttlMs"].clone(), r["cacheScope"].clone()), (json!(120000), json!("public")), "{r}");

        // The same tools as the session era lists (2025-11-25 shapes).
        let session = server.client().initialize("2025-11-25").await;
        let legacy = session.call("tools/list", json!({})).await;
        let list = post(&url, None, 2, "tools/list", json!({ "_meta": meta() }), &[]).await;
        let mut modern = list.body["result"].clone();
        assert_eq!((modern["resultType"].clone(), modern["cacheScope"].clone()), (json!("complete"), json!("public")));
        for k in ["resultType", "ttlMs", "cacheScope"] {
            modern.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(modern, legacy);

        let sessions = count(&server.store, "SELECT COUNT(*) FROM mcp_sessions").await;
        let events = count(&server.store, "SELECT COUNT(*) FROM mcp_events").await;
        let call = post(&url, None, 3, "tools/call", json!({ "name": "echo", "arguments": { "text": "hi" }, "_meta": meta() }), &[]).await;
        assert_eq!((call.status, call.sse), (StatusCode::OK, false), "{}", call.body);
        assert_eq!(call.body["id"], 3);
        assert_eq!(call.body["result"]["content"][0]["text"], "hi");
        assert_eq!(call.body["result"]["resultType"], "complete");
        assert!(call.body["result"].get("ttlMs").is_none(), "a call is not cacheable");
        // A tool's execution error is still a result the model reads.
        let fail = post(&url, None, 4, "tools/call", json!({ "name": "fail", "_meta": meta() }), &[]).await;
        assert_eq!(fail.body["result"]["isError"], true, "{}", fail.body);

        // Resources: static ones are shared, a handler's are the caller's;
        // one that does not exist is -32602 in this era.
        let readme = post(&url, None, 5, "resources/read", json!({ "uri": "test://readme", "_meta": meta() }), &[]).await;
        assert_eq!(readme.body["result"]["contents"][0]["text"], "Read me.");
        assert_eq!(readme.body["result"]["cacheScope"], "public");
        let clock = post(&url, None, 6, "resources/read", json!({ "uri": "test://clock", "_meta": meta() }), &[]).await;
        assert_eq!((clock.body["result"]["cacheScope"].clone(), clock.body["result"]["ttlMs"].clone()), (json!("private"), json!(0)), "{}", clock.body);
        let hints = |a: &Answer| (a.body["result"]["ttlMs"].clone(), a.body["result"]["cacheScope"].clone());
        assert_eq!(hints(&readme), (json!(120000), json!("public")), "text: the server's hints");
        let watched = post(&url, None, 9, "resources/read", json!({ "uri": "test://watched", "_meta": meta() }), &[]).await;
        assert_eq!(hints(&watched), (json!(5000), json!("private")), "its own hints");
        let item = post(&url, None, 10, "resources/read", json!({ "uri": "test://items/7", "_meta": meta() }), &[]).await;
        assert_eq!(hints(&item), (json!(1000), json!("private")), "its template's hints: {}", item.body);
        let missing = post(&url, None, 7, "resources/read", json!({ "uri": "test://nothing", "_meta": meta() }), &[]).await;
        assert_eq!(missing.body["error"]["code"], -32602, "{}", missing.body);
        assert_eq!(missing.body["error"]["data"]["uri"], "test://nothing");
        let prompt = post(&url, None, 8, "prompts/get", json!({ "name": "greet", "arguments": { "name": "Ada" }, "_meta": meta() }), &[]).await;
        assert_eq!(prompt.body["result"]["messages"][0]["content"]["text"], "Hello Ada!");
        let completion = post(&url, None, 9, "completion/complete", json!({ "ref": { "type": "ref/prompt", "name": "greet" },
            "argument": { "name": "name", "value": "al" }, "_meta": meta() }), &[]).await;
        assert_eq!(completion.body["result"]["completion"]["values"], json!(["Alice", "alfred"]));

        assert_eq!(count(&server.store, "SELECT COUNT(*) FROM mcp_sessions").await, sessions, "no session stored");
        assert_eq!(count(&server.store, "SELECT COUNT(*) FROM mcp_events").await, events, "no event logged");
    }

    // Each check answers 400 with its own code and the request's id; methods
    // of the session era only are 404 with -32601.
    async fn checked_against_headers_and_meta(db) {
        let server = TestServer::testkit(&db).await;
        let url = server.url();
        let mut seen = serde_json::Map::new();
        let mut expect = |case: &str, a: Answer, status: StatusCode, code: i64, id: i64| {
            assert_eq!((a.status, a.body["error"]["code"].as_i64()), (status, Some(code)), "{case}: {}", a.body);
            assert_eq!(a.body["id"], id, "{case}: the request's id");
            seen.insert(case.into(), a.body["error"].clone());
        };
        expect("no _meta", post(&url, None, 101, "server/discover", json!({}), &[]).await, StatusCode::BAD_REQUEST, -32602, 101);
        let mut no_caps = meta();
        no_caps.as_object_mut().unwrap().remove("io.modelcontextprotocol/clientCapabilities");
        expect("no client capabilities", post(&url, None, 102, "server/discover", json!({ "_meta": no_caps }), &[]).await,
            StatusCode::BAD_REQUEST, -32602, 102);
        let mut no_info = meta();
        no_info.as_object_mut().unwrap().remove("io.modelcontextprotocol/clientInfo");
        let a = post(&url, None, 103, "server/discover", json!({ "_meta": no_info }), &[]).await;
        assert_eq!(a.status, StatusCode::OK, "clientInfo is optional: {}", a.body);
        expect("no version header", post(&url, None, 104, "tools/list", json!({ "_meta": meta() }), &[("mcp-protocol-version", None)]).await,
            StatusCode::BAD_REQUEST, -32020, 104);
        let v999 = with_meta(json!({}), json!({ "io.modelcontextprotocol/protocolVersion": "v999" }));
        expect("version header differs", post(&url, None, 105, "server/discover", v999.clone(), &[]).await, StatusCode::BAD_REQUEST, -32020, 105);
        let a = post(&url, None, 106, "server/discover", v999, &[("mcp-protocol-version", Some("v999"))]).await;
        assert_eq!(a.body["error"]["data"], json!({ "supported": [V], "requested": "v999" }));
        expect("unsupported version", a, StatusCode::BAD_REQUEST, -32022, 106);
        expect("Mcp-Method differs", post(&url, None, 107, "tools/list", json!({ "_meta": meta() }), &[("mcp-method", Some("prompts/list"))]).await,
            StatusCode::BAD_REQUEST, -32020, 107);
        expect("Mcp-Name differs", post(&url, None, 108, "tools/call", json!({ "name": "echo", "arguments": { "text": "x" }, "_meta": meta() }),
            &[("mcp-name", Some("fail"))]).await, StatusCode::BAD_REQUEST, -32020, 108);
        for (i, method) in ["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe", "no/such/method"].into_iter().enumerate() {
            let id = 200 + i as i64;
            expect(method, post(&url, None, id, method, json!({ "_meta": meta() }), &[]).await, StatusCode::NOT_FOUND, -32601, id);
        }
        // A tool that asks the client's model, without the capability declared.
        let a = post(&url, None, 300, "tools/call", json!({ "name": "sample", "arguments": { "prompt": "hi" }, "_meta": meta() }), &[]).await;
        assert_eq!(a.body["error"]["data"]["requiredCapabilities"], json!({ "sampling": {} }));
        expect("undeclared capability", a, StatusCode::BAD_REQUEST, -32021, 300);
        insta::assert_json_snapshot!("modern_refusals", seen);

        // The session era is unchanged: initialize without a claim, and a
        // request with neither session nor claim is refused as before.
        let session = server.client().initialize("2025-11-25").await;
        assert!(!session.id.is_empty());
        let r = server.client().send(json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    }

    // Notifications: none unless asked (log level, progress token), then the
    // answer is a stream of them ending with the response.
    async fn notifications_only_when_asked(db) {
        let server = TestServer::testkit(&db).await;
        let url = server.url();
        let quiet = post(&url, None, 1, "tools/call", json!({ "name": "log", "_meta": meta() }), &[]).await;
        assert!(!quiet.sse && quiet.body["result"]["resultType"] == "complete", "no log messages without a level: {}", quiet.body);
        let loud = post(&url, None, 2, "tools/call",
            with_meta(json!({ "name": "log" }), json!({ "io.modelcontextprotocol/logLevel": "error" })), &[]).await;
        assert!(loud.sse, "{}", loud.body);
        let levels: Vec<&str> = loud.events.iter().filter(|e| e["method"] == "notifications/message")
            .map(|e| e["params"]["level"].as_str().unwrap()).collect();
        assert_eq!(levels, ["error", "critical", "alert", "emergency"]);
        assert_eq!(loud.body["id"], 2);
        assert_eq!(loud.body["result"]["resultType"], "complete");
        let progress = post(&url, None, 3, "tools/call",
            with_meta(json!({ "name": "progress", "arguments": { "steps": 3 } }), json!({ "progressToken": "p" })), &[]).await;
        let steps: Vec<f64> = progress.events.iter().filter(|e| e["method"] == "notifications/progress")
            .map(|e| e["params"]["progress"].as_f64().unwrap()).collect();
        assert_eq!(steps, [0.0, 1.0, 2.0, 3.0]);
        assert!(progress.events.iter().all(|e| e.get("method").is_none() || e["method"].as_str().unwrap().starts_with("notifications/")),
            "never a request to the client on the stream");
    }

    // Authorization as for sessions: 401 without a token, 403 naming every
    // scope the operation needs.
    async fn authorized_like_sessions(db) {
        let server = TestServer::memory(&db).await;
        let url = server.url();
        let anonymous = post(&url, None, 1, "tools/list", json!({ "_meta": meta() }), &[]).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        assert!(anonymous.headers.get("www-authenticate").unwrap().to_str().unwrap().contains("resource_metadata="));
        let (_, tokens) = server.oauth().sign_up("ada@example.com", Some("memories:write")).await;
        let token = tokens["access_token"].as_str().unwrap();
        let list = post(&url, Some(token), 2, "tools/list", json!({ "_meta": meta() }), &[]).await;
        assert_eq!(list.status, StatusCode::OK, "lists show everything");
        let search = post(&url, Some(token), 3, "tools/call", json!({ "name": "search_memories", "arguments": { "query": "k" }, "_meta": meta() }), &[]).await;
        assert_eq!(search.status, StatusCode::FORBIDDEN, "{}", search.body);
        let challenge = search.headers.get("www-authenticate").unwrap().to_str().unwrap();
        assert!(challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"memories:write memories:read\""), "{challenge}");
        let add = post(&url, Some(token), 4, "tools/call", json!({ "name": "add_memory", "arguments": { "text": "modern" }, "_meta": meta() }), &[]).await;
        assert_eq!(add.body["result"]["isError"], json!(null), "{}", add.body);
        assert!(add.body["result"]["structuredContent"]["id"].is_string(), "{}", add.body);
    }

    // subscriptions/listen: acknowledged first with what is honoured, then
    // resources/updated for the URIs asked for only, each tagged with the
    // subscription's id.
    async fn listen_streams_carry_resource_updates(db) {
        let server = TestServer::testkit(&db).await;
        let url = server.url();
        let mut listen = Listen::open(&url, 42, json!({ "resourceSubscriptions": ["test://watched"], "toolsListChanged": true })).await;
        let wait = std::time::Duration::from_secs(10);
        let ack = listen.next(wait).await.expect("an acknowledgement");
        assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
        assert_eq!(ack["params"]["notifications"], json!({ "resourceSubscriptions": ["test://watched"] }), "list changes never happen here: not honoured");
        assert_eq!(ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 42);
        for uri in ["test://readme", "test://watched"] {
            let touched = post(&url, None, 7, "tools/call", json!({ "name": "touch", "arguments": { "uri": uri }, "_meta": meta() }), &[]).await;
            assert_eq!(touched.status, StatusCode::OK, "{}", touched.body);
        }
        let update = listen.next(wait).await.expect("the update");
        assert_eq!(update["method"], "notifications/resources/updated");
        assert_eq!(update["params"]["uri"], "test://watched", "the other resource was not asked for: {update}");
        assert_eq!(update["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 42);
        let bad = post(&url, None, 8, "subscriptions/listen", json!({ "notifications": [], "_meta": meta() }), &[]).await;
        assert_eq!((bad.status, bad.body["error"]["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(-32602)), "{}", bad.body);
    }

    // Issue 13, item 3: one tool body that asks the user twice (a name, then a
    // colour whose question names them) works unchanged in both eras. In a
    // session each question is a request on the call's stream; in 2026-07-28
    // each is an InputRequiredResult (SEP-2322), the retry carries the answer,
    // the sealed requestState the earlier ones, and any replica can take the
    // next round (the sealing key is the store's).
    async fn one_tool_asks_in_both_eras(db) {
        let server = TestServer::testkit(&db).await;
        let session = server.client().initialize("2025-11-25").await;
        let response = session.post().json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "introduce", "arguments": { "greeting": "So: " } } })).send().await.unwrap();
        let mut stream = SseStream::new(response);
        let mut questions = Vec::new();
        for answer in [json!({ "name": "Ada" }), json!({ "colour": "teal" })] {
            let request = loop {
                let e = stream.next_event(WAIT).await.expect("a question arrives");
                if let Some(m) = e.json() {
                    break m;
                }
            };
            assert_eq!(request["method"], "elicitation/create", "{request}");
            questions.push(request["params"]["message"].clone());
            let sent = session.send(json!({ "jsonrpc": "2.0", "id": request["id"], "result": accept(answer) })).await;
            assert_eq!(sent.status, StatusCode::ACCEPTED);
        }
        assert_eq!(questions, [json!("What is your name?"), json!("What is your favourite colour, Ada?")]);
        let rest = stream.rest(WAIT).await;
        let done = rest.iter().filter_map(|e| e.json()).next_back().unwrap();
        assert_eq!(done["result"]["content"][0]["text"], "So: Ada likes teal", "{done}");

        let url = server.url();
        let first = post(&url, None, 2, "tools/call", introduce("So: ", json!({})), &[]).await;
        assert_eq!(first.status, StatusCode::OK);
        let r = &first.body["result"];
        assert_eq!(r["resultType"], "input_required", "{r}");
        assert_eq!(r["inputRequests"]["elicitation-1"]["method"], "elicitation/create");
        let asked = &r["inputRequests"]["elicitation-1"]["params"];
        assert_eq!(asked["message"], "What is your name?");
        assert_eq!(asked["requestedSchema"]["properties"]["name"]["type"], "string");
        assert_eq!(asked["requestedSchema"]["required"], json!(["name"]));
        assert!(r.get("ttlMs").is_none() && r.get("content").is_none(), "{r}");
        let state1 = r["requestState"].clone();

        let second = post(&url, None, 3, "tools/call", introduce("So: ", json!({
            "inputResponses": { "elicitation-1": accept(json!({ "name": "Ada" })) }, "requestState": state1 })), &[]).await;
        let r = &second.body["result"];
        assert_eq!(r["resultType"], "input_required", "{r}");
        let keys: Vec<&String> = r["inputRequests"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["elicitation-2"], "the name is not asked again");
        assert_eq!(r["inputRequests"]["elicitation-2"]["params"]["message"], "What is your favourite colour, Ada?");
        let state2 = r["requestState"].clone();
        assert_ne!(state1, state2);

        // The last round on another replica over the same store; an attempt to
        // replace the first answer through inputResponses is ignored.
        let replica = TestServer::testkit(&db).await;
        let last = post(&replica.url(), None, 4, "tools/call", introduce("So: ", json!({
            "inputResponses": {
                "elicitation-2": accept(json!({ "colour": "teal" })),
                "elicitation-1": accept(json!({ "name": "Mallory" })),
            },
            "requestState": state2 })), &[]).await;
        let r = &last.body["result"];
        assert_eq!(r["resultType"], "complete", "{}", last.body);
        assert_eq!(r["content"][0]["text"], "So: Ada likes teal");

        // Declining is an answer too.
        let declined = post(&url, None, 5, "tools/call", introduce("", json!({
            "inputResponses": { "elicitation-1": { "action": "decline" } } })), &[]).await;
        assert_eq!(declined.body["result"]["content"][0]["text"], "no name (Decline)", "{}", declined.body);
        replica.stop().await;
        server.stop().await;
    }

    // SEP-2322: requestState is sealed and bound. Tampered, taken to other
    // arguments, another tool or another user, or answered with something
    // that is not a result of the question: -32602, and the tool never
    // completes.
    async fn request_state_cannot_be_forged_or_moved(db) {
        let server = TestServer::start(&db, testkit::app().with_auth(gatehouse::Auth::OAuth)).await;
        let url = server.url();
        let (_, ada) = server.oauth().sign_up("ada@example.com", None).await;
        let (_, eve) = server.oauth().sign_up("eve@example.com", None).await;
        let ada = ada["access_token"].as_str().unwrap();
        let eve = eve["access_token"].as_str().unwrap();
        let first = post(&url, Some(ada), 1, "tools/call", introduce("Hi ", json!({})), &[]).await;
        assert_eq!(first.body["result"]["resultType"], "input_required", "{}", first.body);
        let state = first.body["result"]["requestState"].as_str().unwrap().to_string();
        let name = json!({ "elicitation-1": accept(json!({ "name": "Ada" })) });

        let mut tampered = state.clone().into_bytes();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'x' { b'y' } else { b'x' };
        let tampered = String::from_utf8(tampered).unwrap();
        for forged in [format!("{state}-TAMPERED"), tampered, "v1.abc.def".into(), String::new()] {
            let a = post(&url, Some(ada), 2, "tools/call", introduce("Hi ", json!({ "inputResponses": name, "requestState": forged })), &[]).await;
            assert!(invalid_params(&a).contains("integrity"), "{}", a.body);
        }
        let other_args = post(&url, Some(ada), 3, "tools/call", introduce("Bye ", json!({ "inputResponses": name, "requestState": state })), &[]).await;
        assert!(invalid_params(&other_args).contains("another request"));
        let other_tool = post(&url, Some(ada), 4, "tools/call", with_meta(json!({ "name": "echo", "arguments": { "greeting": "Hi " },
            "inputResponses": name, "requestState": state }), json!({})), &[]).await;
        assert!(invalid_params(&other_tool).contains("another request"));
        let other_user = post(&url, Some(eve), 5, "tools/call", introduce("Hi ", json!({ "inputResponses": name, "requestState": state })), &[]).await;
        assert!(invalid_params(&other_user).contains("another request"));

        let malformed = post(&url, Some(ada), 6, "tools/call", introduce("Hi ", json!({
            "inputResponses": { "elicitation-1": { "action": "maybe" } }, "requestState": state })), &[]).await;
        assert!(invalid_params(&malformed).contains("not a valid elicitation/create result"), "{}", malformed.body);
        for (bad, says) in [(json!(null), "`inputResponses` must be an object"), (json!({ "elicitation-1": 12345 }), "must be an object")] {
            let a = post(&url, Some(ada), 7, "tools/call", introduce("Hi ", json!({ "inputResponses": bad })), &[]).await;
            assert!(invalid_params(&a).contains(says), "{}", a.body);
        }
        // The real owner still goes on with the untouched state.
        let next = post(&url, Some(ada), 8, "tools/call", introduce("Hi ", json!({ "inputResponses": name, "requestState": state })), &[]).await;
        assert_eq!(next.body["result"]["inputRequests"]["elicitation-2"]["method"], "elicitation/create", "{}", next.body);
        server.stop().await;
    }
}
