//! What a spec may say: the serde + schemars types a YAML spec deserializes into.
//!
//! Every struct denies unknown keys, so a typo is an error with a position, never a
//! silently ignored setting. Doc comments become descriptions in `specs/schema.json`,
//! which editors use to validate and complete spec files.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// A gatehouse server spec.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "gatehouse spec")]
pub struct Spec {
    /// Who the server is; sent to clients in the `initialize` result.
    pub server: ServerInfo,
    /// How clients authenticate: `oauth` (the default: the built-in OAuth 2.1
    /// authorization server) or `none` (every caller is one local user).
    #[serde(default)]
    pub auth: Auth,
    /// OAuth scopes that tools, prompts and resources may require, by name.
    #[serde(default)]
    pub scopes: IndexMap<String, Scope>,
    /// Scopes every tool, prompt, resource and resource template needs unless
    /// it names its own (`scopes: []` for none). Default: none.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Pre-registered OAuth clients, by client id.
    #[serde(default)]
    pub clients: IndexMap<String, Client>,
    /// Dynamic client registration (RFC 7591).
    #[serde(default)]
    pub registration: Registration,
    /// Client ID Metadata Documents: clients whose `client_id` is an https
    /// URL where their metadata is published (MCP 2026-07-28 authorization).
    #[serde(default)]
    pub client_metadata_documents: ClientDocuments,
    /// Token lifetimes.
    #[serde(default)]
    pub tokens: Tokens,
    /// What `/oauth/authorize` and registration do with requested scopes this
    /// server does not define (`offline_access`, `openid profile email`, …):
    /// `ignore` them and grant the rest (default; RFC 6749 3.3 lets a server
    /// grant less), or `reject` the request with `invalid_scope`.
    #[serde(default)]
    pub unknown_scopes: UnknownScopes,
    /// How users sign in.
    #[serde(default)]
    pub sign_in: SignIn,
    /// Which browser origins may call the server (DNS-rebinding defence, CORS).
    #[serde(default)]
    pub origins: Origins,
    /// MCP tools, by name. Each becomes a typed method on the generated `Tools` trait.
    #[serde(default)]
    pub tools: IndexMap<String, Tool>,
    /// MCP prompts, by name: minijinja templates with declared arguments.
    #[serde(default)]
    pub prompts: IndexMap<String, Prompt>,
    /// MCP resources with a fixed URI, by name.
    #[serde(default)]
    pub resources: IndexMap<String, Resource>,
    /// MCP resource templates (RFC 6570 URI templates), by name; read by a handler method.
    #[serde(default)]
    pub resource_templates: IndexMap<String, ResourceTemplate>,
    /// How long 2026-07-28 clients may reuse `server/discover` and the list
    /// results (tools, prompts, resources, templates), and with whom. They
    /// change only with a new deployment. Default: five minutes, `public`.
    #[serde(default)]
    pub caching: Option<Caching>,
    /// Named object and enum types that fields use by name (`type: Memory`,
    /// `items: Memory`): one Rust type for every use, with the same JSON
    /// Schema as writing the shape out at each use.
    #[serde(default)]
    pub types: IndexMap<String, Field>,
}

/// Caching hints of a 2026-07-28 result (`ttlMs`, `cacheScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Caching {
    /// Milliseconds a client may reuse the result (0: ask every time).
    pub ttl_ms: u64,
    /// `public`: the same for every caller, shared caches may keep it;
    /// `private`: only for the caller who asked.
    pub scope: CacheScope,
}

/// Who may reuse a cached result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    Public,
    Private,
}

impl CacheScope {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheScope::Public => "public",
            CacheScope::Private => "private",
        }
    }
}

impl Caching {
    /// The default for what the spec itself holds (lists, static resources).
    pub const CATALOG: Caching = Caching {
        ttl_ms: 300_000,
        scope: CacheScope::Public,
    };
    /// The default for what a handler returns (it may be the caller's own).
    pub const HANDLER: Caching = Caching {
        ttl_ms: 0,
        scope: CacheScope::Private,
    };
}

