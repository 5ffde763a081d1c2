//! Micro-benchmarks of what every request pays for, so a regression shows up
//! before it reaches bench/run: JWT verification, JSON-RPC parsing, the hashes
//! behind PKCE and refresh tokens, and a whole authenticated `tools/call`
//! dispatched through the router in process (no TCP).
//!
//!   cargo bench -p gatehouse-bench

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse::testing::keys::{AccessClaims, Keys};
use gatehouse::testing::secrets;
use gatehouse::{Config, Store};
use salvo::prelude::*;
use salvo::test::{ResponseExt, TestClient};
use serde_json::{Value, json};

const BASE: &str = "http://127.0.0.1:5800";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn scratch_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let store = Store::connect(&url).await.expect("the store opens");
    (dir, store)
}

fn jwt(c: &mut Criterion) {
    let rt = runtime();
    let (_dir, store) = rt.block_on(scratch_store());
    let keys = rt.block_on(async {
        gatehouse::testing::keys::rotate(&store, None)
            .await
            .expect("a key");
        Keys::load(store.clone(), Duration::from_secs(3600), None)
            .await
            .expect("keys load")
    });
    let kid = keys.active_kid().expect("an active key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = AccessClaims {
        iss: BASE.into(),
        sub: "0f9c2b8e-1d7a-4c55-9a1e-6b7d3f2a8c10".into(),
        aud: format!("{BASE}/mcp"),
        client_id: "gh_benchclient000000000".into(),
        scope: "echo".into(),
        iat: now,
        exp: now + 3600,
        jti: "5d1c0b7e2a9f4e3d8c6b1a0f9e8d7c6b".into(),
    };
    let token = keys.sign(&kid, &claims).expect("signed");
    c.bench_function("jwt/sign_eddsa", |b| b.iter(|| keys.sign(&kid, &claims)));
    c.bench_function("jwt/verify_eddsa", |b| {
        b.to_async(&rt)
            .iter(|| keys.verify(&token, BASE, &claims.aud))
    });
}

fn jsonrpc(c: &mut Criterion) {
    let body = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "text": "hello, gatehouse" } } })
    .to_string();
    c.bench_function("jsonrpc/parse_tools_call", |b| {
        b.iter(|| {
            let v: Value = serde_json::from_slice(body.as_bytes()).expect("JSON");
            gatehouse::testing::jsonrpc::parse_message(v).expect("a message")
        })
    });
    // As a tools/call answer is written: the tool's result straight to text.
    let result = gatehouse::ToolResult::text("hello, gatehouse");
    let id = gatehouse::testing::jsonrpc::RequestId::Number(7);
    c.bench_function("jsonrpc/write_result", |b| {
        b.iter(|| gatehouse::testing::jsonrpc::result_message(&id, &result))
    });
}

fn hashing(c: &mut Criterion) {
    let verifier = secrets::random_token();
    let refresh = secrets::random_token();
    c.bench_function("hash/pkce_s256", |b| b.iter(|| secrets::s256(&verifier)));
    c.bench_function("hash/refresh_token_sha256", |b| {
        b.iter(|| secrets::hash(&refresh))
    });
    c.bench_function("hash/refresh_derive_hmac", |b| {
        b.iter(|| secrets::derive(b"0123456789abcdef0123456789abcdef", &refresh, "retry"))
    });
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let (_dir, service, token, session) = rt.block_on(async {
        let (dir, store) = scratch_store().await;
        let app = bench_server::app(store.clone()).await.expect("the app");
        let config = Config::for_listen("127.0.0.1:5800".parse().unwrap(), "unused");
        let mut server = app.start(&config, store.clone()).await.expect("it starts");
        let user = gatehouse::testing::accounts::create_local_user(&store, "bench@example.com", "correct horse battery")
            .await
            .expect("a user");
        let tokens = server
            .issue_for_operator(&user, None)
            .await
            .expect("OAuth is on")
            .expect("a token");
        let token = tokens["access_token"].as_str().expect("an access token").to_string();
        let service = Service::new(server.take_router());
        let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "bench", "version": "1" } } });
        let res = TestClient::post(format!("{BASE}/mcp"))
            .add_header("authorization", format!("Bearer {token}"), true)
            .add_header("accept", "application/json, text/event-stream", true)
            .json(&init)
            .send(&service)
            .await;
        let session = res.headers().get("mcp-session-id").expect("a session").to_str().unwrap().to_string();
        (dir, service, token, session)
    });
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "text": "hello, gatehouse" } } });
    c.bench_function("dispatch/tools_call_in_process", |b| {
        b.to_async(&rt).iter(|| async {
            let mut res = TestClient::post(format!("{BASE}/mcp"))
                .add_header("authorization", format!("Bearer {token}"), true)
                .add_header("accept", "application/json, text/event-stream", true)
                .add_header("mcp-session-id", &session, true)
                .add_header("mcp-protocol-version", "2025-11-25", true)
                .json(&call)
                .send(&service)
                .await;
            let body = res.take_string().await.expect("a body");
            assert!(body.contains("hello, gatehouse"), "{body}");
        })
    });
}

criterion_group!(benches, jwt, jsonrpc, hashing, dispatch);
criterion_main!(benches);
