//! Validation of a deserialized spec: everything serde cannot see (names, references
//! between sections, constraints that only make sense for some types, templates).
//! Collects every problem, each tied to the path of the node it is about.

use std::collections::{HashMap, HashSet};
use std::path::Path as FsPath;

use indexmap::IndexMap;
use serde_json::Value;

use crate::model::{Auth, Field, FieldKind, Prompt, ProviderKind, Spec};
use crate::naming;
use crate::origin::OriginPattern;
use crate::positions::{Path, Seg};
use crate::providers;
use crate::redirect::{RedirectPattern, check_redirect_uri};
use crate::uri_template::UriTemplate;

/// A problem, located by path.
#[derive(Debug, Clone)]
pub struct Problem {
    pub path: Path,
    /// Point at the entry's key rather than its value.
    pub at_key: bool,
    pub message: String,
}

/// Check a spec. `base_dir` is the spec file's directory; when given, files that
/// resources name must exist there.
pub fn check(spec: &Spec, base_dir: Option<&FsPath>) -> Vec<Problem> {
    let mut c = Checker::default();
    c.server(spec);
    c.scopes(spec);
    let defaults = Some(spec.default_scopes.clone());
    c.required_scopes(
        spec,
        &defaults,
        path(["default_scopes".into()]),
        "`default_scopes`",
    );
    c.oauth(spec);
    c.sign_in(spec);
    c.origins(spec);
    c.declared_types(spec);
    c.tools(spec);
    c.prompts(spec, base_dir);
    c.resources(spec, base_dir);
    c.problems
}

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
    /// Generated Rust type names and the path that produced them.
    types: HashMap<String, Path>,
    /// Generated trait methods and what produced them.
    methods: HashMap<String, String>,
}

fn path<const N: usize>(segs: [Seg; N]) -> Path {
    segs.to_vec()
}

fn child(parent: &[Seg], seg: impl Into<Seg>) -> Path {
    let mut p = parent.to_vec();
    p.push(seg.into());
    p
}

impl Checker {
    fn at_key(&mut self, path: Path, message: impl Into<String>) {
        self.problems.push(Problem {
            path,
            at_key: true,
            message: message.into(),
        });
    }

    fn at_value(&mut self, path: Path, message: impl Into<String>) {
        self.problems.push(Problem {
            path,
            at_key: false,
            message: message.into(),
        });
    }

    fn server(&mut self, spec: &Spec) {
        let s = &spec.server;
        if s.name.trim().is_empty() {
            self.at_value(
                path(["server".into(), "name".into()]),
                "server name must not be empty",
            );
        }
        if s.version.trim().is_empty() {
            self.at_value(
                path(["server".into(), "version".into()]),
                "server version must not be empty",
            );
        }
        if let Some(url) = &s.website_url
            && url::Url::parse(url).is_err()
        {
            self.at_value(
                path(["server".into(), "website_url".into()]),
                format!("website_url `{url}` is not an absolute URL"),
            );
        }
    }

    fn scopes(&mut self, spec: &Spec) {
        for (name, scope) in &spec.scopes {
            let p = path(["scopes".into(), name.into()]);
            if let Err(e) = naming::check_scope_name(name) {
                self.at_key(p.clone(), e);
            }
            if scope.description.trim().is_empty() {
                self.at_value(
                    child(&p, "description"),
                    format!("scope `{name}` needs a description; it is shown on the consent page"),
                );
            }
        }
    }

