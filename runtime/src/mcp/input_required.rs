//! 2026-07-28: what a handler asks of the client becomes an
//! `InputRequiredResult` (SEP-2322, the revision's multi round-trip requests), and the
//! client's retry carries the answers.
//!
//! There is no connection to hold a handler on, so a call that needs input is
//! run again from the start on every retry: each [`Context::ask`] is answered
//! from the `inputResponses` of this retry or from the answers of earlier
//! rounds, which travel in `requestState`. The first run that reaches a
//! question without an answer stops there ([`run_until_input`]): every
//! question asked in that poll (several, when the handler joins them) goes to
//! the client, with a new `requestState`.
//!
//! `requestState` is sealed (XChaCha20-Poly1305 with the server's key), so a
//! client can neither read nor forge it, and bound to the method, the tool,
//! prompt or resource, the arguments, the user and the OAuth client, with an
//! expiry: a state taken from one call does not answer another. Each earlier
//! answer is kept with a digest of the question it answered, so a handler
//! that asks something different on a later run (its data changed) asks
//! again instead of reading a stale answer.
//!
//! [`Context::ask`]: super::context::Context::ask

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::error::McpError;
use super::jsonrpc::{find, member};
use super::modern_method::ModernMethod;
use crate::oauth::sealing::{SealError, Sealer};
use crate::principal::Principal;

/// How long a `requestState` may come back: long enough for a person to fill
/// in a form, short enough that a leaked one soon answers nothing.
pub(crate) const STATE_LIFETIME_SECS: i64 = 30 * 60;

/// What the seal's associated data names, so no other sealed value of the
/// server opens as a request state.
const SEAL_PURPOSE: &str = "gatehouse mcp requestState v1";

/// What a request state belongs to, as a retry names it. The arguments are
/// kept as they came and digested only when a state is opened or sealed, so
/// a call that never asks anything does not pay for the digest; a tool's are
/// shared with the call, which reads them in place.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    method: &'static str,
    /// The tool or prompt name, or the resource URI.
    target: String,
    arguments: Arc<Value>,
    /// The caller (its user and client are sealed).
    principal: Arc<Principal>,
}

/// A binding as sealed into a state: the arguments as a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SealedBinding {
    method: String,
    target: String,
    /// Digest of the arguments (canonical JSON).
    arguments: String,
    user: String,
    client: Option<String>,
}

impl Binding {
    /// The binding of a request that may require input (`None` for other
    /// methods). `arguments`: a `tools/call`'s, already taken out of
    /// `params` (`CallToolParams::take_arguments`); other methods' are copied
    /// from `params`.
    pub(crate) fn of(
        method: ModernMethod,
        params: Option<&Value>,
        arguments: Option<&Arc<Value>>,
        principal: &Arc<Principal>,
    ) -> Option<Binding> {
        // The methods that name a target are those that may stop for input.
        let key = method.target_key()?;
        let get = |k: &str| params.and_then(|p| member(p, k));
        let target = get(key).and_then(Value::as_str).unwrap_or_default();
        let arguments = match arguments {
            Some(a) => a.clone(),
            None => Arc::new(get("arguments").cloned().unwrap_or(Value::Null)),
        };
        Some(Binding {
            method: method.as_str(),
            target: target.to_string(),
            arguments,
            principal: principal.clone(),
        })
    }

    fn sealed(&self) -> SealedBinding {
        SealedBinding {
            method: self.method.to_string(),
            target: self.target.clone(),
            arguments: digest(&self.arguments),
            user: self.principal.user_id.clone(),
            client: self.principal.client_id.clone(),
        }
    }
}

/// What `requestState` holds, sealed.
#[derive(Serialize, Deserialize)]
struct State {
    binding: SealedBinding,
    /// Unix seconds after which the state answers nothing.
    expires: i64,
    /// Answers of earlier rounds that the last run used.
    answered: IndexMap<String, Answer>,
    /// The questions the last run asked: key → digest.
    asked: IndexMap<String, String>,
}

/// An answer and, when known, the digest of the question it answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Answer {
    question: Option<String>,
    result: Value,
}

/// One run of a request that may require input. Every call of a tool is
/// one, and nearly every one carries no answers and asks nothing: the
/// handler's own lists are plain vectors (a handler asks a few questions,
/// looked up by key), and the answers a map made only when a request
/// carries some (their keys are the client's, as many as a body holds), so
/// an empty round draws no hash keys.
pub(crate) struct Round {
    binding: Binding,
    /// Key → answer; `None` when the request carried none.
    answers: Option<IndexMap<String, Answer>>,
    progress: Mutex<Progress>,
}