/// Server identity and the hint text given to the model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerInfo {
    /// Programmatic name, e.g. `memory`.
    pub name: String,
    /// Human-readable name (protocol 2025-06-18 and later).
    #[serde(default)]
    pub title: Option<String>,
    /// Version string, e.g. `0.1.0` (quote it if YAML would read a number).
    pub version: String,
    /// One-line description (protocol 2025-11-25).
    #[serde(default)]
    pub description: Option<String>,
    /// Home page of the server (protocol 2025-11-25).
    #[serde(default)]
    pub website_url: Option<String>,
    /// Instructions for the model on how to use this server.
    #[serde(default)]
    pub instructions: Option<String>,
}

/// How clients authenticate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// The built-in OAuth 2.1 authorization server; `/mcp` needs a bearer token.
    #[default]
    OAuth,
    /// No sign-in: every caller is the same local user. Only for local use.
    None,
}

/// A pre-registered OAuth client.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Shown on the consent page.
    pub name: String,
    /// Exact redirect URIs (https, or http on loopback; loopback ports may vary).
    pub redirect_uris: Vec<String>,
    /// Scopes the client may be granted (default: all declared scopes).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Skip the consent page for this client.
    #[serde(default)]
    pub auto_approve: bool,
    /// A confidential client: the environment variable holding its secret.
    #[serde(default)]
    pub secret_env: Option<String>,
}

/// What to do with requested scopes the server does not define.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnknownScopes {
    /// Leave them out and grant the rest; `offline_access` is the request for a
    /// refresh token, which is issued anyway.
    #[default]
    Ignore,
    /// Refuse the request (`invalid_scope`, or `invalid_client_metadata` at
    /// registration).
    Reject,
}

/// Which known MCP clients (`specs/clients.yaml`) may register: `all`, or a
/// list of their names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSelection {
    All,
    Only(Vec<String>),
}

#[cfg(feature = "load")]
impl ClientSelection {
    /// The selected profiles' names, in the data file's order.
    pub fn names(&self) -> Vec<String> {
        let known = crate::clients::profiles();
        match self {
            ClientSelection::All => known.keys().cloned().collect(),
            ClientSelection::Only(names) => known
                .keys()
                .filter(|k| names.contains(k))
                .cloned()
                .collect(),
        }
    }
}

impl<'de> Deserialize<'de> for ClientSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(ClientSelection::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "`{w}` is not `all`; list client names instead, e.g. [claude, chatgpt]"
            ))),
            Raw::List(names) => Ok(ClientSelection::Only(names)),
        }
    }
}

impl JsonSchema for ClientSelection {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ClientSelection".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // The spec's own schema is made by the loader, which knows the names.
        #[cfg(feature = "load")]
        let names: Vec<&String> = crate::clients::profiles().keys().collect();
        #[cfg(not(feature = "load"))]
        let names: Vec<&String> = Vec::new();
        schemars::json_schema!({
            "description": "`all`, or the names of known MCP clients (specs/clients.yaml).",
            "anyOf": [
                { "const": "all" },
                { "type": "array", "items": { "enum": names } }
            ]
        })
    }
}

/// Dynamic client registration (RFC 7591) at `/oauth/register`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Whether clients may register themselves (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Known MCP clients whose redirect URIs (and browser origins) are
    /// accepted: `all` (the default) or a list such as `[claude, chatgpt,
    /// cursor]` (names from specs/clients.yaml, documented in docs/clients.md).
    #[serde(default = "all_clients")]
    pub clients: ClientSelection,
    /// More redirect URIs registered clients may use, besides the clients':
    /// exact URLs, `https://host/path/*` (one path segment), `https://*.example.com/…`
    /// (one subdomain label), URLs with `:*` as the port, an app's own scheme
    /// by exact URI (`myapp://callback`), or `loopback` (any port and path on
    /// `127.0.0.1`, `[::1]`, `localhost`).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Of those, the patterns whose clients skip the consent page.
    #[serde(default)]
    pub auto_approve: Vec<String>,
    /// A registered client never used for this long is deleted (default 30d).
    #[serde(default = "default_unused_expiry")]
    pub expire_unused_after: HumanDuration,
    /// The known clients `clients` selects, in file order: filled in by the
    /// loader from specs/clients.yaml, so a server reads them without it.
    #[serde(skip)]
    #[schemars(skip)]
    pub selected: Vec<SelectedClient>,
}

