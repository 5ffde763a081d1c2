//! Discovery: RFC 8414 authorization-server metadata, RFC 9728 protected-resource
//! metadata, and the JWKS. One place builds both documents from the spec and the
//! public URL, so `scopes_supported`, the consent page and the challenges agree.

use serde_json::{Value, json};

use super::OAuth;

/// RFC 8414 metadata (A-AS-1: `code_challenge_methods_supported` is always there,
/// or 2025-11-25 clients refuse to proceed).
pub(super) fn authorization_server(o: &OAuth) -> Value {
    let issuer = &o.cfg.issuer;
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": o.cfg.scopes.keys().collect::<Vec<_>>(),
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{issuer}/"),
    });
    if o.cfg.registration_enabled {
        doc["registration_endpoint"] = json!(format!("{issuer}/oauth/register"));
    }
    // URL client ids (M-2..M-6). Claude uses them only when `none` is also
    // among the token endpoint's methods (it is, above).
    if o.documents.enabled() {
        doc["client_id_metadata_document_supported"] = json!(true);
    }
    doc
}

/// RFC 9728 metadata (A-RS-3): `resource` is the canonical MCP URL, the one SDK
/// clients then send as the RFC 8707 `resource` parameter.
pub(super) fn protected_resource(o: &OAuth) -> Value {
    json!({
        "resource": o.cfg.resource,
        "authorization_servers": [o.cfg.issuer],
        "scopes_supported": o.cfg.scopes.keys().collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "resource_name": o.cfg.server_title,
    })
}
