//! JSON-RPC 2.0 as MCP uses it (L-1, L-2): parsing one message with the exact error
//! for each way it can be malformed, and building responses.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::McpError;
use super::version::ProtocolVersion;

/// A JSON-RPC request id, as the client chose it: a string or an integer,
/// never null (L-1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// An integer id.
    Number(i64),
    /// A string id.
    String(String),
}

impl RequestId {
    /// A key that keeps `1` and `"1"` apart.
    pub fn key(&self) -> String {
        match self {
            RequestId::Number(n) => n.to_string(),
            RequestId::String(s) => serde_json::to_string(s).unwrap_or_default(),
        }
    }

    fn from_value(v: &Value) -> Option<RequestId> {
        match v {
            Value::String(s) => Some(RequestId::String(s.clone())),
            Value::Number(n) => n.as_i64().map(RequestId::Number),
            _ => None,
        }
    }

    /// The id as JSON.
    pub fn to_value(&self) -> Value {
        match self {
            RequestId::Number(n) => json!(n),
            RequestId::String(s) => json!(s),
        }
    }
}

/// A request from the client.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: RequestId,
    pub method: String,
    /// The params without `_meta`, which is read into `meta`.
    pub params: Option<Value>,
    /// `_meta`, boxed: absent from most session-era requests, and a request
    /// is moved through several futures, each of which would hold its bytes
    /// (288 of them inline).
    pub meta: Option<Box<Meta>>,
}

/// A notification from the client (never answered).
#[derive(Debug, Clone)]
pub struct Notification {
    pub method: String,
    /// The params without `_meta`, which is read into `meta`.
    pub params: Option<Value>,
    /// `_meta`, boxed as [`Request::meta`]'s is.
    pub meta: Option<Box<Meta>>,
}

/// The members of `params._meta` the server reads, taken out of `params`
/// when the message is read (once, without a JSON tree for `_meta` on the
/// hot path; nothing reads its other members). Each is kept as sent, so the
/// checks that read it give their exact errors; `_meta` absent or not an
/// object reads as all absent.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// `io.modelcontextprotocol/protocolVersion` (2026-07-28).
    pub version: Option<Value>,
    /// `io.modelcontextprotocol/clientCapabilities` (2026-07-28).
    pub capabilities: Option<Value>,
    /// `io.modelcontextprotocol/logLevel` (2026-07-28).
    pub log_level: Option<Value>,
    /// `progressToken`.
    pub progress_token: Option<Value>,
}

/// The members a hand-written reader knows (`Meta`, `Envelope`), named by
/// a key read without copying it.
trait Members {
    fn named(key: &str) -> Self;
}

/// A member's key, read as the reader's `K`.
struct MemberKey<K>(K);

impl<'de, K: Members> Deserialize<'de> for MemberKey<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MemberKey<K>, D::Error> {
        struct Visit<K>(std::marker::PhantomData<K>);
        impl<K: Members> serde::de::Visitor<'_> for Visit<K> {
            type Value = MemberKey<K>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }

            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<MemberKey<K>, E> {
                Ok(MemberKey(K::named(key)))
            }
        }
        d.deserialize_str(Visit(std::marker::PhantomData))
    }
}

/// `_meta` read from an object (anything else fails the read): each member
/// it names kept as sent (`null` too), the others skipped, a member sent
/// twice an error (the message is then read as a tree, which keeps the
/// last). By hand: serde's derive inlines reading a value once per member,
/// four copies of the same code on every 2026-07-28 call's path, where
/// this reads every member it keeps at one place (`bench/analysis.md`).
impl<'de> Deserialize<'de> for Meta {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Meta, D::Error> {
        /// Which of `Meta`'s members a key names, if any.
        enum Key {
            Version,
            Capabilities,
            LogLevel,
            ProgressToken,
            Other,
        }
        impl Members for Key {
            fn named(key: &str) -> Key {
                match key {
                    "io.modelcontextprotocol/protocolVersion" => Key::Version,
                    "io.modelcontextprotocol/clientCapabilities" => Key::Capabilities,
                    "io.modelcontextprotocol/logLevel" => Key::LogLevel,
                    "progressToken" => Key::ProgressToken,
                    _ => Key::Other,
                }
            }
        }

        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Meta;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Meta, A::Error> {
                let mut meta = Meta::default();
                while let Some(MemberKey(key)) = map.next_key()? {
                    let slot = match key {
                        Key::Version => &mut meta.version,
                        Key::Capabilities => &mut meta.capabilities,
                        Key::LogLevel => &mut meta.log_level,
                        Key::ProgressToken => &mut meta.progress_token,
                        Key::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        return Err(serde::de::Error::custom("a `_meta` member sent twice"));
                    }
                    *slot = Some(map.next_value()?);
                }
                Ok(meta)
            }
        }
        d.deserialize_map(Visit)
    }
}