impl Default for Registration {
    fn default() -> Self {
        Registration {
            enabled: true,
            clients: all_clients(),
            redirect_uris: Vec::new(),
            auto_approve: Vec::new(),
            expire_unused_after: default_unused_expiry(),
            selected: Vec::new(),
        }
    }
}

/// A known MCP client a spec accepts: what a server needs of its profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedClient {
    /// Its name in specs/clients.yaml (`claude`, `vscode`).
    pub id: String,
    /// Shown on the consent page when the client is recognised.
    pub name: String,
    /// Redirect-URI patterns (`redirect::RedirectPattern`).
    pub redirect_uris: Vec<String>,
    /// Browser origins where the client runs as a web page.
    pub origins: Vec<String>,
}

/// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
/// a client names itself by the https URL of a JSON document with its name and
/// redirect URIs, which the server fetches instead of a registration.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientDocuments {
    /// Whether URL client ids are accepted (default true; advertised as
    /// `client_id_metadata_document_supported`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The document URLs accepted: exact URLs, or patterns where `*` matches
    /// any run of characters other than `/` (e.g. `https://*.example.com/oauth/*`).
    /// Default: any https URL.
    #[serde(default)]
    pub allow: Vec<String>,
    /// The largest document read, in bytes (default 32768, at least 5120).
    #[serde(default = "default_document_bytes")]
    pub max_bytes: u32,
    /// Documents written here instead of fetched, by URL: for clients whose
    /// URL answers a server with a challenge page (e.g. Claude's
    /// `https://claude.ai/oauth/mcp-oauth-client-metadata`).
    #[serde(default)]
    pub pinned: IndexMap<String, PinnedDocument>,
}

impl Default for ClientDocuments {
    fn default() -> Self {
        ClientDocuments {
            enabled: true,
            allow: Vec::new(),
            max_bytes: default_document_bytes(),
            pinned: IndexMap::new(),
        }
    }
}

fn default_document_bytes() -> u32 {
    32 * 1024
}

/// A client's metadata document, written in the spec.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinnedDocument {
    /// The name shown on the consent page.
    pub client_name: String,
    /// Where codes may be sent (exact; a loopback URI on any port).
    pub redirect_uris: Vec<String>,
}

fn all_clients() -> ClientSelection {
    ClientSelection::All
}

fn default_unused_expiry() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30 * 24 * 3600))
}

/// Token lifetimes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// Access token lifetime (default 1h; at most 24h).
    #[serde(default = "default_access")]
    pub access_lifetime: HumanDuration,
    /// Refresh token lifetime (default 30d).
    #[serde(default = "default_refresh")]
    pub refresh_lifetime: HumanDuration,
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens {
            access_lifetime: default_access(),
            refresh_lifetime: default_refresh(),
        }
    }
}

fn default_access() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(3600))
}

fn default_refresh() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30 * 24 * 3600))
}

/// Sign-in: local accounts (email + password) and upstream identity providers
/// (OpenID Connect, Google, Microsoft, Supabase, GitHub), each mapped to the
/// server's own users.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// Let people create an account (default false): on the sign-in page with a
    /// password, and at their first sign-in through a provider (unless the
    /// provider says otherwise with `sign_up`).
    #[serde(default)]
    pub self_signup: bool,
    /// Local accounts with an email and a password (default true). With `false`
    /// and exactly one provider offered, `/oauth/authorize` sends the browser
    /// straight to that provider.
    #[serde(default = "yes")]
    pub password: bool,
    /// Upstream identity providers, by name. The name is the last path segment
    /// of the redirect URI to register with the provider:
    /// `{public URL}/oauth/callback/{name}`.
    #[serde(default)]
    pub providers: IndexMap<String, Provider>,
}