    fn oauth(&mut self, spec: &Spec) {
        if spec.auth == Auth::None {
            if let Some(id) = spec.clients.keys().next() {
                self.at_key(
                    path(["clients".into(), id.into()]),
                    "clients are OAuth clients; with `auth: none` there is no authorization server",
                );
            }
            return;
        }
        for (id, client) in &spec.clients {
            let p = path(["clients".into(), id.into()]);
            if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) {
                self.at_key(
                    p.clone(),
                    format!("client id `{id}` must be 1 to 128 visible ASCII characters"),
                );
            }
            if client.name.trim().is_empty() {
                self.at_value(
                    child(&p, "name"),
                    format!("client `{id}` needs a name; it is shown on the consent page"),
                );
            }
            if client.redirect_uris.is_empty() {
                self.at_key(
                    child(&p, "redirect_uris"),
                    format!("client `{id}` needs at least one redirect URI"),
                );
            }
            for (i, uri) in client.redirect_uris.iter().enumerate() {
                if let Err(e) = check_redirect_uri(uri) {
                    self.at_value(
                        child(&child(&p, "redirect_uris"), i),
                        format!("redirect URI {e}"),
                    );
                }
            }
            for (i, scope) in client.scopes.iter().flatten().enumerate() {
                if !spec.scopes.contains_key(scope) {
                    self.at_value(
                        child(&child(&p, "scopes"), i),
                        format!("client `{id}` may use scope `{scope}`, which is not declared under `scopes`"),
                    );
                }
            }
            if let Some(var) = &client.secret_env
                && let Err(e) = providers::check_env_name(var)
            {
                self.at_value(child(&p, "secret_env"), e);
            }
        }
        let r = &spec.registration;
        for (i, pattern) in r.redirect_uris.iter().enumerate() {
            if let Err(e) = pattern.parse::<RedirectPattern>() {
                self.at_value(
                    path(["registration".into(), "redirect_uris".into(), i.into()]),
                    e,
                );
            }
        }
        if let crate::model::ClientSelection::Only(names) = &r.clients {
            let known = crate::clients::profiles();
            for (i, name) in names.iter().enumerate() {
                if !known.contains_key(name) {
                    let list: Vec<&str> = known.keys().map(String::as_str).collect();
                    self.at_value(
                        path(["registration".into(), "clients".into(), i.into()]),
                        format!(
                            "`{name}` is not a known MCP client; known: {} (specs/clients.yaml)",
                            list.join(", ")
                        ),
                    );
                }
            }
        }
        // Auto-approval by exact redirect pattern only (U-16): one of the
        // server's own patterns or of a client it accepts.
        let accepted: Vec<String> = r
            .clients
            .names()
            .iter()
            .filter_map(|n| crate::clients::profiles().get(n))
            .flat_map(|p| p.redirect_uris.clone())
            .chain(r.redirect_uris.iter().cloned())
            .collect();
        for (i, pattern) in r.auto_approve.iter().enumerate() {
            if !accepted.contains(pattern) {
                self.at_value(
                    path(["registration".into(), "auto_approve".into(), i.into()]),
                    format!("`{pattern}` is not one of `registration.redirect_uris` nor a pattern of an accepted client"),
                );
            } else if pattern == "loopback" {
                self.at_value(
                    path(["registration".into(), "auto_approve".into(), i.into()]),
                    "`loopback` cannot skip consent: any program on the person's computer can listen there",
                );
            }
        }
        let d = &spec.client_metadata_documents;
        let at = |k: &str| path(["client_metadata_documents".into(), k.into()]);
        if d.max_bytes < 5120 {
            self.at_value(
                at("max_bytes"),
                "documents must be read up to at least 5120 bytes (the draft's recommended minimum)",
            );
        }
        for (i, pattern) in d.allow.iter().enumerate() {
            if let Err(e) = crate::documents::check_pattern(pattern) {
                self.at_value(child(&at("allow"), i), e);
            }
        }
        for (url, doc) in &d.pinned {
            let p = child(&at("pinned"), url.as_str());
            if let Err(e) = crate::documents::check_document_url(url, false) {
                self.at_key(p.clone(), e);
            }
            if doc.redirect_uris.is_empty() {
                self.at_value(
                    child(&p, "redirect_uris"),
                    "a client needs at least one redirect URI",
                );
            }
            for (i, uri) in doc.redirect_uris.iter().enumerate() {
                if let Err(e) = crate::redirect::check_redirect_uri(uri) {
                    self.at_value(child(&child(&p, "redirect_uris"), i), e);
                }
            }
        }
        let access = spec.tokens.access_lifetime.0;
        let refresh = spec.tokens.refresh_lifetime.0;
        if access < std::time::Duration::from_secs(60)
            || access > std::time::Duration::from_secs(24 * 3600)
        {
            self.at_value(
                path(["tokens".into(), "access_lifetime".into()]),
                "access tokens should live between 1m and 24h",
            );
        }
        if refresh < access {
            self.at_value(
                path(["tokens".into(), "refresh_lifetime".into()]),
                "refresh tokens must outlive access tokens",
            );
        }
    }

    /// `sign_in`: providers (U-1..U-16 rely on what is checked here) and a way
    /// for someone to sign in at all.
    fn sign_in(&mut self, spec: &Spec) {
        let s = &spec.sign_in;
        if spec.auth == Auth::None {
            if let Some(name) = s.providers.keys().next() {
                self.at_key(
                    path(["sign_in".into(), "providers".into(), name.into()]),
                    "sign-in providers need the authorization server; with `auth: none` nobody signs in",
                );
            }
            return;
        }
        if !s.password && s.providers.is_empty() {
            self.at_value(
                path(["sign_in".into(), "password".into()]),
                "with `password: false` nobody could sign in: declare at least one provider under `sign_in.providers`",
            );
        }
        for (name, provider) in &s.providers {
            let p = path(["sign_in".into(), "providers".into(), name.into()]);
            if let Err(e) = providers::check_provider_name(name) {
                self.at_key(p.clone(), e);
            }
            let vars = [
                ("issuer_env", &provider.issuer_env),
                ("client_id_env", &provider.client_id_env),
                ("client_secret_env", &provider.client_secret_env),
                ("project_url_env", &provider.project_url_env),
                ("url_env", &provider.url_env),
            ];
            for (key, var) in vars {
                if let Some(var) = var
                    && let Err(e) = providers::check_env_name(var)
                {
                    self.at_value(child(&p, key), e);
                }
            }
            let only = |key: &str, kind: ProviderKind, given: bool| -> Option<(Path, String)> {
                (given && provider.kind != kind).then(|| {
                    (
                        child(&p, key),
                        format!(
                            "`{key}` applies only to `kind: {}` providers",
                            kind.as_str()
                        ),
                    )
                })
            };
            let misplaced = [
                only(
                    "issuer_env",
                    ProviderKind::Oidc,
                    provider.issuer_env.is_some(),
                ),
                only("tenant", ProviderKind::Microsoft, provider.tenant.is_some()),
                only(
                    "tenants",
                    ProviderKind::Microsoft,
                    !provider.tenants.is_empty(),
                ),
                only(
                    "project_url_env",
                    ProviderKind::Supabase,
                    provider.project_url_env.is_some(),
                ),
                only("url_env", ProviderKind::Github, provider.url_env.is_some()),
                (provider.kind == ProviderKind::Github && !provider.claims.is_empty()).then(|| {
                    (
                        child(&p, "claims"),
                        "GitHub is not an OpenID Connect provider: it has no claims to ask for"
                            .to_string(),
                    )
                }),
            ];
            for (at, message) in misplaced.into_iter().flatten() {
                self.at_key(at, message);
            }
            if provider.kind == ProviderKind::Microsoft {
                match provider.tenant.as_deref() {
                    None => self.at_key(
                        p.clone(),
                        format!("provider `{name}` (microsoft) needs a `tenant`: a directory id, or common / organizations with a `tenants` allowlist"),
                    ),
                    Some(t) => {
                        if let Err(e) = providers::check_microsoft_tenant(t) {
                            self.at_value(child(&p, "tenant"), e);
                        } else if matches!(t, "common" | "organizations") && provider.tenants.is_empty() {
                            self.at_key(
                                child(&p, "tenant"),
                                format!("tenant `{t}` lets any directory sign in: list the allowed directory ids under `tenants` (or `\"*\"` for any)"),
                            );
                        }
                    }
                }
                for (i, t) in provider.tenants.iter().enumerate() {
                    if t != "*" && !providers::is_guid(t) {
                        self.at_value(
                            child(&child(&p, "tenants"), i),
                            format!("`{t}` is not a directory (tenant) id"),
                        );
                    }
                }
            }
            for key in provider.authorization_params.keys() {
                if providers::RESERVED_AUTHORIZATION_PARAMS.contains(&key.as_str()) {
                    self.at_key(
                        child(&child(&p, "authorization_params"), key.as_str()),
                        format!("`{key}` is set by gatehouse itself (the login transaction depends on it)"),
                    );
                }
            }
            if let Some(icon) = &provider.icon
                && let Err(e) = providers::check_icon(icon)
            {
                self.at_value(child(&p, "icon"), e);
            }
            if let Some(label) = &provider.label
                && label.trim().is_empty()
            {
                self.at_value(child(&p, "label"), "a button label must not be empty");
            }
            if let Some(scopes) = &provider.scopes {
                let has_openid = scopes.iter().any(|s| s == "openid");
                if provider.kind.is_oidc() && !has_openid {
                    self.at_value(
                        child(&p, "scopes"),
                        format!("an OpenID Connect provider needs the `openid` scope (provider `{name}`)"),
                    );
                }
                for (i, scope) in scopes.iter().enumerate() {
                    if scope.is_empty()
                        || scope.chars().any(|c| c.is_whitespace() || c.is_control())
                    {
                        self.at_value(
                            child(&child(&p, "scopes"), i),
                            format!("`{scope}` is not a scope (no spaces)"),
                        );
                    }
                }
            }
        }
    }

    /// Every scope an operation (or `default_scopes`) requires is declared.
    fn required_scopes(&mut self, spec: &Spec, own: &Option<Vec<String>>, list: Path, what: &str) {
        for (i, scope) in own.iter().flatten().enumerate() {
            if !spec.scopes.contains_key(scope) {
                let declared: Vec<&str> = spec.scopes.keys().map(String::as_str).collect();
                let hint = if declared.is_empty() {
                    "no scopes are declared".to_string()
                } else {
                    format!("declared: {}", declared.join(", "))
                };
                self.at_value(
                    child(&list, i),
                    format!("{what} requires scope `{scope}`, which is not declared under `scopes` ({hint})"),
                );
            }
        }
    }

    fn origins(&mut self, spec: &Spec) {
        for (i, pattern) in spec.origins.allow.iter().enumerate() {
            if let Err(e) = pattern.parse::<OriginPattern>() {
                self.at_value(path(["origins".into(), "allow".into(), i.into()]), e);
            }
        }
    }

    /// Register a generated method; false when it clashes (already reported).
    fn method(&mut self, method: String, owner: String, p: Path) -> bool {
        if naming::RESERVED_METHODS.contains(&method.as_str()) {
            self.at_key(
                p,
                format!("{owner} would generate the method `{method}`, which the Tools trait reserves; rename it"),
            );
            false
        } else if let Some(first) = self.methods.get(&method) {
            self.at_key(
                p,
                format!(
                    "{owner} and {first} would both generate the method `{method}`; rename one"
                ),
            );
            false
        } else {
            self.methods.insert(method, owner);
            true
        }
    }

    fn type_name(&mut self, name: String, p: &[Seg]) {
        if let Some(first) = self.types.get(&name) {
            let first = display_path(first);
            self.at_key(
                p.to_vec(),
                format!(
                    "this generates the type `{name}`, which `{first}` also generates; rename one"
                ),
            );
        } else {
            self.types.insert(name, p.to_vec());
        }
    }

    /// `types:`: each declared type is checked once, here, under its own
    /// name (its uses took its definition as it is).
    fn declared_types(&mut self, spec: &Spec) {
        for (name, def) in &spec.types {
            let p = path(["types".into(), name.into()]);
            if let Err(e) = naming::check_type_name(name) {
                self.at_key(p, e);
                continue;
            }
            if def.optional || def.default.is_some() {
                let key = if def.optional { "optional" } else { "default" };
                self.at_key(
                    child(&p, key),
                    format!("`{key}` belongs where the type is used, not in its declaration"),
                );
            }
            let mut shape = def.clone();
            shape.named = None;
            self.field(&shape, &p, name.clone(), true);
        }
    }

    fn tools(&mut self, spec: &Spec) {
        for (name, tool) in &spec.tools {
            let p = path(["tools".into(), name.into()]);
            if let Err(e) = naming::check_tool_name(name) {
                self.at_key(p.clone(), format!("bad tool name: {e}"));
                continue;
            }
            if !self.method(
                naming::tool_method(name),
                format!("tool `{name}`"),
                p.clone(),
            ) {
                continue;
            }
            if tool.description.trim().is_empty() {
                self.at_value(
                    child(&p, "description"),
                    format!("tool `{name}` needs a description: it is how the model knows when to call it"),
                );
            }
            self.required_scopes(
                spec,
                &tool.scopes,
                child(&p, "scopes"),
                &format!("tool `{name}`"),
            );
            let camel = naming::upper_camel_case(name);
            match &tool.input_schema {
                Some(schema) => {
                    if !tool.input.is_empty() {
                        self.at_key(
                            child(&p, "input_schema"),
                            format!("tool `{name}` has both `input` and `input_schema`; use one"),
                        );
                    }
                    if schema.get("type").and_then(|t| t.as_str()) != Some("object") {
                        self.at_value(
                            child(&p, "input_schema"),
                            "an input schema must be a JSON Schema object with \"type\": \"object\"",
                        );
                    } else if let Err(e) = jsonschema::meta::validate(schema) {
                        // Checked against its dialect's meta-schema here, so a broken
                        // schema is a compile error rather than a server that will not start.
                        let mut at = child(&p, "input_schema");
                        let mut node = schema;
                        for step in e.instance_path().to_string().split('/').skip(1) {
                            let step = step.replace("~1", "/").replace("~0", "~");
                            let seg = match (node.is_array(), step.parse::<usize>()) {
                                (true, Ok(i)) => Seg::Index(i),
                                _ => Seg::Key(step.clone()),
                            };
                            node = match &seg {
                                Seg::Index(i) => &node[*i],
                                Seg::Key(k) => &node[k.as_str()],
                            };
                            at.push(seg);
                        }
                        self.at_value(at, format!("not a valid JSON Schema: {e}"));
                    }
                    self.type_name(format!("{camel}Args"), &p);
                }
                None => self.fields(&tool.input, &child(&p, "input"), format!("{camel}Args"), &p),
            }
            if let Some(output) = &tool.output {
                self.fields(output, &child(&p, "output"), format!("{camel}Output"), &p);
            }
        }
    }

    /// A set of named fields that becomes one struct.
    fn fields(&mut self, fields: &IndexMap<String, Field>, p: &[Seg], ty: String, owner: &[Seg]) {
        self.type_name(ty.clone(), owner);
        let mut rust_names: HashMap<String, &str> = HashMap::new();
        for (name, field) in fields {
            let fp = child(p, name);
            if let Err(e) = naming::check_field_name(name) {
                self.at_key(fp, e);
                continue;
            }
            let snake = naming::snake_case(name);
            if let Some(first) = rust_names.get(&snake) {
                self.at_key(
                    fp.clone(),
                    format!("fields `{first}` and `{name}` both become the Rust field `{snake}`; rename one"),
                );
            } else {
                rust_names.insert(snake, name);
            }
            self.field(
                field,
                &fp,
                format!("{ty}{}", naming::upper_camel_case(name)),
                true,
            );
        }
    }

    fn field(&mut self, f: &Field, p: &[Seg], ty: String, named: bool) {
        if f.named.is_some() {
            // A declared type: its shape was checked under `types`; what this
            // use adds is checked here.
            if !named && (f.optional || f.default.is_some()) {
                let key = if f.optional { "optional" } else { "default" };
                self.at_key(
                    child(p, key),
                    format!("`{key}` has no meaning for array items"),
                );
            }
            if let Some(default) = &f.default
                && let Err(e) = check_value(f, default)
            {
                self.at_value(
                    child(p, "default"),
                    format!("default does not fit the field: {e}"),
                );
            }
            return;
        }
        let kind = f.kind;
        let not_for = |key: &str, applies: &str| {
            format!(
                "`{key}` applies to {applies} fields, not to {} fields",
                kind.as_str()
            )
        };
        let string_only = [
            ("min_length", f.min_length.is_some()),
            ("max_length", f.max_length.is_some()),
        ];
        for (key, set) in string_only {
            if set && kind != FieldKind::String {
                self.at_key(child(p, key), not_for(key, "string"));
            }
        }
        for (key, set) in [
            ("minimum", f.minimum.is_some()),
            ("maximum", f.maximum.is_some()),
        ] {
            if set && !matches!(kind, FieldKind::Integer | FieldKind::Number) {
                self.at_key(child(p, key), not_for(key, "integer and number"));
            }
        }
        if f.values.is_some() && kind != FieldKind::Enum {
            self.at_key(child(p, "values"), not_for("values", "enum"));
        }
        for (key, set) in [
            ("items", f.items.is_some()),
            ("min_items", f.min_items.is_some()),
            ("max_items", f.max_items.is_some()),
        ] {
            if set && kind != FieldKind::Array {
                self.at_key(child(p, key), not_for(key, "array"));
            }
        }
        if f.properties.is_some() && kind != FieldKind::Object {
            self.at_key(child(p, "properties"), not_for("properties", "object"));
        }
        if !named && (f.optional || f.default.is_some()) {
            let key = if f.optional { "optional" } else { "default" };
            self.at_key(
                child(p, key),
                format!("`{key}` has no meaning for array items"),
            );
        }
        if f.optional && f.default.is_some() {
            self.at_key(
                child(p, "optional"),
                "a field with a `default` is already optional; remove `optional: true`",
            );
        }
        if let (Some(min), Some(max)) = (f.min_length, f.max_length)
            && min > max
        {
            self.at_value(
                child(p, "min_length"),
                format!("min_length {min} is greater than max_length {max}"),
            );
        }
        if let (Some(min), Some(max)) = (f.min_items, f.max_items)
            && min > max
        {
            self.at_value(
                child(p, "min_items"),
                format!("min_items {min} is greater than max_items {max}"),
            );
        }
        if let (Some(min), Some(max)) = (&f.minimum, &f.maximum)
            && min.as_f64() > max.as_f64()
        {
            self.at_value(
                child(p, "minimum"),
                format!("minimum {min} is greater than maximum {max}"),
            );
        }
        if kind == FieldKind::Integer {
            for (key, bound) in [("minimum", &f.minimum), ("maximum", &f.maximum)] {
                if let Some(b) = bound
                    && !(b.is_i64() || b.is_u64())
                {
                    self.at_value(
                        child(p, key),
                        format!("{key} of an integer field must be an integer, not {b}"),
                    );
                }
            }
        }
        match kind {
            FieldKind::Enum => self.enum_values(f, p, ty),
            FieldKind::Array => match &f.items {
                Some(items) => self.field(&items.0, &child(p, "items"), format!("{ty}Item"), false),
                None => self.at_key(p.to_vec(), "array fields need `items`, e.g. `items: string`"),
            },
            FieldKind::Object => match &f.properties {
                Some(props) => self.fields(props, &child(p, "properties"), ty, p),
                None => self.at_key(
                    p.to_vec(),
                    "object fields need `properties`, e.g. `properties: { name: { type: string } }`",
                ),
            },
            _ => {}
        }
        if let Some(default) = &f.default
            && let Err(e) = check_value(f, default)
        {
            self.at_value(
                child(p, "default"),
                format!("default does not fit the field: {e}"),
            );
        }
    }

    fn enum_values(&mut self, f: &Field, p: &[Seg], ty: String) {
        let Some(values) = &f.values else {
            self.at_key(
                p.to_vec(),
                "enum fields need `values`, e.g. `values: [low, high]`",
            );
            return;
        };
        if values.is_empty() {
            self.at_value(child(p, "values"), "an enum needs at least one value");
            return;
        }
        self.type_name(ty, p);
        let mut seen = HashSet::new();
        let mut variants: HashMap<String, &str> = HashMap::new();
        for (i, v) in values.iter().enumerate() {
            let vp = child(&child(p, "values"), i);
            if !seen.insert(v) {
                self.at_value(vp, format!("enum value `{v}` is listed twice"));
                continue;
            }
            let variant = naming::upper_camel_case(v);
            if let Some(first) = variants.get(&variant) {
                self.at_value(
                    vp,
                    format!(
                        "enum values `{first}` and `{v}` both become the Rust variant `{variant}`"
                    ),
                );
            } else {
                variants.insert(variant, v);
            }
        }
    }

    fn prompts(&mut self, spec: &Spec, base_dir: Option<&FsPath>) {
        for (name, prompt) in &spec.prompts {
            let p = path(["prompts".into(), name.into()]);
            self.required_scopes(
                spec,
                &prompt.scopes,
                child(&p, "scopes"),
                &format!("prompt `{name}`"),
            );
            if let Err(e) = naming::check_tool_name(name) {
                self.at_key(p.clone(), format!("bad prompt name: {e}"));
                continue;
            }
            if prompt.handler {
                let _ = self.method(
                    naming::prompt_method(name),
                    format!("prompt `{name}`"),
                    p.clone(),
                );
            }
            for (arg, def) in &prompt.arguments {
                let ap = child(&child(&p, "arguments"), arg);
                if let Err(e) = naming::check_field_name(arg) {
                    self.at_key(ap.clone(), e);
                }
                if def.values.as_ref().is_some_and(Vec::is_empty) {
                    self.at_value(
                        child(&ap, "values"),
                        "`values` must list at least one suggestion",
                    );
                }
            }
            self.prompt_templates(name, prompt, &p, base_dir);
        }
    }

    fn prompt_templates(
        &mut self,
        name: &str,
        prompt: &Prompt,
        p: &[Seg],
        base_dir: Option<&FsPath>,
    ) {
        let templates: Vec<(Path, &str)> = match (&prompt.template, &prompt.messages) {
            (Some(t), None) => vec![(child(p, "template"), t.as_str())],
            (None, Some(messages)) if !messages.is_empty() => {
                let mut templates = Vec::new();
                for (i, m) in messages.iter().enumerate() {
                    let mp = child(&child(p, "messages"), i);
                    let kinds = [m.text.is_some(), m.image.is_some(), m.resource.is_some()];
                    if kinds.iter().filter(|k| **k).count() != 1 {
                        self.at_key(
                            mp.clone(),
                            format!("a message of prompt `{name}` needs exactly one of `text`, `image` or `resource`"),
                        );
                        continue;
                    }
                    if let Some(t) = &m.text {
                        templates.push((child(&mp, "text"), t.as_str()));
                    }
                    if let Some(r) = &m.resource {
                        templates.push((child(&child(&mp, "resource"), "uri"), r.uri.as_str()));
                        templates.push((child(&child(&mp, "resource"), "text"), r.text.as_str()));
                    }
                    if let (Some(img), Some(dir)) = (&m.image, base_dir)
                        && !dir.join(&img.file).is_file()
                    {
                        self.at_value(
                            child(&child(&mp, "image"), "file"),
                            format!("image file `{}` does not exist (paths are relative to the spec file)", img.file),
                        );
                    }
                }
                templates
            }
            (None, Some(_)) => {
                self.at_value(
                    child(p, "messages"),
                    format!("prompt `{name}` has no messages"),
                );
                return;
            }
            (Some(_), Some(_)) => {
                self.at_key(
                    child(p, "messages"),
                    format!("prompt `{name}` has both `template` and `messages`; use one"),
                );
                return;
            }
            (None, None) => {
                self.at_key(
                    p.to_vec(),
                    format!("prompt `{name}` needs a `template` or a list of `messages`"),
                );
                return;
            }
        };
        let env = minijinja::Environment::new();
        for (tp, source) in templates {
            match env.template_from_str(source) {
                Err(e) => {
                    let line = e
                        .line()
                        .map(|l| format!(" (template line {l})"))
                        .unwrap_or_default();
                    let detail = e.detail().unwrap_or("syntax error");
                    self.at_value(
                        tp,
                        format!("prompt `{name}`: template error{line}: {detail}"),
                    );
                }
                Ok(t) if !prompt.handler => {
                    let mut unknown: Vec<String> = t
                        .undeclared_variables(false)
                        .into_iter()
                        .filter(|v| !prompt.arguments.contains_key(v))
                        .collect();
                    unknown.sort();
                    for v in unknown {
                        self.at_value(
                            tp.clone(),
                            format!("prompt `{name}`: the template uses `{v}`, which is not a declared argument"),
                        );
                    }
                }
                Ok(_) => {}
            }
        }
    }

    fn resources(&mut self, spec: &Spec, base_dir: Option<&FsPath>) {
        let mut uris: HashMap<&str, &str> = HashMap::new();
        for (name, r) in &spec.resources {
            let p = path(["resources".into(), name.into()]);
            self.required_scopes(
                spec,
                &r.scopes,
                child(&p, "scopes"),
                &format!("resource `{name}`"),
            );
            if let Err(e) = naming::check_tool_name(name) {
                self.at_key(p.clone(), format!("bad resource name: {e}"));
                continue;
            }
            match url::Url::parse(&r.uri) {
                Err(e) => self.at_value(
                    child(&p, "uri"),
                    format!("`{}` is not an absolute URI: {e}", r.uri),
                ),
                Ok(u) if u.fragment().is_some() => self.at_value(
                    child(&p, "uri"),
                    format!("resource URI `{}` must not have a fragment", r.uri),
                ),
                Ok(_) => {}
            }
            if let Some(first) = uris.insert(&r.uri, name) {
                self.at_value(
                    child(&p, "uri"),
                    format!(
                        "resources `{first}` and `{name}` have the same URI `{}`",
                        r.uri
                    ),
                );
            }
            let sources = [r.text.is_some(), r.file.is_some(), r.handler]
                .iter()
                .filter(|s| **s)
                .count();
            if sources != 1 {
                self.at_key(
                    p.clone(),
                    format!(
                        "resource `{name}` needs exactly one of `text`, `file` or `handler: true`"
                    ),
                );
            }
            if r.handler {
                let _ = self.method(
                    naming::resource_method(name),
                    format!("resource `{name}`"),
                    p.clone(),
                );
            }
            if let (Some(file), Some(dir)) = (&r.file, base_dir)
                && !dir.join(file).is_file()
            {
                self.at_value(
                    child(&p, "file"),
                    format!("resource file `{file}` does not exist (paths are relative to the spec file)"),
                );
            }
            self.mime(&r.mime_type, &p);
        }
        for (name, t) in &spec.resource_templates {
            let p = path(["resource_templates".into(), name.into()]);
            self.required_scopes(
                spec,
                &t.scopes,
                child(&p, "scopes"),
                &format!("resource template `{name}`"),
            );
            if let Err(e) = naming::check_tool_name(name) {
                self.at_key(p.clone(), format!("bad resource template name: {e}"));
                continue;
            }
            if let Err(e) = UriTemplate::parse(&t.uri_template) {
                self.at_value(child(&p, "uri_template"), format!("bad URI template: {e}"));
            }
            if !self.method(
                naming::resource_method(name),
                format!("resource template `{name}`"),
                p.clone(),
            ) {
                continue;
            }
            self.type_name(format!("{}Params", naming::upper_camel_case(name)), &p);
            self.mime(&t.mime_type, &p);
        }
    }

    fn mime(&mut self, mime: &Option<String>, p: &[Seg]) {
        if let Some(m) = mime {
            let valid = m.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && !m.contains(char::is_whitespace)
            });
            if !valid {
                self.at_value(
                    child(p, "mime_type"),
                    format!("`{m}` is not a MIME type like text/plain"),
                );
            }
        }
    }
}

