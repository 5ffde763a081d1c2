//! Upstream sign-in end to end (issue 10; IDENTITY.md U-1..U-16), against a
//! real OpenID Certified provider on loopback (npm `oidc-provider`, see
//! `tests/upstream/provider.mjs`) and a GitHub-shaped OAuth 2.0 server beside
//! it, on every store backend. A `Browser` has its own cookie jar and follows
//! each redirect by hand, so every hop is seen and another `Browser` is another
//! browser.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse::Settings;
use gatehouse::settings::OAuthSettings;
use gatehouse::settings::UpstreamSettings;
use gatehouse_tests::browser::{Browser, Walk};
use gatehouse_tests::idp::Idp;
use gatehouse_tests::oauth::{Flow, PASSWORD, Page, Pkce, REDIRECT, Registered, params};
use gatehouse_tests::{TestDb, TestServer, backend_tests, federated};
use reqwest::StatusCode;
use serde_json::{Value, json};

const FEDERATED: &str = env!("CARGO_BIN_EXE_federated-server");

/// A provider process and a gatehouse server using it.
struct Fixture {
    idp: Idp,
    server: TestServer,
    flow: Flow,
}

async fn fixture(db: &TestDb) -> Fixture {
    fixture_with(db, federated::app(), Settings::default()).await
}

async fn fixture_with(db: &TestDb, app: gatehouse::App, settings: Settings) -> Fixture {
    let idp = Idp::start();
    let server = TestServer::start_env(db, app, settings, &idp.env()).await;
    let flow = server.oauth();
    Fixture { idp, server, flow }
}

/// What an MCP client holds while the person signs in.
struct Attempt {
    client: Registered,
    pkce: Pkce,
    authorize: String,
}

async fn attempt(flow: &Flow) -> Attempt {
    let client = flow.register_public(REDIRECT).await;
    let pkce = Pkce::new();
    let authorize = flow.authorize_url(&client, &pkce, "client-state", Some("notes:read"));
    Attempt {
        client,
        pkce,
        authorize,
    }
}

impl Fixture {
    /// In `browser`, from the client's authorization URL to the sign-in page.
    async fn sign_in_page(&self, browser: &Browser, a: &Attempt) -> Page {
        let page = browser.walk(&a.authorize, "", "never:").await.page();
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        page
    }

    /// The URL of a provider's button on the sign-in page.
    fn button(&self, page: &Page, provider: &str) -> String {
        let marker = format!("href=\"/oauth/upstream/{provider}?request=");
        let start = page
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("a {provider} button: {}", page.html))
            + "href=\"".len();
        let end = page.html[start..].find('"').unwrap() + start;
        self.flow.url(&page.html[start..end].replace("&amp;", "&"))
    }

    /// Click `provider`'s button and sign in there as `login`: the callback URL
    /// the provider sends the browser to (not requested yet).
    async fn to_callback(
        &self,
        browser: &Browser,
        page: &Page,
        provider: &str,
        login: &str,
    ) -> String {
        browser
            .walk(
                &self.button(page, provider),
                login,
                &self.flow.url("/oauth/callback/"),
            )
            .await
            .reached()
    }

    /// Deliver the callback, allow on the consent page: the redirect back to the
    /// MCP client.
    async fn finish(&self, browser: &Browser, callback: &str) -> String {
        match browser.walk(callback, "", REDIRECT).await {
            Walk::Reached(back) => back,
            Walk::Page(consent) => {
                assert_eq!(consent.status, StatusCode::OK, "consent: {}", consent.html);
                self.allow(browser, &consent).await
            }
        }
    }

    async fn allow(&self, browser: &Browser, consent: &Page) -> String {
        let request = consent.field("request").expect("the consent form");
        let csrf = consent.field("csrf").expect("its CSRF token");
        let allowed = browser
            .post_form(
                &self.flow.url("/oauth/consent"),
                &[
                    ("request", &request),
                    ("csrf", &csrf),
                    ("decision", "allow"),
                ],
            )
            .await;
        assert_eq!(allowed.status, StatusCode::SEE_OTHER, "{}", allowed.html);
        allowed.location().unwrap()
    }

    /// Exchange the code the client got: the token response.
    async fn tokens(&self, a: &Attempt, back: &str) -> Value {
        let p = params(back);
        assert_eq!(p["state"], "client-state");
        let (status, tokens) = self.flow.exchange(&a.client, &p["code"], &a.pkce).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        tokens
    }

    /// The whole connection: a new client, `login` at `provider`, allowed.
    async fn connect(&self, provider: &str, login: &str) -> Value {
        let browser = Browser::new();
        let a = attempt(&self.flow).await;
        let page = self.sign_in_page(&browser, &a).await;
        let callback = self.to_callback(&browser, &page, provider, login).await;
        let back = self.finish(&browser, &callback).await;
        self.tokens(&a, &back).await
    }

    /// The internal user id the `whoami` tool sees with these tokens (U-12).
    async fn whoami(&self, tokens: &Value) -> String {
        let session = self
            .server
            .client()
            .with_bearer(tokens["access_token"].as_str().unwrap())
            .initialize("2025-11-25")
            .await;
        let result = session.call_tool("whoami", json!({})).await;
        let who: Value =
            serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
        who["user"].as_str().unwrap().to_string()
    }

    async fn users(&self) -> usize {
        self.server.store.users().await.unwrap().len()
    }
}