impl Default for SignIn {
    fn default() -> Self {
        SignIn {
            self_signup: false,
            password: true,
            providers: IndexMap::new(),
        }
    }
}

/// What kind of identity provider, and so what is known about it in advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenID Connect provider, found by its issuer URL (discovery): Auth0,
    /// Okta, Keycloak, Zitadel, a company's SSO.
    Oidc,
    /// Google (OpenID Connect, issuer `https://accounts.google.com`).
    Google,
    /// Microsoft Entra ID (OpenID Connect) for one `tenant`, or `common` /
    /// `organizations` with a `tenants` allowlist.
    Microsoft,
    /// Supabase Auth's OAuth 2.1 server (OpenID Connect) of the project at
    /// `project_url_env`; its issuer is `{project URL}/auth/v1`.
    Supabase,
    /// GitHub (plain OAuth 2.0, no OpenID Connect): the user from `/user`, keyed
    /// by the numeric id; the email only from a primary, verified entry of
    /// `/user/emails`. GitHub Enterprise Server with `url_env`.
    Github,
}

/// How gatehouse authenticates itself at a provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamClientAuth {
    /// HTTP Basic with the client id and secret.
    ClientSecretBasic,
    /// The client id and secret in the form body.
    ClientSecretPost,
    /// A public client: no secret, PKCE only.
    None,
}

/// An upstream identity provider people may sign in with.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// `oidc`, `google`, `microsoft`, `supabase` or `github`.
    pub kind: ProviderKind,
    /// The button's text (default: "Continue with Google", "Continue with
    /// GitHub", …, or "Continue with {name}").
    #[serde(default)]
    pub label: Option<String>,
    /// The button's icon: a `data:image/png;base64,…` or `data:image/svg+xml,…` URI.
    #[serde(default)]
    pub icon: Option<String>,
    /// `oidc`: the environment variable holding the issuer URL (default
    /// `{NAME}_ISSUER`).
    #[serde(default)]
    pub issuer_env: Option<String>,
    /// The environment variable holding the client id (default `{NAME}_CLIENT_ID`).
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// The environment variable holding the client secret (default
    /// `{NAME}_CLIENT_SECRET`; not read with `client_auth: none`).
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// How to authenticate at the token endpoint (default: what the provider
    /// advertises, Basic first; GitHub: the form body).
    #[serde(default)]
    pub client_auth: Option<UpstreamClientAuth>,
    /// Scopes to ask for (default `openid email profile`; GitHub `read:user user:email`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Claims to ask for in the ID token with the `claims` parameter, for
    /// providers that otherwise only return them from userinfo (e.g. `email`,
    /// `email_verified`, `name`).
    #[serde(default)]
    pub claims: Vec<String>,
    /// Extra parameters of the authorization request, e.g. `prompt:
    /// select_account`, or Google's `access_type: offline` (which `google`
    /// adds by itself with `store_tokens`). The protocol's own parameters
    /// cannot be set here.
    #[serde(default)]
    pub authorization_params: IndexMap<String, String>,
    /// `microsoft`: a directory (tenant) id, or `common`, `organizations` or
    /// `consumers`.
    #[serde(default)]
    pub tenant: Option<String>,
    /// `microsoft` with `common` or `organizations`: the tenant ids whose users
    /// may sign in (`"*"`: any tenant).
    #[serde(default)]
    pub tenants: Vec<String>,
    /// `supabase`: the environment variable holding the project URL, e.g.
    /// `https://abcd.supabase.co` (default `{NAME}_URL`).
    #[serde(default)]
    pub project_url_env: Option<String>,
    /// `github`: the environment variable holding a GitHub Enterprise Server
    /// URL, e.g. `https://github.example.com` (unset: github.com).
    #[serde(default)]
    pub url_env: Option<String>,
    /// Whether a first sign-in creates a user (default: `sign_in.self_signup`).
    #[serde(default)]
    pub sign_up: Option<bool>,
    /// At a first sign-in, join an existing user with the same email, but only
    /// when the provider says the email is verified (default false).
    #[serde(default)]
    pub link_by_email: bool,
    /// Keep the provider's access and refresh tokens (encrypted) so that tools
    /// can call its API as the user (`Context::upstream_token`). Default false.
    #[serde(default)]
    pub store_tokens: bool,
}

