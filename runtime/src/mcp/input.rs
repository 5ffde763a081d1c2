//! What a handler may ask the client for in the middle of a request, typed:
//! a form for the user ([`Elicitation`] → [`ElicitResult`]), a completion of
//! the client's model ([`Sampling`] → [`SamplingResult`]) and the client's
//! roots ([`ListRoots`] → [`Roots`]). One API for both protocol eras: in a
//! session each is a request to the client on the request's stream; in the
//! 2026-07-28 era the call ends with an `InputRequiredResult` and the client's
//! retry carries the answer ([`super::input_required`]).

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use super::wire::{Content, Role};

/// A request a handler sends to the client. Implemented by [`Elicitation`],
/// [`Sampling`] and [`ListRoots`]; sealed.
pub trait InputRequest: private::Sealed {
    /// What the client answers with.
    type Output: DeserializeOwned;
    /// The JSON-RPC method.
    const METHOD: &'static str;
    /// The client capability it needs (L-8).
    const CAPABILITY: &'static str;
    /// The prefix of its default keys (`elicitation-1`, …).
    const KIND: &'static str;
    /// The name of the request within its call (2026-07-28 `inputRequests`
    /// key), if the handler chose one.
    fn chosen_key(&self) -> Option<&str>;
    /// The request's `params`.
    fn params(&self) -> Value;
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Elicitation {}
    impl Sealed for super::Sampling {}
    impl Sealed for super::ListRoots {}
}

/// `elicitation/create` in form mode: a message and the flat object schema of
/// what the user is asked to fill in.
#[derive(Debug, Clone)]
pub struct Elicitation {
    message: String,
    requested_schema: Value,
    key: Option<String>,
}

impl Elicitation {
    /// Ask for the fields of `T` (a struct of strings, numbers, booleans and
    /// enums, as elicitation allows), described by its JSON Schema.
    pub fn form<T: JsonSchema>(message: impl Into<String>) -> Elicitation {
        let mut schema = schemars::schema_for!(T).to_value();
        if let Some(object) = schema.as_object_mut() {
            // Elicitation schemas are a restricted, flat subset: no meta-data.
            object.remove("$schema");
            object.remove("title");
        }
        Elicitation::with_schema(message, schema)
    }

    /// Ask with a schema written out (for defaults, titled enums and the like).
    pub fn with_schema(message: impl Into<String>, requested_schema: Value) -> Elicitation {
        Elicitation {
            message: message.into(),
            requested_schema,
            key: None,
        }
    }

    /// Name this request within the call (the `inputRequests` key of the
    /// 2026-07-28 era; by default `elicitation-1`, `elicitation-2`, … in the
    /// order the handler asks).
    pub fn key(mut self, key: impl Into<String>) -> Elicitation {
        self.key = Some(key.into());
        self
    }
}

impl InputRequest for Elicitation {
    type Output = ElicitResult;
    const METHOD: &'static str = "elicitation/create";
    const CAPABILITY: &'static str = "elicitation";
    const KIND: &'static str = "elicitation";

    fn chosen_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    fn params(&self) -> Value {
        json!({ "message": self.message, "requestedSchema": self.requested_schema })
    }
}

/// What the user did with an elicitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElicitAction {
    /// Submitted the form (`content` holds the values).
    Accept,
    /// Refused explicitly.
    Decline,
    /// Dismissed it without choosing.
    Cancel,
}

/// The client's answer to an [`Elicitation`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ElicitResult {
    /// What the user did.
    pub action: ElicitAction,
    /// The submitted values (with `accept`).
    #[serde(default)]
    pub content: Option<Map<String, Value>>,
}

impl ElicitResult {
    /// The submitted values as `T` when the user accepted; `Ok(None)` when
    /// they declined or cancelled.
    pub fn accepted<T: DeserializeOwned>(&self) -> Result<Option<T>, serde_json::Error> {
        if self.action != ElicitAction::Accept {
            return Ok(None);
        }
        let content = Value::Object(self.content.clone().unwrap_or_default());
        serde_json::from_value(content).map(Some)
    }
}

/// One message of a [`Sampling`] conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SamplingMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: Content,
}

/// `sampling/createMessage`: a conversation for the client's model.
#[derive(Debug, Clone)]
pub struct Sampling {
    messages: Vec<SamplingMessage>,
    max_tokens: u32,
    system_prompt: Option<String>,
    temperature: Option<f64>,
    key: Option<String>,
}

impl Sampling {
    /// A conversation of one user message, answered in at most `max_tokens`.
    pub fn prompt(text: impl Into<String>, max_tokens: u32) -> Sampling {
        Sampling {
            messages: vec![SamplingMessage {
                role: Role::User,
                content: Content::text(text),
            }],
            max_tokens,
            system_prompt: None,
            temperature: None,
            key: None,
        }
    }

    /// Add a message to the conversation.
    pub fn message(mut self, role: Role, content: Content) -> Sampling {
        self.messages.push(SamplingMessage { role, content });
        self
    }