/// What a message without `_meta` has: nothing.
static NO_META: Meta = Meta {
    version: None,
    capabilities: None,
    log_level: None,
    progress_token: None,
};

impl Meta {
    /// Take `_meta` out of params read as a tree.
    fn take(params: &mut Option<Value>) -> Option<Box<Meta>> {
        match params
            .as_mut()
            .and_then(Value::as_object_mut)?
            .remove("_meta")?
        {
            // Every member is a `Value`: an object always reads.
            m @ Value::Object(_) => serde_json::from_value(m).ok().map(Box::new),
            _ => None,
        }
    }

    /// A message's `_meta`, or an empty one.
    fn of(meta: &Option<Box<Meta>>) -> &Meta {
        meta.as_deref().unwrap_or(&NO_META)
    }
}

/// `params` read straight from the body with `_meta` read into `Meta` on the
/// way. A `_meta` that is not an object (or `null`), or appears twice, fails
/// the read, and the message is read as a tree instead.
struct Params {
    params: Value,
    meta: Option<Box<Meta>>,
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Params, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Params;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object or an array")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Params, A::Error> {
                let mut params = Map::new();
                let mut meta = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "_meta" {
                        if meta.is_some() {
                            return Err(serde::de::Error::duplicate_field("_meta"));
                        }
                        meta = Some(map.next_value::<Meta>()?);
                    } else {
                        // A repeated member: the last one, as in a tree.
                        params.insert(key, map.next_value()?);
                    }
                }
                Ok(Params {
                    params: Value::Object(params),
                    meta: meta.map(Box::new),
                })
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Params, A::Error> {
                let array = Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Params {
                    params: array,
                    meta: None,
                })
            }
        }
        d.deserialize_any(Visit)
    }
}

/// The client's answer to a request the server sent.
#[derive(Debug, Clone)]
pub struct Response {
    pub id: RequestId,
    /// The whole message, as received.
    pub message: Value,
}

#[derive(Debug, Clone)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Response(Response),
}

/// Why a message could not be read, with the id when one could be recovered.
#[derive(Debug)]
pub struct Malformed {
    pub id: Option<RequestId>,
    pub error: McpError,
}

/// Read one JSON-RPC message.
pub fn parse_message(value: Value) -> Result<Message, Malformed> {
    let Value::Object(mut obj) = value else {
        return Err(Malformed {
            id: None,
            error: McpError::InvalidRequest("a JSON-RPC message must be an object".into()),
        });
    };
    let id = match obj.get("id") {
        None => None,
        Some(Value::Null) if obj.contains_key("method") => {
            return Err(invalid(
                None,
                "`id` must be a string or an integer, not null",
            ));
        }
        Some(Value::Null) => None,
        Some(v) => Some(
            RequestId::from_value(v)
                .ok_or_else(|| invalid(None, "`id` must be a string or an integer"))?,
        ),
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(id, "`jsonrpc` must be \"2.0\""));
    }
    if let Some(method) = obj.get("method") {
        let Value::String(method) = method else {
            return Err(invalid(id, "`method` must be a string"));
        };
        let method = method.clone();
        let mut params = match obj.remove("params") {
            None => None,
            Some(p @ (Value::Object(_) | Value::Array(_))) => Some(p),
            Some(_) => return Err(invalid(id, "`params` must be an object")),
        };
        let meta = Meta::take(&mut params);
        return Ok(match id {
            Some(id) => Message::Request(Request {
                id,
                method,
                params,
                meta,
            }),
            None => Message::Notification(Notification {
                method,
                params,
                meta,
            }),
        });
    }
    let has_result = obj.contains_key("result");
    let has_error = obj.contains_key("error");
    match (id, has_result, has_error) {
        (Some(id), true, false) | (Some(id), false, true) => Ok(Message::Response(Response {
            id,
            message: Value::Object(obj),
        })),
        (id, true, true) => Err(invalid(id, "a response has `result` or `error`, not both")),
        (None, true, _) | (None, _, true) => Err(invalid(
            None,
            "a response needs the `id` of the request it answers",
        )),
        (id, _, _) => Err(invalid(
            id,
            "a message needs a `method` (request or notification) or a `result`/`error` (response)",
        )),
    }
}