/// A duration written like `90s`, `15m`, `1h`, `30d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub std::time::Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a duration like 90s, 1h or 30d: {e}"
                ))
            })
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration such as 90s, 15m, 1h or 30d.",
            "pattern": "^[0-9]+\\s*[a-z]+( *[0-9]+\\s*[a-z]+)*$"
        })
    }
}

/// An OAuth scope.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// What the scope allows, as shown to the user on the consent page.
    pub description: String,
}

/// Origin rules. Requests without an `Origin` header (server-to-server clients) are
/// always allowed; browser requests must come from an allowed origin or get 403.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Origins {
    /// Allowed origins: `https://claude.ai`, `https://*.example.com`, `http://localhost:*`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Also allow `http://localhost`, `127.0.0.1` and `[::1]` on any port (default true).
    #[serde(default = "yes")]
    pub loopback: bool,
}

impl Default for Origins {
    fn default() -> Self {
        Origins {
            allow: Vec::new(),
            loopback: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// An MCP tool.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// Human-readable name (protocol 2025-06-18 and later).
    #[serde(default)]
    pub title: Option<String>,
    /// What the tool does, for the model.
    pub description: String,
    /// Scopes a token needs to call this tool; each must be declared under
    /// `scopes` (default: `default_scopes`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Input fields by name; they become the typed arguments struct.
    #[serde(default)]
    pub input: IndexMap<String, Field>,
    /// Instead of `input`: a JSON Schema (2020-12) given as is, for schemas the
    /// field types cannot express (`$defs`, `$ref`, combinators). The method then
    /// receives the arguments as a JSON object.
    #[serde(default)]
    pub input_schema: Option<serde_json::Value>,
    /// Output fields by name; when present the tool returns `structuredContent`
    /// conforming to the generated `outputSchema`.
    #[serde(default)]
    pub output: Option<IndexMap<String, Field>>,
    /// Behaviour hints for clients.
    #[serde(default)]
    pub annotations: Annotations,
}

/// Tool behaviour hints (untrusted by clients; they are hints, not guarantees).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Annotations {
    /// Display title.
    #[serde(default)]
    pub title: Option<String>,
    /// The tool does not modify its environment.
    #[serde(default)]
    pub read_only: Option<bool>,
    /// The tool may perform destructive updates.
    #[serde(default)]
    pub destructive: Option<bool>,
    /// Calling the tool again with the same arguments has no further effect.
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// The tool interacts with an open world of external entities.
    #[serde(default)]
    pub open_world: Option<bool>,
}

/// The type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    #[default]
    String,
    Integer,
    Number,
    Boolean,
    Enum,
    Array,
    Object,
}

impl FieldKind {
    pub const ALL: [FieldKind; 7] = [
        FieldKind::String,
        FieldKind::Integer,
        FieldKind::Number,
        FieldKind::Boolean,
        FieldKind::Enum,
        FieldKind::Array,
        FieldKind::Object,
    ];

    /// The kind a `type:` names, unless it names a declared type.
    pub fn parse(name: &str) -> Option<FieldKind> {
        FieldKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::String => "string",
            FieldKind::Integer => "integer",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::Enum => "enum",
            FieldKind::Array => "array",
            FieldKind::Object => "object",
        }
    }
}