    /// The system prompt the client's model should use.
    pub fn system_prompt(mut self, prompt: impl Into<String>) -> Sampling {
        self.system_prompt = Some(prompt.into());
        self
    }

    /// The sampling temperature to ask for.
    pub fn temperature(mut self, temperature: f64) -> Sampling {
        self.temperature = Some(temperature);
        self
    }

    /// Name this request within the call (default `sampling-1`, …).
    pub fn key(mut self, key: impl Into<String>) -> Sampling {
        self.key = Some(key.into());
        self
    }
}

impl InputRequest for Sampling {
    type Output = SamplingResult;
    const METHOD: &'static str = "sampling/createMessage";
    const CAPABILITY: &'static str = "sampling";
    const KIND: &'static str = "sampling";

    fn chosen_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    fn params(&self) -> Value {
        let mut params = json!({ "messages": self.messages, "maxTokens": self.max_tokens });
        if let Some(s) = &self.system_prompt {
            params["systemPrompt"] = json!(s);
        }
        if let Some(t) = self.temperature {
            params["temperature"] = json!(t);
        }
        params
    }
}

/// The client model's answer to a [`Sampling`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SamplingResult {
    /// Who answered (the assistant).
    pub role: Role,
    /// One block, or several (2025-11-25 allows an array).
    #[serde(deserialize_with = "one_or_many")]
    pub content: Vec<Content>,
    /// The model that answered.
    pub model: String,
    /// Why the model stopped (`endTurn`, `maxTokens`, …).
    #[serde(default)]
    pub stop_reason: Option<String>,
}

impl SamplingResult {
    /// The text of the answer's text blocks, joined.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|c| match c {
                Content::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("")
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Content>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Content),
        Many(Vec<Content>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(c) => vec![c],
        OneOrMany::Many(c) => c,
    })
}

/// `roots/list`: the directories or files the client lets the server see.
#[derive(Debug, Clone, Default)]
pub struct ListRoots {
    key: Option<String>,
}

impl ListRoots {
    /// Ask for the client's roots.
    pub fn new() -> ListRoots {
        ListRoots::default()
    }

    /// Name this request within the call (default `roots-1`, …).
    pub fn key(mut self, key: impl Into<String>) -> ListRoots {
        self.key = Some(key.into());
        self
    }
}

impl InputRequest for ListRoots {
    type Output = Roots;
    const METHOD: &'static str = "roots/list";
    const CAPABILITY: &'static str = "roots";
    const KIND: &'static str = "roots";

    fn chosen_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    fn params(&self) -> Value {
        json!({})
    }
}

/// The client's answer to [`ListRoots`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Roots {
    /// The roots, as the client lists them.
    pub roots: Vec<Root>,
}

/// One root: a `file://` URI and an optional name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Root {
    /// Its `file://` URI.
    pub uri: String,
    /// A name for people.
    #[serde(default)]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(JsonSchema, Deserialize)]
    #[allow(dead_code)]
    struct Name {
        /// Your name
        name: String,
    }

    #[test]
    fn a_form_is_the_flat_schema_of_its_type() {
        let e = Elicitation::form::<Name>("Who are you?").key("who");
        assert_eq!(e.chosen_key(), Some("who"));
        let p = e.params();
        assert_eq!(p["message"], "Who are you?");
        assert_eq!(p["requestedSchema"]["type"], "object");
        assert_eq!(p["requestedSchema"]["properties"]["name"]["type"], "string");
        assert_eq!(p["requestedSchema"]["required"], json!(["name"]));
        assert!(p["requestedSchema"].get("$schema").is_none());
    }

    #[test]
    fn answers_are_read_into_types() {
        let r: ElicitResult =
            serde_json::from_value(json!({ "action": "accept", "content": { "name": "Ada" } }))
                .unwrap();
        let name: Name = r.accepted().unwrap().unwrap();
        assert_eq!(name.name, "Ada");
        let declined: ElicitResult =
            serde_json::from_value(json!({ "action": "decline" })).unwrap();
        assert!(declined.accepted::<Name>().unwrap().is_none());
        assert!(serde_json::from_value::<ElicitResult>(json!({ "action": "maybe" })).is_err());

        let one: SamplingResult = serde_json::from_value(json!({
            "role": "assistant", "content": { "type": "text", "text": "Paris" }, "model": "m"
        }))
        .unwrap();
        assert_eq!(one.text(), "Paris");
        let many: SamplingResult = serde_json::from_value(json!({
            "role": "assistant", "model": "m", "stopReason": "endTurn",
            "content": [{ "type": "text", "text": "Pa" }, { "type": "text", "text": "ris" }]
        }))
        .unwrap();
        assert_eq!(many.text(), "Paris");
        assert!(serde_json::from_value::<Roots>(json!({ "roots": [{ "name": "x" }] })).is_err());
    }
}
