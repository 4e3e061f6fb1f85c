//! Strings from a device are data. Every one that hiktalk keeps (XML text, JSON values, header
//! values it reports) passes through [`clean`] when it is parsed: bounded in length (counted in
//! characters, never sliced by byte index) and with control and bidirectional-override
//! characters escaped, so nothing a device says can move the cursor, clear a line, recolour the
//! terminal or forge a line of output. Whatever hiktalk later prints, serialises or validates
//! for a request is already safe to show.

/// The longest device string kept, in characters. ISAPI values are short (ids, codec names,
/// status words, model numbers); anything longer is cut and marked.
pub const MAX_CHARS: usize = 256;

/// `s` bounded to [`MAX_CHARS`] characters, control characters escaped (`\r`, `\n`, `\u{1b}`).
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_CHARS + 8));
    for (n, c) in s.chars().enumerate() {
        if n == MAX_CHARS {
            out.push('…');
            break;
        }
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The most entries kept of one JSON object or array from a device, and the deepest nesting.
pub const MAX_JSON_ENTRIES: usize = 64;
pub const MAX_JSON_DEPTH: usize = 8;

/// A device's JSON document as data: every key and string [`clean`]ed, objects and arrays cut
/// to [`MAX_JSON_ENTRIES`], nesting below [`MAX_JSON_DEPTH`] replaced by null.
pub fn clean_json(v: &serde_json::Value) -> serde_json::Value {
    clean_json_at(v, 0)
}

fn clean_json_at(v: &serde_json::Value, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    if depth >= MAX_JSON_DEPTH {
        return Value::Null;
    }
    match v {
        Value::String(s) => Value::String(clean(s)),
        Value::Array(a) => Value::Array(a.iter().take(MAX_JSON_ENTRIES).map(|x| clean_json_at(x, depth + 1)).collect()),
        Value::Object(o) => Value::Object(o.iter().take(MAX_JSON_ENTRIES).map(|(k, x)| (clean(k), clean_json_at(x, depth + 1))).collect()),
        other => other.clone(),
    }
}

/// The most markup a device's document may hold, counted as the bytes that open an element
/// or separate values (`<`, `{`, `[`, `,`). A real ISAPI answer has a few hundred; parsing a
/// 4 MiB answer of `<a/>` or `[0,0,...]` into a tree would take 80-90 MB, so a denser one is
/// refused before any parser sees it.
pub const MAX_NODES: usize = 20_000;

/// Whether `body` holds more markup than [`MAX_NODES`].
pub fn too_dense(body: &[u8]) -> bool {
    body.iter().filter(|b| matches!(b, b'<' | b'{' | b'[' | b',')).nth(MAX_NODES).is_some()
}

/// Characters a terminal acts on rather than shows: C0/C1 controls, DEL, and the Unicode
/// bidirectional overrides and isolates that reorder what follows them.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_text_is_kept() {
        assert_eq!(clean("G.711ulaw"), "G.711ulaw");
        assert_eq!(clean("DS\r\n\u{1b}[31mRED"), "DS\\r\\n\\u{1b}[31mRED");
        assert_eq!(clean("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(clean("Türklingel ☎"), "Türklingel ☎");
    }

    #[test]
    fn json_from_a_device_is_cleaned_and_bounded() {
        let deep = (0..20).fold(serde_json::json!("x"), |v, _| serde_json::json!([v]));
        let v = serde_json::json!({"a\u{1b}": "b\r\n", "n": 5, "many": (0..100).collect::<Vec<_>>(), "deep": deep});
        let c = clean_json(&v);
        assert_eq!(c["a\\u{1b}"], "b\\r\\n");
        assert_eq!(c["n"], 5);
        assert_eq!(c["many"].as_array().unwrap().len(), MAX_JSON_ENTRIES);
        assert!(!c.to_string().contains("\"x\""), "nesting is bounded: {c}");
    }

    #[test]
    fn dense_documents_are_told_apart_from_real_ones() {
        assert!(!too_dense(r#"<ResponseStatus><statusCode>1</statusCode></ResponseStatus>"#.as_bytes()));
        assert!(!too_dense(&b"<a/>".repeat(MAX_NODES)));
        assert!(too_dense(&b"<a/>".repeat(MAX_NODES + 1)));
        assert!(too_dense(&b"0,".repeat(1_000_000)));
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_CHARS + 10);
        let c = clean(&long);
        assert_eq!(c.chars().count(), MAX_CHARS + 1);
        assert!(c.ends_with('…'));
    }
}
