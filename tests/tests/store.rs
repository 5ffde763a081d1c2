//! The store API, one suite against every backend.

use gatehouse::Store;
use gatehouse::testing::{SessionRow, StreamState, now_ms};
use gatehouse_tests::backend_tests;

fn session(id: &str, now: i64, ttl: i64) -> SessionRow {
    SessionRow {
        id: id.to_string(),
        owner: "u1".into(),
        protocol_version: "2025-06-18".into(),
        client_info: r#"{"name":"t"}"#.into(),
        client_capabilities: "{}".into(),
        log_level: None,
        initialized: false,
        created_at: now,
        last_seen: now,
        expires_at: now + ttl,
    }
}

backend_tests! {
    async fn sessions_round_trip_and_expire(db) {
        let store = Store::connect(db.url()).await.unwrap();
        let now = now_ms();
        store.create_session(&session("s1", now, 60_000)).await.unwrap();
        store.create_session(&session("s2", now, 10)).await.unwrap();
        let got = store.session("s1", now).await.unwrap().unwrap();
        assert_eq!(got, session("s1", now, 60_000));
        store.mark_initialized("s1").await.unwrap();
        store.set_log_level("s1", "debug").await.unwrap();
        store.touch_session("s1", now + 5, now + 90_000).await.unwrap();
        let got = store.session("s1", now).await.unwrap().unwrap();
        assert!(got.initialized);
        assert_eq!(got.log_level.as_deref(), Some("debug"));
        assert_eq!((got.last_seen, got.expires_at), (now + 5, now + 90_000));
        // Expired sessions read as absent before the sweep deletes them.
        assert!(store.session("s2", now + 20).await.unwrap().is_none());
        assert_eq!(store.delete_expired_sessions(now + 20).await.unwrap(), 1);
        assert!(store.delete_session("s1").await.unwrap());
        assert!(!store.delete_session("s1").await.unwrap());
        assert!(store.session("s1", now).await.unwrap().is_none());
        // A duplicate id is an error, not an overwrite.
        store.create_session(&session("s3", now, 1000)).await.unwrap();
        assert!(store.create_session(&session("s3", now, 1000)).await.is_err());
    }

    // Event ids: per-stream sequences, gapless under concurrent writers, kept
    // across pruning (never reused), ended streams marked.
    async fn event_log_sequences(db) {
        let store = Store::connect(db.url()).await.unwrap();
        let now = now_ms();
        store.create_session(&session("s", now, 60_000)).await.unwrap();
        assert_eq!(store.open_stream("s", "g", now).await.unwrap(), StreamState { last_seq: 0, ended: false });
        assert_eq!(store.append_event("s", "g", "m1", false, now).await.unwrap(), 1);
        assert_eq!(store.append_event("s", "g", "m2", false, now).await.unwrap(), 2);
        assert_eq!(store.append_event("s", "p1", "x", false, now).await.unwrap(), 1, "each stream counts alone");
        let writers: Vec<_> = (0..20).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.append_event("s", "g", &format!("c{i}"), false, now).await.unwrap() })
        }).collect();
        let mut seqs = Vec::new();
        for w in writers {
            seqs.push(w.await.unwrap());
        }
        seqs.sort();
        assert_eq!(seqs, (3..=22).collect::<Vec<i64>>(), "concurrent appends take distinct, contiguous numbers");
        let after = store.events_after("s", "g", 20).await.unwrap();
        assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [21, 22]);
        assert_eq!(store.events_after("s", "p1", 0).await.unwrap()[0].message, "x");

        assert_eq!(store.append_event("s", "p1", "done", true, now).await.unwrap(), 2);
        assert_eq!(store.stream_state("s", "p1").await.unwrap(), Some(StreamState { last_seq: 2, ended: true }));
        store.end_stream("s", "p2", now).await.unwrap();
        assert_eq!(store.stream_state("s", "p2").await.unwrap(), Some(StreamState { last_seq: 0, ended: true }));

        // Prune to the newest 5 events of the session: the counter stays.
        let pruned = store.prune_events(0, 5).await.unwrap();
        assert_eq!(pruned, 24 - 5);
        assert_eq!(store.append_event("s", "g", "later", false, now).await.unwrap(), 23);
        // Everything older than now+1: gone; streams that ended and are empty too.
        store.prune_events(now + 1, 1000).await.unwrap();
        assert!(store.events_after("s", "g", 0).await.unwrap().is_empty());
        assert_eq!(store.stream_state("s", "g").await.unwrap().unwrap().last_seq, 23);
        // Deleting the session deletes its streams and events.
        store.delete_session("s").await.unwrap();
        assert!(store.stream_state("s", "g").await.unwrap().is_none());
    }

    // A client's answer is kept only for a request some replica waits for
    // (issue 12), once, and taken once; an unsolicited one is not stored.
    async fn client_responses_are_taken_once(db) {
        let store = Store::connect(db.url()).await.unwrap();
        let now = now_ms();
        store.create_session(&session("s", now, 60_000)).await.unwrap();
        assert!(!store.put_client_response("s", "\"gh-0\"", "{\"result\":0}").await.unwrap(), "nobody waits for gh-0");
        assert_eq!(store.take_client_response("s", "\"gh-0\"").await.unwrap(), None);
        store.await_client_response("s", "\"gh-1\"", now).await.unwrap();
        assert_eq!(store.take_client_response("s", "\"gh-1\"").await.unwrap(), None, "not answered yet");
        assert!(store.put_client_response("s", "\"gh-1\"", "{\"result\":1}").await.unwrap());
        assert!(!store.put_client_response("s", "\"gh-1\"", "{\"result\":2}").await.unwrap(), "the first answer counts");
        assert_eq!(store.take_client_response("s", "\"gh-1\"").await.unwrap().as_deref(), Some("{\"result\":1}"));
        assert_eq!(store.take_client_response("s", "\"gh-1\"").await.unwrap(), None);
        store.await_client_response("s", "\"gh-2\"", now).await.unwrap();
        store.forget_client_response("s", "\"gh-2\"").await.unwrap();
        assert!(!store.put_client_response("s", "\"gh-2\"", "{\"result\":2}").await.unwrap(), "no longer awaited");
    }

    // OAuth state: one SQL text on both backends. Unused dynamic registrations
    // expire; pre-registered clients do not; server secrets are created once.
    async fn oauth_clients_expire_and_secrets_persist(db) {
        let store = Store::connect(db.url()).await.unwrap();
        let client = |id: &str, registered: i64, last_used: Option<i64>| gatehouse::testing::ClientRow {
            id: id.into(), secret_hash: None, name: id.into(), redirect_uris: "[]".into(),
            grant_types: r#"["authorization_code"]"#.into(), scope: None, token_endpoint_auth_method: "none".into(),
            metadata_hash: None, registered, auto_approve: 0, created_at: 1_000, last_used_at: last_used, revoked_at: None,
        };
        store.upsert_client(&client("stale", 1, None)).await.unwrap();
        store.upsert_client(&client("used", 1, Some(50_000))).await.unwrap();
        store.upsert_client(&client("spec", 0, None)).await.unwrap();
        assert_eq!(store.delete_unused_clients(10_000).await.unwrap(), 1);
        assert!(store.client("stale").await.unwrap().is_none());
        assert!(store.client("used").await.unwrap().is_some());
        assert!(store.client("spec").await.unwrap().is_some(), "pre-registered clients never expire");
        let first = store.secret("k", "one").await.unwrap();
        let second = store.secret("k", "two").await.unwrap();
        assert_eq!((first.as_str(), second.as_str()), ("one", "one"), "the first value wins, for every replica");
        assert!(store.create_local_user("u1", "a@example.com", "hash", true, 1).await.unwrap());
        assert!(!store.create_local_user("u2", "a@example.com", "hash", false, 1).await.unwrap(), "one account per email");
        let (user, hash) = store.local_account("a@example.com").await.unwrap().unwrap();
        assert_eq!((user.id.as_str(), hash.as_str()), ("u1", "hash"));
    }

    // Migrations are idempotent: a second connect (another replica, a restart)
    // finds the schema in place.
    async fn reconnects_to_a_migrated_store(db) {
        let first = Store::connect(db.url()).await.unwrap();
        first.create_session(&session("kept", now_ms(), 60_000)).await.unwrap();
        let second = Store::connect(db.url()).await.unwrap();
        assert!(second.session("kept", now_ms()).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn rejects_unknown_database_urls() {
    let err = Store::connect("mysql://u:secret@h/db")
        .await
        .err()
        .expect("an error");
    let text = err.to_string();
    assert!(text.contains("unsupported database URL"), "{text}");
    assert!(
        !text.contains("secret"),
        "passwords never reach messages: {text}"
    );
}