fn display_path(p: &[Seg]) -> String {
    p.iter()
        .map(|s| match s {
            Seg::Key(k) => k.clone(),
            Seg::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether a JSON value is valid for a field (used for defaults).
pub fn check_value(f: &Field, v: &Value) -> Result<(), String> {
    match f.kind {
        FieldKind::String => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("expected a string, got {v}"))?;
            let len = s.chars().count() as u64;
            if f.min_length.is_some_and(|m| len < m) || f.max_length.is_some_and(|m| len > m) {
                return Err(format!("length {len} is outside the allowed range"));
            }
        }
        FieldKind::Integer | FieldKind::Number => {
            let n = if f.kind == FieldKind::Integer {
                v.as_i64()
                    .map(|i| i as f64)
                    .ok_or_else(|| format!("expected an integer, got {v}"))?
            } else {
                v.as_f64()
                    .ok_or_else(|| format!("expected a number, got {v}"))?
            };
            let below = f
                .minimum
                .as_ref()
                .and_then(|m| m.as_f64())
                .is_some_and(|m| n < m);
            let above = f
                .maximum
                .as_ref()
                .and_then(|m| m.as_f64())
                .is_some_and(|m| n > m);
            if below || above {
                return Err(format!("{v} is outside the allowed range"));
            }
        }
        FieldKind::Boolean => {
            v.as_bool()
                .ok_or_else(|| format!("expected true or false, got {v}"))?;
        }
        FieldKind::Enum => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("expected one of the enum values, got {v}"))?;
            if !f
                .values
                .as_ref()
                .is_some_and(|vs| vs.iter().any(|x| x == s))
            {
                return Err(format!("`{s}` is not one of the enum values"));
            }
        }
        FieldKind::Array => {
            let items = v
                .as_array()
                .ok_or_else(|| format!("expected an array, got {v}"))?;
            let n = items.len() as u64;
            if f.min_items.is_some_and(|m| n < m) || f.max_items.is_some_and(|m| n > m) {
                return Err(format!("{n} items is outside the allowed range"));
            }
            if let Some(item) = &f.items {
                for x in items {
                    check_value(&item.0, x)?;
                }
            }
        }
        FieldKind::Object => {
            let obj = v
                .as_object()
                .ok_or_else(|| format!("expected an object, got {v}"))?;
            let props = f.properties.as_ref();
            for (k, x) in obj {
                let field = props
                    .and_then(|p| p.get(k))
                    .ok_or_else(|| format!("unknown property `{k}`"))?;
                check_value(field, x)?;
            }
            for (k, field) in props.into_iter().flatten() {
                if !field.is_optional() && !obj.contains_key(k) {
                    return Err(format!("missing property `{k}`"));
                }
            }
        }
    }
    Ok(())
}