/// A typed field of a tool's input or output.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The field's type as written: a kind (`string`, `object`, …) or the name
    /// of a type declared under `types`.
    #[serde(rename = "type")]
    pub type_name: TypeName,
    /// The field's kind, set when the spec is loaded (`crate::types::resolve`):
    /// a declared type's use takes the type's whole definition.
    #[serde(skip)]
    pub kind: FieldKind,
    /// The declared type this field uses, when it names one.
    #[serde(skip)]
    pub named: Option<String>,
    /// Short display title.
    #[serde(default)]
    pub title: Option<String>,
    /// What the field means, for the model.
    #[serde(default)]
    pub description: Option<String>,
    /// The field may be left out.
    #[serde(default)]
    pub optional: bool,
    /// Value used when the field is left out (makes the field optional).
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// Strings: minimum length in characters.
    #[serde(default)]
    pub min_length: Option<u64>,
    /// Strings: maximum length in characters.
    #[serde(default)]
    pub max_length: Option<u64>,
    /// Integers and numbers: smallest allowed value.
    #[serde(default)]
    pub minimum: Option<serde_json::Number>,
    /// Integers and numbers: largest allowed value.
    #[serde(default)]
    pub maximum: Option<serde_json::Number>,
    /// Enums: the allowed string values.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// Arrays: the item type, either a type name (`string`) or a full field.
    #[serde(default)]
    pub items: Option<Items>,
    /// Arrays: minimum number of items.
    #[serde(default)]
    pub min_items: Option<u64>,
    /// Arrays: maximum number of items.
    #[serde(default)]
    pub max_items: Option<u64>,
    /// Objects: the nested fields by name.
    #[serde(default)]
    pub properties: Option<IndexMap<String, Field>>,
}

impl Field {
    /// A bare field of a kind, with no constraints.
    pub fn of_kind(kind: FieldKind) -> Field {
        Field {
            type_name: TypeName(kind.as_str().to_string()),
            kind,
            named: None,
            title: None,
            description: None,
            optional: false,
            default: None,
            min_length: None,
            max_length: None,
            minimum: None,
            maximum: None,
            values: None,
            items: None,
            min_items: None,
            max_items: None,
            properties: None,
        }
    }

    /// Whether a caller may leave the field out.
    pub fn is_optional(&self) -> bool {
        self.optional || self.default.is_some()
    }
}

/// What a field's `type:` says: a kind, or the name of a declared type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct TypeName(pub String);

impl JsonSchema for TypeName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TypeName".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let kind = generator.subschema_for::<FieldKind>();
        schemars::json_schema!({
            "description": "A kind, or the name of a type declared under `types` (UpperCamelCase).",
            "anyOf": [kind, { "type": "string", "pattern": "^[A-Z][A-Za-z0-9]*$" }]
        })
    }
}

/// The item type of an array: `items: string` or `items: { type: object, ... }`.
#[derive(Debug, Clone)]
pub struct Items(pub Box<Field>);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemsVisitor;
        impl<'de> serde::de::Visitor<'de> for ItemsVisitor {
            type Value = Items;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a type name (string, integer, number, boolean, object) or a field")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Items, E> {
                // A kind or a declared type's name, resolved with the rest.
                let mut field = Field::of_kind(FieldKind::String);
                field.type_name = TypeName(v.to_string());
                Ok(Items(Box::new(field)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
                let field = Field::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Items(Box::new(field)))
            }
        }
        deserializer.deserialize_any(ItemsVisitor)
    }
}

impl JsonSchema for Items {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Items".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let kind = generator.subschema_for::<TypeName>();
        let field = generator.subschema_for::<Field>();
        schemars::json_schema!({
            "description": "An item type name (a kind or a type declared under `types`), or a full field.",
            "anyOf": [kind, field]
        })
    }
}

