//! OAuth parameters, as queries and form bodies carry them
//! (`application/x-www-form-urlencoded`, read by `form_urlencoded`). A
//! parameter given twice is refused: RFC 6749 section 3.1 and 3.2 say
//! parameters must not be included more than once, and a second `redirect_uri`
//! or `client_id` is how confusion attacks begin.

use std::collections::HashMap;

use serde::de::DeserializeOwned;

/// Why parameters could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ParamError {
    /// This parameter was given more than once.
    Repeated(String),
    /// The parameters do not fit the struct (never for structs of optional
    /// text, as all of `forms.rs` are).
    Malformed(String),
}

/// The parameters as the struct `T` (`forms.rs`, filled by `serde_urlencoded`),
/// after refusing repeats.
pub(super) fn typed<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ParamError> {
    unique(raw).map_err(ParamError::Repeated)?;
    serde_urlencoded::from_bytes(raw).map_err(|e| ParamError::Malformed(e.to_string()))
}

/// The parameters, or the name of one given twice.
fn unique(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if map.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(k.into_owned());
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses_repeats() {
        let p = unique(b"a=1&b=x+y%2Bz&c=").unwrap();
        assert_eq!(
            (p["a"].as_str(), p["b"].as_str(), p["c"].as_str()),
            ("1", "x y+z", "")
        );
        assert_eq!(unique(b"a=1&a=2").unwrap_err(), "a");
        assert_eq!(
            unique(b"%61=1&a=2").unwrap_err(),
            "a",
            "the decoded name counts"
        );
        assert!(unique(b"").unwrap().is_empty());
    }

    #[test]
    fn fills_typed_forms() {
        use super::super::forms::{TokenForm, TokenQueryForm};
        let f: TokenForm =
            typed(b"grant_type=refresh_token&refresh_token=r&client_id=c&client_secret=s&extra=1")
                .unwrap();
        assert_eq!(f.grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(f.refresh_token.as_deref(), Some("r"));
        assert_eq!(
            f.client.client_id.as_deref(),
            Some("c"),
            "flattened client fields"
        );
        assert_eq!(f.client.client_secret.as_deref(), Some("s"));
        assert!(f.code.is_none());
        assert_eq!(
            typed::<TokenQueryForm>(b"token=a&client_id=c&token=b").unwrap_err(),
            ParamError::Repeated("token".into())
        );
        assert_eq!(
            typed::<TokenQueryForm>(b"client_id=a&client_id=b").unwrap_err(),
            ParamError::Repeated("client_id".into()),
            "a repeat inside the flattened part is caught too"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { failure_persistence: None, ..Default::default() })]

        // Any bytes: parameters or the repeated name, never a panic.
        #[test]
        fn any_bytes_are_parameters_or_a_repeat(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = unique(&raw);
            // Every form of this server: filled or a repeat, never malformed.
            for e in [
                typed::<super::super::forms::TokenForm>(&raw).err(),
                typed::<super::super::forms::AuthorizeQuery>(&raw).err(),
                typed::<super::super::forms::SignInForm>(&raw).err(),
            ].into_iter().flatten() {
                proptest::prop_assert!(matches!(e, ParamError::Repeated(_)), "{e:?}");
            }
        }

        // What a client encodes is what is read, whatever the characters.
        #[test]
        fn encoded_parameters_round_trip(pairs in proptest::collection::hash_map("\\PC{0,12}", "\\PC{0,24}", 0..6)) {
            let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
            let read = unique(encoded.as_bytes()).unwrap();
            proptest::prop_assert_eq!(read, pairs);
        }
    }
}