/// A message's envelope as `read_request` reads it: `jsonrpc` and `method`
/// borrowed from the body where they hold no escapes, `id` as sent, `params`
/// with `_meta` read out. Members it does not name are skipped; one sent
/// twice fails the read (the tree path then keeps the last); `null` or a
/// scalar for `params` fails it too (the tree path's error).
struct Envelope<'a> {
    jsonrpc: Option<std::borrow::Cow<'a, str>>,
    id: Option<Value>,
    method: Option<std::borrow::Cow<'a, str>>,
    params: Option<Params>,
}

/// By hand, as `Meta` is: serde's derive inlines reading a value once per
/// member, and this runs for every request; here the two strings are read
/// at one place.
impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Envelope<'de>, D::Error> {
        use serde::de::Error;
        use std::borrow::Cow;

        enum Key {
            Jsonrpc,
            Id,
            Method,
            Params,
            Other,
        }
        impl Members for Key {
            fn named(key: &str) -> Key {
                match key {
                    "jsonrpc" => Key::Jsonrpc,
                    "id" => Key::Id,
                    "method" => Key::Method,
                    "params" => Key::Params,
                    _ => Key::Other,
                }
            }
        }

        /// A string, borrowed from the body when it has no escapes.
        struct Text<'a>(Cow<'a, str>);
        impl<'de> Deserialize<'de> for Text<'de> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text<'de>, D::Error> {
                struct Visit;
                impl<'de> serde::de::Visitor<'de> for Visit {
                    type Value = Text<'de>;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a string")
                    }

                    fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                        Ok(Text(Cow::Borrowed(v)))
                    }

                    fn visit_str<E: Error>(self, v: &str) -> Result<Text<'de>, E> {
                        Ok(Text(Cow::Owned(v.to_owned())))
                    }

                    fn visit_string<E: Error>(self, v: String) -> Result<Text<'de>, E> {
                        Ok(Text(Cow::Owned(v)))
                    }
                }
                d.deserialize_str(Visit)
            }
        }

        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Envelope<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Envelope<'de>, A::Error> {
                let mut e = Envelope {
                    jsonrpc: None,
                    id: None,
                    method: None,
                    params: None,
                };
                // Which members were there (`null` included), for duplicates.
                let mut seen = [false; 4];
                let mut once = |at: usize| match std::mem::replace(&mut seen[at], true) {
                    true => Err(A::Error::custom("a member sent twice")),
                    false => Ok(()),
                };
                while let Some(MemberKey(key)) = map.next_key()? {
                    match key {
                        Key::Jsonrpc | Key::Method => {
                            let (at, slot) = match key {
                                Key::Jsonrpc => (0, &mut e.jsonrpc),
                                _ => (1, &mut e.method),
                            };
                            once(at)?;
                            // `null` reads as absent, as `Option` reads it.
                            *slot = map.next_value::<Option<Text>>()?.map(|t| t.0);
                        }
                        Key::Id => {
                            once(2)?;
                            e.id = Some(map.next_value()?);
                        }
                        Key::Params => {
                            once(3)?;
                            e.params = Some(map.next_value()?);
                        }
                        Key::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(e)
            }
        }
        d.deserialize_map(Visit)
    }
}