fn sub_of(access_token: &str) -> String {
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

/// Password checks outside a server (the default limits).
fn guards() -> gatehouse::testing::Guards {
    gatehouse::testing::Guards::new(Default::default())
}

/// Run one statement against the test's store (to play a forged or
/// tampered-with row).
async fn exec(server: &TestServer, sql: &str) {
    if let Some(pool) = server.store.sqlite() {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(pool)
            .await
            .unwrap();
    } else if let Some(pool) = server.store.postgres() {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(pool)
            .await
            .unwrap();
    }
}

/// A page's "Try again" link.
fn retry_link(f: &Fixture, page: &Page) -> String {
    let start = page
        .html
        .find("href=\"/oauth/continue?request=")
        .expect("a Try again link")
        + 6;
    let end = page.html[start..].find('"').unwrap() + start;
    f.flow.url(&page.html[start..end])
}

backend_tests! {
    // The round trip through an OpenID Connect provider, hop by hop (U-1..U-4),
    // ending in gatehouse's own token for the internal user (U-11, U-12); the
    // provider's tokens never reach the client (U-14), and gatehouse's tokens
    // keep working while the provider is down (U-15).
    async fn sign_in_through_an_oidc_provider(db) {
        let mut f = fixture(&db).await;
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        // The authorization request binds the browser (login CSRF, and U-1
        // for the login transactions that follow).
        let authorized = browser.get(&a.authorize).await;
        assert_eq!(authorized.status, StatusCode::SEE_OTHER, "{}", authorized.html);
        let cookie = authorized.headers.get("set-cookie").unwrap().to_str().unwrap().to_string();
        assert!(cookie.starts_with("gatehouse_browser=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "U-1: {cookie}");
        let page = f.sign_in_page(&browser, &a).await;
        for label in ["Continue with SSO", "Continue with plain", "Continue with GitHub"] {
            assert!(page.html.contains(label), "{label}: {}", page.html);
        }
        assert!(page.html.contains("name=\"password\""), "passwords stay on");

        // The button: a transaction bound to the same browser, the provider.
        let start = browser.get(&f.button(&page, "sso")).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.html);
        let to = start.location().unwrap();
        assert!(to.starts_with(&format!("{}/auth?", f.idp.url("sso"))), "{to}");
        let q = params(&to);
        assert_eq!(q["redirect_uri"], f.flow.url("/oauth/callback/sso"), "U-4: one redirect URI per provider");
        assert_eq!(q["code_challenge_method"], "S256", "U-2");
        assert_eq!(q["code_challenge"].len(), 43);
        assert_eq!(q["scope"], "openid email profile");
        assert!(q["state"].len() >= 43 && q["nonce"].len() >= 43, "U-1, U-3: {to}");
        assert!(!to.contains(&a.client.client_id), "the MCP client's request stays here");

        let callback = browser.walk(&to, "alice", &f.flow.url("/oauth/callback/")).await.reached();
        assert!(callback.starts_with(&f.flow.url("/oauth/callback/sso?")), "{callback}");
        assert_eq!(params(&callback)["iss"], f.idp.url("sso"), "the provider names itself (RFC 9207)");
        let consent = browser.walk(&callback, "", REDIRECT).await.page();
        assert_eq!(consent.status, StatusCode::OK);
        assert!(consent.html.contains("Signed in as alice@example.com with SSO"), "U-16: {}", consent.html);
        let back = f.allow(&browser, &consent).await;
        let tokens = f.tokens(&a, &back).await;
        let mut keys: Vec<&str> = tokens.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["access_token", "expires_in", "refresh_token", "scope", "token_type"], "U-14: {tokens}");

        let user = f.whoami(&tokens).await;
        assert!(uuid::Uuid::parse_str(&user).is_ok(), "U-12: the internal id, not `alice`: {user}");
        assert_eq!(sub_of(tokens["access_token"].as_str().unwrap()), user);
        let identity = f.server.store.identity(&f.idp.url("sso"), "alice").await.unwrap().expect("U-11: keyed by (issuer, subject)");
        assert_eq!(identity.user_id, user);
        assert_eq!((identity.email.as_deref(), identity.email_verified), (Some("alice@example.com"), 1));
        let stored = f.server.store.user(&user).await.unwrap().unwrap();
        assert_eq!((stored.email.as_deref(), stored.name.as_deref()), (Some("alice@example.com"), Some("Alice")));

        // Another client, another browser: the same internal user.
        let again = f.connect("sso", "alice").await;
        assert_eq!(f.whoami(&again).await, user);
        assert_eq!(f.users().await, 1);

        // U-15: the provider goes away; gatehouse's session, token and refresh
        // do not depend on it.
        f.idp.stop();
        assert_eq!(f.whoami(&tokens).await, user);
        let (status, refreshed) = f.flow.refresh(&a.client, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        assert_eq!(f.whoami(&refreshed).await, user);
    }

    // An ID token without the email: it comes from userinfo, whose subject
    // must be the ID token's. With the claims parameter, a provider that keeps
    // it to userinfo puts it in the ID token instead.
    async fn email_from_userinfo_or_the_claims_parameter(db) {
        let f = fixture(&db).await;
        let tokens = f.connect("plain", "carol").await;
        let user = f.whoami(&tokens).await;
        let identity = f.server.store.identity(&f.idp.url("plain"), "carol").await.unwrap().unwrap();
        assert_eq!((identity.user_id.as_str(), identity.email.as_deref(), identity.email_verified), (user.as_str(), Some("carol@example.com"), 1));
        assert_eq!(f.idp.stats("plain").await["userinfo"], 1, "asked userinfo");

        // `other` may not create users: give Carol's user that identity by hand
        // first (as `users link` does), then sign in.
        f.server.store.link_identity_by_operator(&user, &f.idp.url("other"), "carol", "other", 1).await.unwrap();
        let tokens = f.connect("other", "carol").await;
        assert_eq!(f.whoami(&tokens).await, user);
        assert_eq!(f.idp.stats("other").await["userinfo"], 0, "the ID token carried the email");
        let identity = f.server.store.identity(&f.idp.url("other"), "carol").await.unwrap().unwrap();
        assert_eq!(identity.email.as_deref(), Some("carol@example.com"), "kept up to date at sign-in");
    }

    // U-13: someone who claims another person's email without the provider
    // vouching for it never joins their account; the real owner, with a verified
    // email, is linked to their existing user.
    async fn unverified_email_never_links(db) {
        let f = fixture(&db).await;
        let alice = gatehouse::testing::accounts::create_local_user(&f.server.store, "alice@example.com", PASSWORD).await.unwrap();

        let mallory = f.connect("sso", "mallory").await;
        let mallory_user = f.whoami(&mallory).await;
        assert_ne!(mallory_user, alice, "an unverified email must never link");
        let stored = f.server.store.user(&mallory_user).await.unwrap().unwrap();
        assert_eq!(stored.email, None, "an unverified email is not the user's email");
        let identity = f.server.store.identity(&f.idp.url("sso"), "mallory").await.unwrap().unwrap();
        assert_eq!((identity.email.as_deref(), identity.email_verified), (Some("alice@example.com"), 0));

        let real = f.connect("sso", "alice").await;
        assert_eq!(f.whoami(&real).await, alice, "linked by verified email");
        assert!(
            gatehouse::testing::accounts::sign_in(&f.server.store, &guards(), "alice@example.com", PASSWORD).await.unwrap().is_some(),
            "an account the operator made keeps its password"
        );
        assert_eq!(f.users().await, 2);
    }

    // U-13, pre-account-takeover: a password account made by self sign-up
    // (nobody checked its email) stops taking its password once the verified
    // owner of the email signs in through a provider.
    async fn linking_ends_an_unverified_password(db) {
        let f = fixture(&db).await;
        let (_, local) = f.flow.sign_up("carol@example.com", None).await;
        let local_user = sub_of(local["access_token"].as_str().unwrap());
        assert!(gatehouse::testing::accounts::sign_in(&f.server.store, &guards(), "carol@example.com", PASSWORD).await.unwrap().is_some());

        let tokens = f.connect("sso", "carol").await;
        assert_eq!(f.whoami(&tokens).await, local_user, "the same user");
        assert!(
            gatehouse::testing::accounts::sign_in(&f.server.store, &guards(), "carol@example.com", PASSWORD).await.unwrap().is_none(),
            "the unverified password no longer works"
        );
        // On the page too.
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let page = f.sign_in_page(&browser, &a).await;
        let refused = browser.post_form(&f.flow.url("/oauth/sign-in"), &[
            ("request", &page.field("request").unwrap()), ("csrf", &page.field("csrf").unwrap()),
            ("action", "sign_in"), ("email", "carol@example.com"), ("password", PASSWORD),
        ]).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        // And nobody can sign up again with that email.
        let again = f.server.store.create_local_user("x", "carol@example.com", "hash", false, 1).await.unwrap();
        assert!(!again, "the email belongs to a user");
    }

    // No account: a provider that may not create users, and a verified email
    // that belongs to a user of a provider that does not link.
    async fn no_account_without_sign_up(db) {
        let f = fixture(&db).await;
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let page = f.sign_in_page(&browser, &a).await;
        let callback = f.to_callback(&browser, &page, "other", "erin").await;
        let refused = browser.get(&callback).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
        assert!(refused.html.contains("There is no account on this server"), "{}", refused.html);
        assert_eq!(f.users().await, 0);
        // The page is the sign-in page again, for the same (renamed) request:
        // the person can choose another way.
        let callback = f.to_callback(&browser, &refused, "sso", "erin").await;
        let back = f.finish(&browser, &callback).await;
        let erin = f.whoami(&f.tokens(&a, &back).await).await;

        // `plain` does not link: Erin's verified email belongs to a user already.
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let page = f.sign_in_page(&browser, &a).await;
        let callback = f.to_callback(&browser, &page, "plain", "erin").await;
        let refused = browser.get(&callback).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.html.contains("An account with the email"), "{}", refused.html);
        assert_eq!(f.users().await, 1);
        assert!(f.server.store.identity(&f.idp.url("plain"), "erin").await.unwrap().is_none());
        let _ = erin;
    }

    // U-3: an ID token minted for another sign-in (its nonce) is refused; the
    // pending request survives.
    async fn wrong_nonce_is_refused(db) {
        let f = fixture(&db).await;
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let page = f.sign_in_page(&browser, &a).await;
        let callback = f.to_callback(&browser, &page, "sso", "alice").await;
        exec(&f.server, "UPDATE upstream_transactions SET nonce = 'another-sign-in'").await;
        let refused = browser.get(&callback).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(refused.html.contains("U-3"), "{}", refused.html);
        assert_eq!(f.users().await, 0);
        // Try again: the pending request is still there.
        let page = browser.get(&retry_link(&f, &refused)).await;
        let callback = f.to_callback(&browser, &page, "sso", "alice").await;
        let back = f.finish(&browser, &callback).await;
        f.tokens(&a, &back).await;
    }

    // U-1: a callback works once, only in the browser that started it.
    async fn callbacks_are_single_use_and_bound_to_the_browser(db) {
        let f = fixture(&db).await;
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let page = f.sign_in_page(&browser, &a).await;
        let callback = f.to_callback(&browser, &page, "sso", "alice").await;

        // Another browser (an attacker who got hold of the URL) is refused.
        let other = Browser::new();
        let stolen = other.get(&callback).await;
        assert_eq!(stolen.status, StatusCode::FORBIDDEN, "{}", stolen.html);
        assert!(stolen.html.contains("started in another browser"));
        assert!(stolen.headers.get("set-cookie").is_none(), "no session for the other browser");
        assert_eq!(f.server.store.identities().await.unwrap().len(), 0, "the code was not redeemed");
        // The same URL again, now in the right browser: used up.
        let replay = browser.get(&callback).await;
        assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.html);
        // The person starts over from the sign-in page, whose request is intact.
        let callback = f.to_callback(&browser, &page, "sso", "alice").await;
        let first = browser.get(&callback).await;
        assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.html);
        let replayed = browser.get(&callback).await;
        assert_eq!(replayed.status, StatusCode::BAD_REQUEST, "a replayed callback: {}", replayed.html);
        assert!(replayed.html.contains("has expired"));
        let back = f.finish(&browser, &f.flow.url(&first.location().unwrap())).await;
        f.tokens(&a, &back).await;
        assert_eq!(f.idp.stats("sso").await["token"], 1, "one code redeemed");
    }

    // U-4: an answer arriving on another provider's path, naming another
    // issuer, or not naming one where the provider always does, is refused
    // before the code is redeemed.
    async fn mix_up_is_refused(db) {
        let f = fixture(&db).await;
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let page = f.sign_in_page(&browser, &a).await;

        let callback = f.to_callback(&browser, &page, "sso", "alice").await;
        let elsewhere = callback.replace("/oauth/callback/sso?", "/oauth/callback/other?");
        let refused = browser.get(&elsewhere).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.html.contains("wrong provider"), "{}", refused.html);

        let callback = f.to_callback(&browser, &page, "sso", "alice").await;
        let forged = callback.replace(
            &url::form_urlencoded::byte_serialize(f.idp.url("sso").as_bytes()).collect::<String>(),
            &url::form_urlencoded::byte_serialize(f.idp.url("other").as_bytes()).collect::<String>(),
        );
        assert_ne!(forged, callback);
        let refused = browser.get(&forged).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.html.contains("RFC 9207"), "{}", refused.html);

        let page = browser.get(&retry_link(&f, &refused)).await;
        let callback = f.to_callback(&browser, &page, "sso", "alice").await;
        let iss = format!("&iss={}", url::form_urlencoded::byte_serialize(f.idp.url("sso").as_bytes()).collect::<String>());
        let refused = browser.get(&callback.replace(&iss, "")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.html.contains("does not name its issuer"), "{}", refused.html);

        assert_eq!(f.idp.stats("sso").await["token"], 0, "no code was redeemed");
        assert_eq!(f.users().await, 0);
    }

    // U-8: an expired ID token (from a provider whose clock is behind) is
    // refused; the pending request can still finish another way.
    async fn expired_id_tokens_are_refused(db) {
        let f = fixture(&db).await;
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let page = f.sign_in_page(&browser, &a).await;
        let callback = f.to_callback(&browser, &page, "stale", "alice").await;
        let refused = browser.get(&callback).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(refused.html.contains("expired (U-8)"), "{}", refused.html);
        assert_eq!(f.users().await, 0);
        let page = browser.get(&retry_link(&f, &refused)).await;
        let callback = f.to_callback(&browser, &page, "sso", "alice").await;
        let back = f.finish(&browser, &callback).await;
        f.whoami(&f.tokens(&a, &back).await).await;
    }

    // U-9: the provider rotates its key. A token with the new, unknown kid right
    // after the keys were fetched makes no refetch (rate-limited: a stream of
    // made-up kids is no stream of fetches); once the interval has passed, the
    // unknown kid makes one refetch and the new key works.
    async fn key_rotation(db) {
        let interval = Duration::from_secs(8);
        let settings = Settings {
            oauth: OAuthSettings {
                upstream: UpstreamSettings { jwks_refetch_interval: interval, ..UpstreamSettings::default() },
                ..OAuthSettings::default()
            },
            ..Settings::default()
        };
        let f = fixture_with(&db, federated::app(), settings).await;
        let first = f.connect("rotating", "alice").await;
        let fetched = std::time::Instant::now();
        let user = f.whoami(&first).await;
        assert_eq!(f.idp.stats("rotating").await["jwks"], 1);

        f.idp.rotate("rotating").await;
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let page = f.sign_in_page(&browser, &a).await;
        let callback = f.to_callback(&browser, &page, "rotating", "alice").await;
        let refused = browser.get(&callback).await;
        assert!(fetched.elapsed() < interval, "the test ran too slowly to say anything");
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(refused.html.contains("U-9"), "{}", refused.html);
        assert_eq!(f.idp.stats("rotating").await["jwks"], 1, "no refetch within the interval");

        tokio::time::sleep(interval.saturating_sub(fetched.elapsed()) + Duration::from_millis(100)).await;
        let page = browser.get(&retry_link(&f, &refused)).await;
        let callback = f.to_callback(&browser, &page, "rotating", "alice").await;
        let back = f.finish(&browser, &callback).await;
        assert_eq!(f.whoami(&f.tokens(&a, &back).await).await, user, "the rotated key works");
        assert_eq!(f.idp.stats("rotating").await["jwks"], 2, "one refetch");
    }

    // The provider down before the round trip and at the callback: a clear
    // page each time, nobody half signed in, and the MCP client's pending
    // request finishes once the provider is back.
    async fn provider_down(db) {
        let mut f = fixture(&db).await;
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let page = f.sign_in_page(&browser, &a).await;

        f.idp.stop();
        let down = browser.get(&f.button(&page, "sso")).await;
        assert_eq!(down.status, StatusCode::BAD_GATEWAY, "{}", down.html);
        assert!(down.html.contains("is not answering"), "{}", down.html);
        f.idp.restart();

        let page = browser.get(&retry_link(&f, &down)).await;
        assert_eq!(page.status, StatusCode::OK, "the request is still pending");
        let callback = f.to_callback(&browser, &page, "sso", "alice").await;
        f.idp.stop();
        let down = browser.get(&callback).await;
        assert_eq!(down.status, StatusCode::BAD_GATEWAY, "{}", down.html);
        assert_eq!(f.users().await, 0, "nobody half signed in");
        assert!(down.headers.get("set-cookie").is_none(), "no browser session");
        f.idp.restart();

        let page = browser.get(&retry_link(&f, &down)).await;
        assert_eq!(page.status, StatusCode::OK, "still pending after the failed callback: {}", page.html);
        let callback = f.to_callback(&browser, &page, "sso", "alice").await;
        let back = f.finish(&browser, &callback).await;
        f.whoami(&f.tokens(&a, &back).await).await;
        assert_eq!(f.users().await, 1);
    }

    // GitHub's shape: no ID token; the user from /user keyed by the numeric id
    // (never the login), the email only from a primary, verified entry of
    // /user/emails (U-11, U-13).
    async fn github_accounts(db) {
        let f = fixture(&db).await;
        let alice = gatehouse::testing::accounts::create_local_user(&f.server.store, "alice@example.com", PASSWORD).await.unwrap();
        let issuer = f.idp.url("github");

        let tokens = f.connect("github", "alice").await;
        assert_eq!(f.whoami(&tokens).await, alice, "linked by the primary verified email");
        let identity = f.server.store.identity(&issuer, "1001").await.unwrap().expect("keyed by the numeric id");
        assert_eq!((identity.email.as_deref(), identity.email_verified), (Some("alice@example.com"), 1));

        let mallory = f.connect("github", "mallory").await;
        let mallory_user = f.whoami(&mallory).await;
        assert_ne!(mallory_user, alice, "an unverified primary email never links");
        let identity = f.server.store.identity(&issuer, "1002").await.unwrap().unwrap();
        assert_eq!(identity.email, None, "a verified secondary address is not the email either");
        assert_eq!(identity.name.as_deref(), Some("Mallory"));
        assert!(f.server.store.identity(&issuer, "mallory").await.unwrap().is_none(), "never the login");
    }

    // Passwords off and one provider: /oauth/authorize sends the browser
    // straight to it, and the password form is refused.
    async fn one_provider_without_passwords(db) {
        let f = fixture_with(&db, federated::only_app(), Settings::default()).await;
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let start = browser.get(&a.authorize).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.html);
        let to = start.location().unwrap();
        assert!(to.starts_with(&format!("{}/auth?", f.idp.url("sso"))), "straight to the provider: {to}");
        assert!(start.headers.get("set-cookie").is_some(), "bound to this browser");
        let callback = browser.walk(&to, "alice", &f.flow.url("/oauth/callback/")).await.reached();
        let consent = browser.walk(&callback, "", REDIRECT).await.page();
        let refused = browser.post_form(&f.flow.url("/oauth/sign-in"), &[
            ("request", &consent.field("request").unwrap()), ("csrf", &consent.field("csrf").unwrap()),
            ("action", "sign_in"), ("email", "alice@example.com"), ("password", PASSWORD),
        ]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
        let back = f.allow(&browser, &consent).await;
        let user = f.whoami(&f.tokens(&a, &back).await).await;

        // Signed in on this browser: the next authorization needs no provider,
        // but a native app (public, loopback) is asked again (RFC 8252 8.6).
        let a = attempt(&f.flow).await;
        let next = browser.get(&a.authorize).await;
        assert_eq!(next.status, StatusCode::OK, "the consent page at once: {}", next.html);
        let back = f.allow(&browser, &next).await;
        assert!(back.starts_with(REDIRECT), "{back}");
        assert_eq!(f.whoami(&f.tokens(&a, &back).await).await, user);
        assert_eq!(f.idp.stats("sso").await["authorization"], 1);
    }

    // `store_tokens`: a tool gets a fresh provider token (refreshed when about
    // to expire), sealed at rest; when the provider forgets it, the tool says to
    // sign in again while gatehouse's own token keeps working (U-14, U-15).
    async fn tools_use_the_providers_token(db) {
        let mut f = fixture(&db).await;
        let tokens = f.connect("sso", "alice").await;
        let session = f.server.client().with_bearer(tokens["access_token"].as_str().unwrap()).initialize("2025-11-25").await;
        let userinfo = format!("{}/me", f.idp.url("sso"));
        let before = f.idp.stats("sso").await["token"].as_i64().unwrap();
        let result = session.call_tool("upstream_userinfo", json!({ "url": userinfo })).await;
        assert_ne!(result.get("isError"), Some(&json!(true)), "{result}");
        let said: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(said, json!({ "status": 200, "sub": "alice" }));
        // The provider's tokens live 30 s, under the refresh margin: refreshed.
        assert_eq!(f.idp.stats("sso").await["token"].as_i64().unwrap(), before + 1);
        let row = f.server.store.upstream_tokens(&f.whoami(&tokens).await, "sso").await.unwrap().unwrap();
        assert!(row.access_token.starts_with("v1.") && row.refresh_token.as_deref().is_some_and(|r| r.starts_with("v1.")), "sealed at rest");

        // The provider restarts and forgets its tokens.
        f.idp.restart();
        let result = session.call_tool("upstream_userinfo", json!({ "url": userinfo })).await;
        assert_eq!(result["isError"], json!(true), "{result}");
        assert!(result["content"][0]["text"].as_str().unwrap().contains("sign in with SSO again"), "{result}");
        assert!(f.server.store.upstream_tokens(&f.whoami(&tokens).await, "sso").await.unwrap().is_none(), "forgotten");
        assert!(uuid::Uuid::parse_str(&f.whoami(&tokens).await).is_ok(), "U-15");

        // A user who signed in with a password has no provider token.
        let (_, local) = f.flow.sign_up("dan@example.com", None).await;
        let s = f.server.client().with_bearer(local["access_token"].as_str().unwrap()).initialize("2025-11-25").await;
        let result = s.call_tool("upstream_userinfo", json!({ "url": userinfo })).await;
        assert_eq!(result["isError"], json!(true));
        assert!(result["content"][0]["text"].as_str().unwrap().contains("no SSO account is connected"), "{result}");
    }

    // The operator's side: which providers are offered (and why not), whether
    // they answer, the start-up log saying so; linking a provider account to a
    // user by hand, seeing it in `users list`, unlinking it.
    async fn operator_commands_for_providers(db) {
        let mut idp = Idp::start();
        let env: Vec<(String, String)> = idp.env().into_iter().filter(|(k, _)| k.starts_with("SSO_")).collect();
        let run = |args: &[&str], env: &[(String, String)]| {
            let out = std::process::Command::new(FEDERATED)
                .args(args)
                .env("DATABASE_URL", db.url())
                .env("RUST_LOG", "warn")
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .output()
                .expect("the server binary runs");
            (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
        };
        let (ok, listed, _) = run(&["providers", "list"], &env);
        assert!(ok);
        let sso = idp.url("sso");
        assert!(listed.contains(&format!("sso\toidc\toffered\tredirect URI http://127.0.0.1:8080/oauth/callback/sso\tdiscovery answers (issuer {sso})")), "{listed}");
        assert!(listed.contains("plain\toidc\tnot offered\tenvironment variables unset: PLAIN_CLIENT_ID, PLAIN_CLIENT_SECRET, PLAIN_ISSUER"), "{listed}");
        assert!(listed.contains("github\tgithub\tnot offered\tenvironment variables unset: GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET"), "{listed}");

        // The server says the same at start-up.
        let mut server = std::process::Command::new(FEDERATED)
            .env("DATABASE_URL", db.url()).env("GATEHOUSE_LISTEN", "127.0.0.1:0").env("RUST_LOG", "info").env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped())
            .spawn().unwrap();
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(server.stderr.take().unwrap()));
        let mut seen = Vec::new();
        while let Some(Ok(line)) = lines.next() {
            // The line announcing the server is ready names its public URL.
            let ready = line.contains("public_url=");
            seen.push(line);
            if ready { break; }
        }
        let _ = server.kill();
        let _ = server.wait();
        assert!(seen.iter().any(|l| l.contains("sign-in provider offered") && l.contains("provider=sso")), "{seen:#?}");
        assert!(seen.iter().any(|l| l.contains("sign-in provider not offered: environment variables unset: PLAIN_CLIENT_ID")), "{seen:#?}");

        let (ok, _, err) = run(&["users", "add", "ada@example.com", "--password", PASSWORD], &env);
        assert!(ok, "{err}");
        let (ok, out, err) = run(&["users", "link", "ada@example.com", "--provider", "sso", "--subject", "alice"], &env);
        assert!(ok, "{err}");
        assert_eq!(out.trim(), format!("linked sso alice ({sso}) to ada@example.com"));
        let (ok, _, err) = run(&["users", "link", "ada@example.com", "--provider", "sso", "--subject", "alice"], &env);
        assert!(!ok && err.contains("belongs to a user already"), "{err}");
        let (ok, _, err) = run(&["users", "link", "ada@example.com", "--provider", "nope", "--subject", "x"], &env);
        assert!(!ok && err.contains("declares no sign-in provider `nope`"), "{err}");
        let (ok, _, err) = run(&["users", "link", "ada@example.com", "--provider", "plain", "--subject", "x"], &env);
        assert!(!ok && err.contains("is not offered here") && err.contains("--issuer"), "{err}");
        let (_, users, _) = run(&["users", "list"], &env);
        assert!(users.contains("ada@example.com\tactive"), "{users}");
        assert!(users.contains("  identity\tlocal\tada@example.com\tpassword"), "{users}");
        assert!(users.contains(&format!("  identity\tsso\t{sso}\talice\t-")), "{users}");

        // Alice, signing in at the provider, is Ada's user now.
        let server = TestServer::start_env(&db, federated::app(), Settings::default(), &env).await;
        let f = Fixture { flow: server.oauth(), server, idp };
        let ada = gatehouse::testing::accounts::sign_in(&f.server.store, &guards(), "ada@example.com", PASSWORD).await.unwrap().unwrap().id;
        let tokens = f.connect("sso", "alice").await;
        assert_eq!(f.whoami(&tokens).await, ada);
        let (_, users, _) = run(&["users", "list"], &env);
        assert!(users.contains(&format!("  identity\tsso\t{sso}\talice\talice@example.com (verified)")), "kept up to date: {users}");

        let (ok, out, _) = run(&["users", "unlink", "ada@example.com", "--provider", "sso"], &env);
        assert!(ok);
        assert_eq!(out.trim(), "unlinked 1 sso identity of ada@example.com");
        assert!(f.server.store.identity(&sso, "alice").await.unwrap().is_none());

        // The provider down: `providers list` says so.
        idp = f.idp;
        idp.stop();
        let (_, listed, _) = run(&["providers", "list"], &env);
        assert!(listed.contains("sso\toidc\toffered") && listed.contains(&format!("discovery FAILED: could not reach {}", sso.trim_start_matches("http://"))), "{listed}");
    }

    // U-1 on https: the browser binding is a `__Host-` cookie, Secure, and the
    // redirect URI registered upstream is the public https URL's.
    async fn https_binds_the_browser_with_a_host_cookie(db) {
        let idp = Idp::start();
        let store = gatehouse::Store::connect(db.url()).await.unwrap();
        let mut config = gatehouse::Config::for_listen("127.0.0.1:0".parse().unwrap(), "unused");
        for (k, v) in idp.env() {
            config.env.set(k, v);
        }
        let server = TestServer::start_config(store, federated::app(), config, |c| {
            c.public_url = "https://mcp.example.com".parse().unwrap();
            c.public_url_given = true;
        })
        .await;
        let mut flow = server.oauth();
        flow.resource = "https://mcp.example.com/mcp".into();
        let f = Fixture { flow, server, idp };
        let browser = Browser::new();
        let a = attempt(&f.flow).await;
        let authorized = browser.get(&a.authorize).await;
        let cookie = authorized.headers.get("set-cookie").unwrap().to_str().unwrap();
        assert!(cookie.starts_with("__Host-gatehouse_browser=") && cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
        let page = f.sign_in_page(&browser, &a).await;
        let start = browser.get(&f.button(&page, "sso")).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.html);
        assert_eq!(params(&start.location().unwrap())["redirect_uri"], "https://mcp.example.com/oauth/callback/sso");
    }
}