#[derive(Default)]
struct Progress {
    /// Questions without an answer, in the order asked: key → (method,
    /// params), each key once.
    asked: Vec<(String, (&'static str, Value))>,
    /// Answers this run read (carried to the next round).
    used: Vec<String>,
    /// Default keys handed out per kind of request.
    counters: Vec<(&'static str, u32)>,
    /// The run's waker, woken when a question is asked from another task.
    waker: Option<Waker>,
    /// An answer that is not a result of its request (-32602).
    invalid: Option<String>,
}

/// Whether a question has its answer.
pub(crate) enum Lookup {
    Answered(Value),
    /// Asked; the run stops at this point.
    Pending,
}

impl Round {
    /// Start a run: take `inputResponses` and `requestState` out of `params`
    /// and check them. Every problem is -32602: a malformed member, a state
    /// that does not open (tampered, another server's key), belongs to another
    /// request or user, or has expired.
    pub(crate) fn begin(
        sealer: &Sealer,
        binding: Binding,
        params: &mut Option<Value>,
        now: i64,
    ) -> Result<Round, McpError> {
        let invalid = |m: &str| McpError::InvalidParams(m.to_string());
        let (responses, state) = match params.as_mut().and_then(Value::as_object_mut) {
            // Usually neither is there: looked for before any removal hashes.
            Some(p) => {
                let mut take = |k: &str| find(p, k).is_some().then(|| p.remove(k)).flatten();
                (take("inputResponses"), take("requestState"))
            }
            None => (None, None),
        };
        if responses.is_none() && state.is_none() {
            // A first run: nothing to check.
            return Ok(Round {
                binding,
                answers: None,
                progress: Mutex::default(),
            });
        }
        let mut answers = IndexMap::new();
        let mut asked = IndexMap::new();
        let stateless = state.is_none();
        match state {
            None => {}
            Some(Value::String(sealed)) => {
                let plain = sealer.open(&sealed, SEAL_PURPOSE).map_err(|e| match e {
                    SealError::OtherKey | SealError::Damaged => {
                        invalid("requestState failed its integrity check")
                    }
                })?;
                let state: State = serde_json::from_str(&plain)
                    .map_err(|_| invalid("requestState failed its integrity check"))?;
                if state.binding != binding.sealed() {
                    return Err(invalid(
                        "requestState belongs to another request (method, name, arguments or caller differ)",
                    ));
                }
                if state.expires < now {
                    return Err(invalid("requestState has expired; call again without it"));
                }
                answers = state.answered;
                asked = state.asked;
            }
            Some(_) => return Err(invalid("`requestState` must be a string")),
        }
        match responses {
            None => {}
            Some(Value::Object(responses)) => {
                for (key, result) in responses {
                    if !result.is_object() {
                        return Err(McpError::InvalidParams(format!(
                            "`inputResponses.{key}` must be an object (the result of its request)"
                        )));
                    }
                    // With a state, only what it asked is taken: an answer of
                    // an earlier round cannot be replaced, and keys nobody
                    // asked for are ignored. Without one (a client answering
                    // ahead), answers are taken as they come.
                    match asked.get(&key) {
                        Some(question) => {
                            let question = Some(question.clone());
                            answers.insert(key, Answer { question, result });
                        }
                        None if stateless => {
                            let question = None;
                            answers.insert(key, Answer { question, result });
                        }
                        None => {}
                    }
                }
            }
            Some(_) => return Err(invalid("`inputResponses` must be an object")),
        }
        Ok(Round {
            binding,
            answers: Some(answers),
            progress: Mutex::new(Progress::default()),
        })
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().expect("input round lock")
    }

    /// A key for a request the handler did not name: `elicitation-1`, …
    pub(crate) fn next_key(&self, kind: &'static str) -> String {
        let mut p = self.progress();
        let n = match p.counters.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => n,
            None => {
                p.counters.push((kind, 0));
                &mut p.counters.last_mut().expect("just pushed").1
            }
        };
        *n += 1;
        format!("{kind}-{n}")
    }

    fn answer(&self, key: &str) -> Option<&Answer> {
        self.answers.as_ref()?.get(key)
    }

    /// The answer to a question, or note it as asked (and wake the run).
    pub(crate) fn lookup(&self, key: &str, method: &'static str, params: Value) -> Lookup {
        let question = question_digest(method, &params);
        if let Some(answer) = self.answer(key)
            && answer.question.as_ref().is_none_or(|q| *q == question)
        {
            self.progress().used.push(key.to_string());
            return Lookup::Answered(answer.result.clone());
        }
        let mut p = self.progress();
        if !p.asked.iter().any(|(k, _)| k == key) {
            p.asked.push((key.to_string(), (method, params)));
        }
        if let Some(w) = p.waker.take() {
            w.wake();
        }
        Lookup::Pending
    }

    /// An answer that is not a result of its request.
    pub(crate) fn malformed(&self, key: &str, method: &str, error: &serde_json::Error) {
        self.progress().invalid.get_or_insert_with(|| {
            format!("`inputResponses.{key}` is not a valid {method} result: {error}")
        });
    }

    /// The -32602 message for an answer that did not fit its request.
    pub(crate) fn invalid(&self) -> Option<String> {
        self.progress().invalid.clone()
    }

    fn has_asked(&self) -> bool {
        !self.progress().asked.is_empty()
    }

    /// The `InputRequiredResult` for the questions this run stopped at.
    pub(crate) fn input_required(&self, sealer: &Sealer, now: i64) -> Value {
        let p = self.progress();
        let mut requests = Map::new();
        let mut asked = IndexMap::new();
        for (key, (method, params)) in &p.asked {
            requests.insert(key.clone(), json!({ "method": method, "params": params }));
            asked.insert(key.clone(), question_digest(method, params));
        }
        let answered = p
            .used
            .iter()
            .filter_map(|k| Some((k.clone(), self.answer(k)?.clone())))
            .collect();
        let state = State {
            binding: self.binding.sealed(),
            expires: now + STATE_LIFETIME_SECS,
            answered,
            asked,
        };
        let plain = serde_json::to_string(&state).expect("a request state serializes");
        json!({
            "resultType": "input_required",
            "inputRequests": requests,
            "requestState": sealer.seal(&plain, SEAL_PURPOSE),
        })
    }
}

/// How a run ended.
pub(crate) enum Outcome<T> {
    Done(T),
    /// It asked for input it does not have; its future was dropped.
    NeedsInput,
}

/// Drive `run` until it finishes or waits with a question unanswered: every
/// question asked up to that point (in one poll, when joined) is collected.
pub(crate) async fn run_until_input<F: Future>(round: &Round, run: F) -> Outcome<F::Output> {
    let mut run = pin!(run);
    poll_fn(|cx| {
        {
            // Kept for a question asked from another task; cloned only when
            // the run's waker changes.
            let mut p = round.progress();
            if !p.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                p.waker = Some(cx.waker().clone());
            }
        }
        match run.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Outcome::Done(v)),
            Poll::Pending if round.has_asked() => Poll::Ready(Outcome::NeedsInput),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// SHA-256 of a value's canonical JSON (object keys sorted), hex, shortened.
fn digest(value: &Value) -> String {
    let mut text = String::new();
    canonical(value, &mut text);
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&Sha256::digest(text.as_bytes())[..16])
}

fn question_digest(method: &str, params: &Value) -> String {
    digest(&json!([method, params]))
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(user: &str) -> Principal {
        Principal {
            user_id: user.into(),
            client_id: Some("c".into()),
            scopes: None,
        }
    }

    fn call(args: Value) -> Option<Value> {
        Some(json!({ "name": "t", "arguments": args }))
    }

    fn binding(args: Value, user: &str) -> Binding {
        // As the call hands them over: taken out of its params.
        Binding::of(
            ModernMethod::ToolsCall,
            Some(&json!({ "name": "t" })),
            Some(&Arc::new(args)),
            &Arc::new(principal(user)),
        )
        .unwrap()
    }

    const NOW: i64 = 1_000_000;

    /// A first run that asks `key`, and the state it hands out.
    fn first_round(sealer: &Sealer, key: &str) -> String {
        let round = Round::begin(
            sealer,
            binding(json!({"a": 1, "b": 2}), "u"),
            &mut call(json!({})),
            NOW,
        )
        .unwrap();
        assert!(matches!(
            round.lookup(key, "roots/list", json!({})),
            Lookup::Pending
        ));
        let result = round.input_required(sealer, NOW);
        assert_eq!(result["inputRequests"][key]["method"], "roots/list");
        result["requestState"].as_str().unwrap().to_string()
    }

    fn retry(state: Value, responses: Value) -> Option<Value> {
        Some(
            json!({ "name": "t", "arguments": {}, "inputResponses": responses, "requestState": state }),
        )
    }

    /// Keys a handler does not name are counted per kind of request; a
    /// question asked twice under one key is asked once; answers given
    /// ahead, however many, are each found by their key.
    #[test]
    fn keys_questions_and_answers_each_once() {
        let sealer = Sealer::from_secret(&"k".repeat(32));
        let round =
            Round::begin(&sealer, binding(json!({}), "u"), &mut call(json!({})), NOW).unwrap();
        let keys: Vec<String> = ["elicitation", "elicitation", "sampling", "elicitation"]
            .into_iter()
            .map(|k| round.next_key(k))
            .collect();
        assert_eq!(
            keys,
            [
                "elicitation-1",
                "elicitation-2",
                "sampling-1",
                "elicitation-3"
            ]
        );
        for _ in 0..2 {
            assert!(matches!(
                round.lookup("a", "roots/list", json!({})),
                Lookup::Pending
            ));
        }
        assert!(matches!(
            round.lookup("b", "roots/list", json!({"x": 1})),
            Lookup::Pending
        ));
        let requests = round.input_required(&sealer, NOW)["inputRequests"].clone();
        assert_eq!(
            requests.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["a", "b"]
        );
        // Answers given ahead, without a state, as many as a client sends:
        // every one is taken and found by its key.
        let many: Map<String, Value> = (0..20_000)
            .map(|i| (format!("q-{i}"), json!({ "n": i })))
            .collect();
        let ahead = Round::begin(
            &sealer,
            binding(json!({}), "u"),
            &mut Some(json!({ "name": "t", "inputResponses": many })),
            NOW,
        )
        .unwrap();
        for i in [0, 19_999] {
            let Lookup::Answered(answer) = ahead.lookup(&format!("q-{i}"), "roots/list", json!({}))
            else {
                panic!("q-{i} was answered ahead");
            };
            assert_eq!(answer, json!({ "n": i }));
        }
    }

    #[test]
    fn answers_come_back_through_the_state() {
        let sealer = Sealer::from_secret(&"k".repeat(32));
        let state = first_round(&sealer, "roots");
        // Argument order does not matter; the binding is canonical.
        let b = binding(json!({"b": 2, "a": 1}), "u");
        let mut params = retry(json!(state), json!({ "roots": { "roots": [] } }));
        let round = Round::begin(&sealer, b.clone(), &mut params, NOW + 10).unwrap();
        assert!(
            params.unwrap().get("requestState").is_none(),
            "taken out of the params"
        );
        assert!(matches!(
            round.lookup("roots", "roots/list", json!({})),
            Lookup::Answered(_)
        ));
        // A second question: the next state carries the first answer.
        assert!(matches!(
            round.lookup("more", "roots/list", json!({"x": 1})),
            Lookup::Pending
        ));
        let next = round.input_required(&sealer, NOW + 10)["requestState"].clone();
        let round = Round::begin(
            &sealer,
            b,
            &mut retry(next, json!({ "more": {"roots": []} })),
            NOW + 20,
        )
        .unwrap();
        assert!(matches!(
            round.lookup("roots", "roots/list", json!({})),
            Lookup::Answered(_)
        ));
        assert!(matches!(
            round.lookup("more", "roots/list", json!({"x": 1})),
            Lookup::Answered(_)
        ));
    }

    #[test]
    fn earlier_answers_cannot_be_replaced() {
        let sealer = Sealer::from_secret(&"k".repeat(32));
        let state = first_round(&sealer, "roots");
        let b = || binding(json!({"a": 1, "b": 2}), "u");
        let round = Round::begin(
            &sealer,
            b(),
            &mut retry(json!(state), json!({ "roots": { "roots": [1] } })),
            NOW,
        )
        .unwrap();
        assert!(matches!(
            round.lookup("roots", "roots/list", json!({})),
            Lookup::Answered(_)
        ));
        assert!(matches!(
            round.lookup("next", "roots/list", json!({})),
            Lookup::Pending
        ));
        let next = round.input_required(&sealer, NOW)["requestState"].clone();
        let forged = json!({ "roots": { "roots": [2] }, "next": { "roots": [] } });
        let round = Round::begin(&sealer, b(), &mut retry(next, forged), NOW).unwrap();
        match round.lookup("roots", "roots/list", json!({})) {
            Lookup::Answered(v) => {
                assert_eq!(v, json!({ "roots": [1] }), "the first answer stands")
            }
            Lookup::Pending => panic!("the first answer is in the state"),
        }
    }

    #[test]
    fn an_answer_to_another_question_is_asked_again() {
        let sealer = Sealer::from_secret(&"k".repeat(32));
        let state = first_round(&sealer, "roots");
        let round = Round::begin(
            &sealer,
            binding(json!({"a": 1, "b": 2}), "u"),
            &mut retry(json!(state), json!({ "roots": { "roots": [] } })),
            NOW,
        )
        .unwrap();
        // The handler now asks something else under the same key.
        assert!(matches!(
            round.lookup("roots", "elicitation/create", json!({})),
            Lookup::Pending
        ));
    }

    #[test]
    fn forged_foreign_and_stale_states_are_refused() {
        let sealer = Sealer::from_secret(&"k".repeat(32));
        let state = first_round(&sealer, "roots");
        let begin = |b: Binding, state: Value, now: i64| match Round::begin(
            &sealer,
            b,
            &mut retry(state, json!({})),
            now,
        ) {
            Err(McpError::InvalidParams(m)) => m,
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("accepted"),
        };
        let ok = || binding(json!({"a": 1, "b": 2}), "u");
        assert!(begin(ok(), json!(format!("{state}-TAMPERED")), NOW).contains("integrity"));
        let mut flipped = state.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(begin(ok(), json!(String::from_utf8(flipped).unwrap()), NOW).contains("integrity"));
        let other_key = Sealer::from_secret(&"z".repeat(32));
        assert!(Round::begin(&other_key, ok(), &mut retry(json!(state), json!({})), NOW).is_err());
        assert!(
            begin(binding(json!({"a": 1, "b": 3}), "u"), json!(state), NOW)
                .contains("another request")
        );
        assert!(
            begin(
                binding(json!({"a": 1, "b": 2}), "mallory"),
                json!(state),
                NOW
            )
            .contains("another request")
        );
        assert!(begin(ok(), json!(state), NOW + STATE_LIFETIME_SECS + 1).contains("expired"));
        assert!(begin(ok(), json!(42), NOW).contains("must be a string"));
    }

    #[test]
    fn malformed_responses_are_refused() {
        let sealer = Sealer::from_secret(&"k".repeat(32));
        let b = || binding(json!({}), "u");
        let bad = |responses: Value| {
            let mut p = Some(json!({ "name": "t", "inputResponses": responses }));
            match Round::begin(&sealer, b(), &mut p, NOW) {
                Err(McpError::InvalidParams(m)) => m,
                _ => panic!("accepted {responses}"),
            }
        };
        assert!(bad(json!(null)).contains("`inputResponses` must be an object"));
        assert!(
            bad(json!({ "user_name": 12345 }))
                .contains("`inputResponses.user_name` must be an object")
        );
        // Without a state, answers are taken as they come; extra keys are ignored.
        let mut p = Some(json!({ "name": "t", "inputResponses": { "a": {}, "extra": {} } }));
        let round = Round::begin(&sealer, b(), &mut p, NOW).unwrap();
        assert!(matches!(
            round.lookup("a", "roots/list", json!({})),
            Lookup::Answered(_)
        ));
    }

    #[tokio::test]
    async fn a_run_stops_with_every_question_of_its_poll() {
        let sealer = Sealer::from_secret(&"k".repeat(32));
        let round = Round::begin(&sealer, binding(json!({}), "u"), &mut None, NOW).unwrap();
        let ask = |key: &'static str| {
            let round = &round;
            async move {
                match round.lookup(key, "roots/list", json!({})) {
                    Lookup::Answered(v) => v,
                    Lookup::Pending => std::future::pending().await,
                }
            }
        };
        let outcome = run_until_input(&round, async { tokio::join!(ask("a"), ask("b")) }).await;
        assert!(matches!(outcome, Outcome::NeedsInput));
        let result = round.input_required(&sealer, NOW);
        let keys: Vec<&String> = result["inputRequests"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["a", "b"]);
        // A run that needs nothing finishes.
        let outcome = run_until_input(&round, async { 7 }).await;
        assert!(matches!(outcome, Outcome::Done(7)));
    }
}