/// Read one request or notification straight from a POST's body, without
/// building a JSON tree for the envelope (the hot path: every call). Only a
/// well-formed request or notification is read here; anything else (a batch,
/// a response, a member of the wrong type, a duplicate member, invalid JSON)
/// is `None`, and the caller reads the body as a tree with `parse_message`,
/// whose errors are the ones clients get (L-1). For the messages it reads,
/// the result is exactly `parse_message`'s (unit test).
pub fn read_request(body: &[u8]) -> Option<Message> {
    // A struct also reads from a JSON array: only an object is a message here.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    if envelope.jsonrpc.as_deref() != Some("2.0") {
        return None;
    }
    let method = envelope.method?.into_owned();
    let (params, meta) = match envelope.params {
        None => (None, None),
        Some(Params { params, meta }) => (Some(params), meta),
    };
    Some(match envelope.id {
        None => Message::Notification(Notification {
            method,
            params,
            meta,
        }),
        Some(id) => Message::Request(Request {
            id: RequestId::from_value(&id)?,
            method,
            params,
            meta,
        }),
    })
}

fn invalid(id: Option<RequestId>, why: &str) -> Malformed {
    Malformed {
        id,
        error: McpError::InvalidRequest(why.into()),
    }
}

/// `{"jsonrpc":"2.0","id":…,"result":…}`, serialized straight from the result:
/// the form a response takes on the wire (a JSON body or an SSE event's data),
/// JSON written once.
pub fn result_message<T: Serialize + ?Sized>(id: &RequestId, result: &T) -> String {
    #[derive(Serialize)]
    struct Success<'a, T: ?Sized> {
        jsonrpc: &'static str,
        id: &'a RequestId,
        result: &'a T,
    }
    let message = Success {
        jsonrpc: "2.0",
        id,
        result,
    };
    serde_json::to_string(&message).unwrap_or_else(|e| {
        let error = McpError::internal(format!("the result could not be serialized: {e}"));
        error_response(Some(id), &error, ProtocolVersion::LATEST).to_string()
    })
}

/// An error response. Without an id (a message that could not be read), 2025-11-25
/// omits `id` (L-2); earlier revisions require `"id": null`.
pub fn error_response(id: Option<&RequestId>, error: &McpError, version: ProtocolVersion) -> Value {
    let mut obj = Map::new();
    obj.insert("jsonrpc".into(), json!("2.0"));
    match id {
        Some(id) => {
            obj.insert("id".into(), id.to_value());
        }
        None if version.is_2025_11_25_or_later() => {}
        None => {
            obj.insert("id".into(), Value::Null);
        }
    }
    obj.insert("error".into(), error.to_object());
    Value::Object(obj)
}

/// `{"jsonrpc":"2.0","method":…,"params":…}`
pub fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

/// A server-to-client request.
pub fn request(id: &RequestId, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id.to_value(), "method": method, "params": params })
}

impl Notification {
    /// `_meta` as read (empty when the notification had none).
    pub fn meta(&self) -> &Meta {
        Meta::of(&self.meta)
    }
}

impl Request {
    /// `_meta` as read (empty when the request had none).
    pub fn meta(&self) -> &Meta {
        Meta::of(&self.meta)
    }

    /// The progress token the client sent in `_meta` (a string or an
    /// integer), if any.
    pub(crate) fn progress_token(&self) -> Option<Value> {
        self.meta()
            .progress_token
            .as_ref()
            .filter(|t| t.is_string() || t.is_i64())
            .cloned()
    }
}

/// Objects this small are searched by comparing keys in order.
const SMALL_OBJECT: usize = 8;

/// A member of `value` if it is an object (`Value::get` for a key). A small
/// object (every `params` a client sends) is searched by comparing its keys
/// in order: serde_json's ordered map hashes the key with SipHash first,
/// which costs more than comparing a handful of short keys, and a
/// `tools/call` looks its members up about eight times. Keys are unique, so
/// the member found is the one `get` finds.
pub(crate) fn member<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    find(value.as_object()?, key)
}

/// `object.get(key)`, as [`member`] looks.
pub(crate) fn find<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if object.len() > SMALL_OBJECT {
        return object.get(key);
    }
    object.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// A member's value moved out of `object`, which is dropped after (a null is
