//! An app's own tables in the server's store (issue 14, item 4): one
//! migrations folder with portable SQL and per-dialect files, queries written
//! once, on SQLite and PostgreSQL.

use gatehouse::{AppMigrations, AppStore, Backend, Store, StoreError};
use gatehouse_tests::backend_tests;

static NOTES: AppMigrations = gatehouse::migrations!("migrations/notes");
static NOTES_CHANGED: AppMigrations = gatehouse::migrations!("migrations/notes_changed");

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Note {
    id: String,
    body: String,
    stars: i64,
    pinned: bool,
    due: Option<i64>,
}

fn note(id: &str, body: &str, stars: i64, pinned: bool, due: Option<i64>) -> Note {
    Note {
        id: id.into(),
        body: body.into(),
        stars,
        pinned,
        due,
    }
}

backend_tests! {
    async fn portable_queries_and_dialect_migrations(db) {
        let store = Store::connect(db.url()).await.unwrap();
        let notes = AppStore::open(&store, "notes", &NOTES).await.unwrap();
        assert_eq!(notes.backend(), store.backend());
        // Each database ran its own file of version 2.
        let (dialect,): (String,) = notes
            .query("SELECT name FROM dialect")
            .fetch_optional()
            .await
            .unwrap()
            .unwrap();
        let expected = match store.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(dialect, expected);

        // One INSERT for both, every kind of argument (a NULL too).
        let insert = |id: &'static str, owner: &'static str, body: &'static str, stars: i64, pinned: bool, due: Option<i64>| {
            notes
                .query("INSERT INTO notes (id, owner, body, stars, pinned, due) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(id)
                .bind(owner)
                .bind(body)
                .bind(stars)
                .bind(pinned)
                .bind(due)
        };
        assert_eq!(insert("n1", "alice", "Buy milk", 3, true, Some(42)).execute().await.unwrap(), 1);
        insert("n2", "alice", "buy bread", 1, false, None).execute().await.unwrap();
        insert("n3", "bob", "Buy a boat", 5, false, None).execute().await.unwrap();
        // A placeholder used twice, and the owner's rows only.
        let mine: Vec<Note> = notes
            .query("SELECT id, body, stars, pinned, due FROM notes WHERE owner = $1 AND (stars >= $2 OR $2 = 0) ORDER BY id")
            .bind("alice")
            .bind(0i64)
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(mine, vec![note("n1", "Buy milk", 3, true, Some(42)), note("n2", "buy bread", 1, false, None)]);
        // A query per dialect where the SQL differs.
        let found: Vec<Note> = notes
            .dialect(
                "SELECT id, body, stars, pinned, due FROM notes WHERE lower(body) GLOB $1 || '*' ORDER BY id",
                "SELECT id, body, stars, pinned, due FROM notes WHERE lower(body) LIKE $1 || '%' ORDER BY id",
            )
            .bind("buy ")
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(found.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["n1", "n2", "n3"]);
        // Values are bound, never spliced: a quote is data.
        let hostile = "x'); DROP TABLE notes; --";
        insert("n4", "mallory", hostile, 0, false, None).execute().await.unwrap();
        let back: Option<Note> = notes
            .query("SELECT id, body, stars, pinned, due FROM notes WHERE body = $1")
            .bind(hostile)
            .fetch_optional()
            .await
            .unwrap();
        assert_eq!(back.unwrap().id, "n4");
        assert_eq!(notes.query("DELETE FROM notes WHERE owner = $1").bind("alice").execute().await.unwrap(), 2);

        // Opening again applies nothing new and keeps the rows.
        let again = AppStore::open(&store, "notes", &NOTES).await.unwrap();
        let left: Vec<(String,)> = again.query("SELECT id FROM notes ORDER BY id").fetch_all().await.unwrap();
        assert_eq!(left, [("n3".to_string(),), ("n4".to_string(),)]);
        // gatehouse's own tables are untouched by the app's migrations table.
        assert!(store.session("none", 0).await.unwrap().is_none());
    }

    async fn app_names_are_plain_identifiers(db) {
        let store = Store::connect(db.url()).await.unwrap();
        for name in ["", "Notes", "1notes", "notes; DROP TABLE users", "notes\"", "a-b", &"n".repeat(41)] {
            let refused = AppStore::open(&store, name, &NOTES).await;
            assert!(matches!(refused, Err(StoreError::BadAppName(_))), "{name:?}: {:?}", refused.err());
        }
        // Nothing was created by the refused names, and a plain one opens.
        AppStore::open(&store, "notes_2", &NOTES).await.unwrap();
    }

    async fn a_migration_edited_after_it_ran_is_refused(db) {
        let store = Store::connect(db.url()).await.unwrap();
        let notes = AppStore::open(&store, "notes", &NOTES).await.unwrap();
        notes
            .query("INSERT INTO notes (id, owner, body) VALUES ($1, $2, $3)")
            .bind("kept")
            .bind("alice")
            .bind("still here")
            .execute()
            .await
            .unwrap();
        let refused = AppStore::open(&store, "notes", &NOTES_CHANGED).await;
        assert!(matches!(refused, Err(StoreError::Migration(_))), "{:?}", refused.err());
        // Nothing was lost, and the original migrations still open (on
        // PostgreSQL: the refused run's advisory lock was not left held).
        let notes = AppStore::open(&store, "notes", &NOTES).await.unwrap();
        let (body,): (String,) = notes
            .query("SELECT body FROM notes WHERE id = $1")
            .bind("kept")
            .fetch_optional()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(body, "still here");
        // Another app's migrations are tracked apart: the same versions apply
        // to it, and collide with the first app's table only in SQL.
        let other = AppStore::open(&store, "other", &NOTES).await;
        assert!(other.is_err(), "the second app's CREATE TABLE notes must fail: the table exists");
    }
}
