//! Arbitrary bytes → the `eval` request-line reader: never panics; whatever
//! the text reader accepts, the reader over a parsed `serde_json::Value`
//! accepts and reads the same; it refuses what that one accepts only when a
//! key is repeated (which the value's parse merges, the last one winning).
#![no_main]
use iamsim::engine::request::Request;
use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    let Ok(text) = std::str::from_utf8(data) else { return Corpus::Reject };
    if text.len() > 16 * 1024 {
        return Corpus::Reject;
    }
    let from_text = Request::from_json_text(text);
    let from_value = serde_json::from_str::<serde_json::Value>(text)
        .map_err(|e| e.to_string())
        .and_then(|v| Request::from_json(&v).map_err(|e| e.to_string()));
    match (from_text, from_value) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
        (Ok(a), Err(e)) => panic!("{text}: text reader accepts {a:?}, value reader refuses: {e}"),
        (Err(e), Ok(_)) => {
            // The span-keeping parser refuses repeated keys by name.
            let repeated =
                iamsim::engine::policy::json::parse(data).is_err_and(|s| s.message.contains("duplicate key"));
            assert!(repeated, "{text}: only the text reader refuses, and no key is repeated: {e}");
        }
        (Err(_), Err(_)) => {}
    }
    Corpus::Keep
});
