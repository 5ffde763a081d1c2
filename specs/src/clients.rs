//! The MCP clients gatehouse knows (`specs/clients.yaml`, embedded at build
//! time): each client's redirect-URI patterns, the browser origins it runs in,
//! and how it registers. A spec accepts some or all of them with
//! `registration.clients`; the runtime then admits their redirect URIs at
//! registration, their origins on `/mcp`, and names them on the consent page
//! when every redirect URI of a client matches one profile.

use std::sync::OnceLock;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::redirect::RedirectPattern;

/// The data file, as written.
pub const CLIENTS_YAML: &str = include_str!("../clients.yaml");

/// One known client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientProfile {
    /// Shown on the consent page when the client is recognised.
    pub name: String,
    /// Redirect-URI patterns ([`RedirectPattern`]).
    pub redirect_uris: Vec<String>,
    /// Browser origins where the client runs as a web page (allowed on `/mcp`).
    #[serde(default)]
    pub origins: Vec<String>,
    /// The registration body the client sends (RFC 7591), for the tests and
    /// the documentation.
    pub example: serde_json::Value,
    /// The redirect URI of its authorization request.
    pub authorize_with: String,
    /// Where its callbacks were checked.
    pub source: String,
    /// When (YYYY-MM-DD).
    pub checked: String,
}

impl ClientProfile {
    /// The parsed patterns (checked by this module's tests).
    pub fn patterns(&self) -> Vec<RedirectPattern> {
        self.redirect_uris
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

/// Every known client, by name, in file order.
pub fn profiles() -> &'static IndexMap<String, ClientProfile> {
    static PROFILES: OnceLock<IndexMap<String, ClientProfile>> = OnceLock::new();
    PROFILES.get_or_init(|| {
        serde_yaml::from_str(CLIENTS_YAML).expect("specs/clients.yaml is valid (tested)")
    })
}

/// The profiles a selection names, in file order, as a server reads them.
pub fn selected(selection: &crate::model::ClientSelection) -> Vec<crate::model::SelectedClient> {
    selection
        .names()
        .into_iter()
        .filter_map(|id| {
            let p = profiles().get(&id)?;
            Some(crate::model::SelectedClient {
                name: p.name.clone(),
                redirect_uris: p.redirect_uris.clone(),
                origins: p.origins.clone(),
                id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::OriginPattern;
    use crate::redirect::check_redirect_uri;

    // Every entry is usable: its patterns parse, its origins are origins, and
    // its own example registers and authorizes under its own patterns.
    #[test]
    fn every_profile_is_consistent() {
        let all = profiles();
        assert!(all.len() >= 12, "{:?}", all.keys().collect::<Vec<_>>());
        for (name, p) in all {
            assert!(!p.name.trim().is_empty(), "{name}");
            assert!(
                p.checked.len() == 10 && p.checked.starts_with("20"),
                "{name}: checked {}",
                p.checked
            );
            assert!(!p.source.trim().is_empty(), "{name}");
            let patterns: Vec<RedirectPattern> = p
                .redirect_uris
                .iter()
                .map(|r| r.parse().unwrap_or_else(|e| panic!("{name}: {e}")))
                .collect();
            for o in &p.origins {
                o.parse::<OriginPattern>()
                    .unwrap_or_else(|e| panic!("{name}: origin {o}: {e}"));
            }
            let uris: Vec<&str> = p.example["redirect_uris"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: example.redirect_uris"))
                .iter()
                .map(|u| u.as_str().unwrap())
                .collect();
            assert!(
                uris.contains(&p.authorize_with.as_str()),
                "{name}: authorize_with is registered"
            );
            for uri in uris {
                let parsed = check_redirect_uri(uri).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(
                    patterns.iter().any(|pat| pat.matches(uri, &parsed)),
                    "{name}: its own {uri} matches its patterns"
                );
            }
        }
    }
}