/// An MCP prompt: messages rendered from minijinja templates.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    /// Human-readable name (protocol 2025-06-18 and later).
    #[serde(default)]
    pub title: Option<String>,
    /// What the prompt is for.
    pub description: String,
    /// Declared arguments by name; templates see them as variables.
    #[serde(default)]
    pub arguments: IndexMap<String, PromptArgument>,
    /// Shorthand for one user message rendered from this template.
    #[serde(default)]
    pub template: Option<String>,
    /// The messages, each rendered from its template.
    #[serde(default)]
    pub messages: Option<Vec<PromptMessage>>,
    /// A handler method supplies extra template variables (e.g. rows from a database).
    #[serde(default)]
    pub handler: bool,
    /// Scopes a token needs to get this prompt or complete its arguments
    /// (default: `default_scopes`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// A prompt argument (always a string on the wire).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptArgument {
    /// Display title.
    #[serde(default)]
    pub title: Option<String>,
    /// What the argument means.
    #[serde(default)]
    pub description: Option<String>,
    /// The argument must be given.
    #[serde(default)]
    pub required: bool,
    /// Suggested values, offered by `completion/complete`.
    #[serde(default)]
    pub values: Option<Vec<String>>,
}

/// Who speaks a prompt message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One prompt message.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptMessage {
    /// `user` or `assistant`.
    pub role: Role,
    /// A text message: a minijinja template.
    #[serde(default)]
    pub text: Option<String>,
    /// An image message: a file embedded at build time.
    #[serde(default)]
    pub image: Option<PromptImage>,
    /// An embedded-resource message.
    #[serde(default)]
    pub resource: Option<PromptResource>,
}

/// An image in a prompt message.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptImage {
    /// A file, relative to the spec.
    pub file: String,
    /// e.g. `image/png`.
    pub mime_type: String,
}

/// A resource embedded in a prompt message; `uri` and `text` are templates.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptResource {
    pub uri: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    pub text: String,
}

/// An MCP resource at a fixed URI: static text, a file embedded at build time, or a
/// handler method.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// The resource's URI (RFC 3986), e.g. `memory://guide`.
    pub uri: String,
    /// Human-readable name (protocol 2025-06-18 and later).
    #[serde(default)]
    pub title: Option<String>,
    /// What the resource holds.
    #[serde(default)]
    pub description: Option<String>,
    /// MIME type, e.g. `text/markdown`.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Static text content.
    #[serde(default)]
    pub text: Option<String>,
    /// A file, relative to the spec, embedded into the binary at build time.
    #[serde(default)]
    pub file: Option<String>,
    /// A handler method on the `Tools` trait serves the content.
    #[serde(default)]
    pub handler: bool,
    /// Clients may subscribe to updates (`resources/subscribe`); the server
    /// announces changes with `Context::notify_resource_updated`.
    #[serde(default)]
    pub subscribe: bool,
    /// Scopes a token needs to read or subscribe to this resource (default:
    /// `default_scopes`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Caching hints of its `resources/read` in the 2026-07-28 era. Default:
    /// the server's `caching` for text and files; `{ ttl_ms: 0, scope:
    /// private }` for a handler (what it returns may be the caller's own).
    #[serde(default)]
    pub caching: Option<Caching>,
}

/// A family of resources named by an RFC 6570 URI template; a handler method reads them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceTemplate {
    /// A URI template with simple `{variable}` expressions, e.g. `memory://memories/{id}`.
    pub uri_template: String,
    /// Human-readable name (protocol 2025-06-18 and later).
    #[serde(default)]
    pub title: Option<String>,
    /// What the resources hold.
    #[serde(default)]
    pub description: Option<String>,
    /// MIME type of the resources.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Scopes a token needs to read these resources or complete the template's
    /// variables (default: `default_scopes`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Caching hints of its resources' `resources/read` in the 2026-07-28
    /// era. Default: `{ ttl_ms: 0, scope: private }`.
    #[serde(default)]
    pub caching: Option<Caching>,
}

impl Spec {
    /// The scopes an operation needs: its own, or the server-wide default.
    pub fn required_scopes<'a>(&'a self, own: &'a Option<Vec<String>>) -> &'a [String] {
        own.as_deref().unwrap_or(&self.default_scopes)
    }
}
