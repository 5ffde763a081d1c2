//! OAuth parameters, as queries and form bodies carry them
//! (`application/x-www-form-urlencoded`, read by `form_urlencoded`). A
//! parameter given twice is refused: RFC 6749 section 3.1 and 3.2 say
//! parameters must not be included more than once, and a second `redirect_uri`
//! or `client_id` is how confusion attacks begin.

use std::collections::HashMap;

/// The parameters, or the name of one given twice.
pub(super) fn unique(raw: &[u8]) -> Result<HashMap<String, String>, String> {
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { failure_persistence: None, ..Default::default() })]

        // Any bytes: parameters or the repeated name, never a panic.
        #[test]
        fn any_bytes_are_parameters_or_a_repeat(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = unique(&raw);
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