/// left in its place in a small object): `remove` without hashing the key,
/// as [`member`] looks.
pub(crate) fn take(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
    if object.len() > SMALL_OBJECT {
        return object.remove(key);
    }
    object
        .iter_mut()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.take())
}

/// The params of a request as an object (absent params read as `{}`).
pub fn params_object(params: Option<Value>) -> Result<Map<String, Value>, McpError> {
    match params {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(McpError::InvalidParams("params must be an object".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_found_as_get_finds_them() {
        let mut big = Map::new();
        for i in 0..20 {
            big.insert(format!("k{i}"), json!(i));
        }
        for value in [
            json!({"name": "echo", "arguments": {"text": "hi"}, "_meta": {}}),
            json!({}),
            json!({"": 1, "name ": 2, "Name": 3}),
            Value::Object(big),
            json!([1, 2]),
            json!("name"),
            Value::Null,
        ] {
            for key in ["name", "arguments", "", "k3", "k19", "k20", "Name", "nam"] {
                assert_eq!(member(&value, key), value.get(key), "{value} {key:?}");
                if let Some(object) = value.as_object() {
                    assert_eq!(find(object, key), object.get(key));
                }
            }
        }
    }

    #[test]
    fn take_moves_out_what_remove_would() {
        let mut big = Map::new();
        for i in 0..20 {
            big.insert(format!("k{i}"), json!(i));
        }
        let small = json!({"name": "echo", "arguments": {"text": "hi"}, "n": null});
        for object in [small.as_object().unwrap().clone(), big] {
            for key in ["arguments", "name", "n", "k0", "k19", "absent", ""] {
                let (mut a, mut b) = (object.clone(), object.clone());
                assert_eq!(take(&mut a, key), b.remove(key), "{key:?}");
            }
        }
    }

    fn err(v: Value) -> (Option<RequestId>, i64) {
        let m = parse_message(v).unwrap_err();
        (m.id, m.error.code())
    }

    #[test]
    fn classifies_messages() {
        assert!(matches!(
            parse_message(json!({"jsonrpc":"2.0","id":1,"method":"ping"})),
            Ok(Message::Request(_))
        ));
        assert!(matches!(
            parse_message(json!({"jsonrpc":"2.0","method":"notifications/initialized"})),
            Ok(Message::Notification(_))
        ));
        assert!(matches!(
            parse_message(json!({"jsonrpc":"2.0","id":"s-1","result":{}})),
            Ok(Message::Response(_))
        ));
    }

    #[test]
    fn rejects_malformed_messages_with_invalid_request() {
        assert_eq!(err(json!([1])), (None, -32600));
        assert_eq!(
            err(json!({"jsonrpc":"2.0","id":null,"method":"ping"})),
            (None, -32600)
        );
        assert_eq!(
            err(json!({"jsonrpc":"2.0","id":1.5,"method":"ping"})),
            (None, -32600)
        );
        assert_eq!(
            err(json!({"jsonrpc":"1.0","id":7,"method":"ping"})),
            (Some(RequestId::Number(7)), -32600)
        );
        assert_eq!(
            err(json!({"jsonrpc":"2.0","id":7,"method":3})),
            (Some(RequestId::Number(7)), -32600)
        );
        assert_eq!(
            err(json!({"jsonrpc":"2.0","id":7,"method":"x","params":"s"})),
            (Some(RequestId::Number(7)), -32600)
        );
        assert_eq!(
            err(json!({"jsonrpc":"2.0","id":7})),
            (Some(RequestId::Number(7)), -32600)
        );
    }

    #[test]
    fn error_ids_follow_the_version() {
        let e = McpError::InvalidRequest("x".into());
        assert_eq!(
            error_response(None, &e, ProtocolVersion::V2025_06_18)["id"],
            Value::Null
        );
        assert!(
            error_response(None, &e, ProtocolVersion::V2025_11_25)
                .get("id")
                .is_none()
        );
    }

    /// What the tree path makes of the same bytes, for comparison.
    fn by_tree(body: &[u8]) -> Option<String> {
        let v: Value = serde_json::from_slice(body).ok()?;
        parse_message(v).ok().map(|m| format!("{m:?}"))
    }

    #[test]
    fn requests_are_read_without_a_tree_as_the_tree_reads_them() {
        let read = |body: &str| read_request(body.as_bytes()).map(|m| format!("{m:?}"));
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
            r#" {"method":"ping","id":"a\"b","jsonrpc":"2.0","x":[1,{"y":2}]}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","method":"ns","params":[1,2]}"#,
            r#"{"jsonrpc":"2.0","id":9223372036854775807,"method":"ping","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"progressToken":"p","io.modelcontextprotocol/logLevel":null,"other":{"a":1},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}},"cursor":"c","cursor":"d"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"_meta":{}}}"#,
        ] {
            assert!(read(body).is_some(), "read without a tree: {body}");
            assert_eq!(read(body), by_tree(body.as_bytes()), "{body}");
        }
        // Left to the tree path, which gives the exact error or the batch
        // (or, for a duplicate member, keeps the last as it always has).
        for body in [
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":null}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":"s"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}"#,
            r#"{"jsonrpc":"2.0","id":"s-1","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping""#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":null}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":"s"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{},"_meta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"progressToken":1,"progressToken":2}}}"#,
            // An array is not `_meta` (a struct would read it by position).
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":["2026-07-28",{}]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":[]}}"#,
        ] {
            assert_eq!(read(body), None, "{body}");
            // The tree path reads them all the same way: `_meta` that is not
            // an object is absent; a repeated member, the last.
            if let Some(tree) = by_tree(body.as_bytes()) {
                assert!(!tree.contains("\"_meta\""), "{tree}");
            }
        }
        // `_meta` is read out of params, its members kept as sent.
        let Some(Message::Request(r)) = read_request(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"n","_meta":{"progressToken":7,"io.modelcontextprotocol/protocolVersion":5}}}"#,
        ) else {
            panic!("a request")
        };
        assert_eq!(r.params, Some(json!({"name": "n"})));
        assert_eq!(r.meta().progress_token, Some(json!(7)));
        assert_eq!(r.meta().version, Some(json!(5)));
        assert_eq!(r.progress_token(), Some(json!(7)));
    }

    /// Any JSON value, nested a few levels, with JSON-RPC's keys likely.
    fn json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            prop::sample::select(vec!["2.0", "1.0", "ping", "tools/call", "initialize", ""])
                .prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            let key = prop::sample::select(vec![
                "jsonrpc",
                "id",
                "method",
                "params",
                "result",
                "error",
                "x",
                "_meta",
                "progressToken",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key, inner), 0..6).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { failure_persistence: None, ..Default::default() })]

        // Issue 12, item 11: any JSON is a message or -32600 with the id when
        // one could be read; never a panic. A request always has a string
        // method and an id; a response exactly one of result and error.
        #[test]
        fn any_json_is_a_message_or_invalid_request(v in json()) {
            match parse_message(v.clone()) {
                Ok(Message::Request(r)) => {
                    proptest::prop_assert_eq!(v["method"].as_str(), Some(r.method.as_str()));
                    proptest::prop_assert_eq!(v["jsonrpc"].as_str(), Some("2.0"));
                }
                Ok(Message::Notification(n)) => {
                    proptest::prop_assert_eq!(v["method"].as_str(), Some(n.method.as_str()));
                    proptest::prop_assert!(v.get("id").is_none_or(Value::is_null));
                }
                Ok(Message::Response(_)) => {
                    proptest::prop_assert!(v.get("result").is_some() != v.get("error").is_some());
                }
                Err(m) => proptest::prop_assert_eq!(m.error.code(), -32600),
            }
        }

        // Any bytes as a POST body: serde_json refuses or the parser answers.
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                let _ = parse_message(v);
            }
            if let Some(m) = read_request(&bytes) {
                proptest::prop_assert_eq!(Some(format!("{m:?}")), by_tree(&bytes));
            }
        }

        // The path without a tree reads a message as the tree path does, or
        // leaves it to the tree path.
        #[test]
        fn reading_without_a_tree_agrees_with_the_tree(v in json()) {
            let body = serde_json::to_vec(&v).unwrap();
            if let Some(m) = read_request(&body) {
                proptest::prop_assert_eq!(Some(format!("{m:?}")), by_tree(&body));
            }
        }
    }
}
