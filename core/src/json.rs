//! Canonical JSON, byte for byte as the original Python Chainspace writes it.
//!
//! Transaction digests and object IDs (Chainspace paper, section 4: "objects ... are
//! identified by the hash of the transaction that created them") are SHA-256 over
//! `json.dumps(tx, sort_keys=True, separators=(',', ':'))` as Python 3 writes it. Python
//! clients and contracts compute those IDs themselves, so this writer must agree with
//! Python on every byte, not merely produce *a* canonical form:
//!
//! * object keys sorted by code point (Python sorts `str` by code point, which is also
//!   UTF-8 byte order);
//! * strings escaped with `ensure_ascii=True`: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`,
//!   every other character below 0x20, 0x7f and every non-ASCII character as `\uXXXX`
//!   (lower-case hex, astral characters as UTF-16 surrogate pairs); `/` is not escaped;
//! * integers (literals without `.`, `e` or `E`) exactly, whatever their size, as Python's
//!   `int` keeps them (`-0` becomes `0`);
//! * floats as Python's `repr(float)`: shortest round-trip digits, scientific notation when
//!   the decimal exponent is below -4 or at least 16 (`1e-07`, `1e+16`), fixed notation
//!   with `.0` for integral values otherwise (`1.0`, `-0.0`); a literal too large for a
//!   double becomes `Infinity`, as Python's `json` would turn it into `inf`.
//!
//! serde_json is built with `arbitrary_precision` in this workspace, so a parsed number
//! keeps its literal text and this module decides, like Python's `json.loads`, whether it
//! is an `int` or a `float`.

use serde_json::{Number, Value};

use crate::Error;

/// The canonical JSON text of `v`, as Python's
/// `json.dumps(v, sort_keys=True, separators=(',', ':'))` writes it.
pub fn to_canonical_string(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, v);
    out
}

/// Append the canonical JSON text of `v` to `out` (avoids one allocation per nested value
/// when a caller builds a larger document).
pub fn write_canonical(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&canonical_number(n)),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => write_json_array(out, items, write_canonical),
        Value::Object(map) => {
            // serde_json's map is sorted unless some crate in the build turns on
            // `preserve_order`; sort explicitly so feature unification cannot change IDs.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_canonical(out, value);
            }
            out.push('}');
        }
    }
}

/// Append `items` as a JSON array, each written by `write` (canonical: no spaces).
pub fn write_json_array<T>(out: &mut String, items: &[T], write: impl Fn(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

/// Append `s` as a JSON string literal escaped as Python does with `ensure_ascii=True`.
pub fn write_json_string(out: &mut String, s: &str) {
    // Most strings (hex IDs, names, plain values) need no escape: copy them whole.
    if s.bytes().all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Whether a JSON number literal is a float for Python's `json.loads` (it has a fraction
/// or an exponent) rather than an `int`.
fn is_float_literal(text: &str) -> bool {
    text.contains(['.', 'e', 'E'])
}

/// The canonical text of a number: an `int` exactly, a `float` as Python's `repr`.
pub fn canonical_number(n: &Number) -> String {
    let text = n.as_str();
    if is_float_literal(text) {
        match text.parse::<f64>() {
            Ok(x) => python_float_repr(x),
            // serde_json only builds numbers from valid JSON literals, which always parse;
            // keep the literal rather than invent a value if that ever changes.
            Err(_) => text.to_string(),
        }
    } else {
        canonical_integer(text)
    }
}

/// An integer literal as Python's `str(int)` writes it: no leading zeros, no `-0`.
fn canonical_integer(text: &str) -> String {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        "0".to_string()
    } else if negative {
        format!("-{digits}")
    } else {
        digits.to_string()
    }
}

/// `x` as Python 3's `repr(float)` writes it, which is what `json.dumps` uses: the
/// shortest digits that read back as `x`, scientific notation with a signed exponent of
/// at least two digits when the decimal exponent is below -4 or at least 16, and fixed
/// notation with a `.0` for integral values otherwise. Non-finite values give `Infinity`,
/// `-Infinity` and `NaN` as Python's `json` writes them.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let sci = shortest_scientific(x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.unsigned_abs())
    } else if exponent >= 0 {
        let point = exponent as usize + 1;
        if digits.len() <= point {
            format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..point], &digits[point..])
        }
    } else {
        format!("{sign}0.{}{digits}", "0".repeat(exponent.unsigned_abs() as usize - 1))
    }
}

/// The shortest digits that read back as `x` (finite, non-negative), in Rust's `{:e}`
/// form (`1.5e-7`), chosen as Python's `repr` chooses them.
///
/// Rust's `{:e}` gives the shortest round-trip digits, but when two strings of that length
/// both read back as `x` and `x` lies exactly halfway between them, it does not pick the
/// one Python (David Gay's `dtoa`, mode 0) picks: the closest, ties to an even last digit
/// (`-29978731757228.812`, not `.813`). Rounding the exact value to the same number of
/// digits (`{:.N$e}` rounds half to even) gives Python's choice whenever it reads back.
fn shortest_scientific(x: f64) -> String {
    let shortest = format!("{x:e}");
    let mantissa = shortest.split('e').next().unwrap_or_default();
    let digits = mantissa.chars().filter(char::is_ascii_digit).count();
    if digits > 1 {
        let nearest = format!("{:.*e}", digits - 1, x);
        if nearest != shortest && nearest.parse::<f64>().is_ok_and(|y| y == x) {
            return nearest;
        }
    }
    shortest
}

/// The longest integer Python 3.11+ converts from or to text by default
/// (`sys.get_int_max_str_digits()`): a Python client or checker cannot handle more.
pub const PYTHON_INT_MAX_DIGITS: usize = 4300;

/// A copy of `v` in which every number is replaced by its canonical text, so the value
/// holds exactly what Python holds after `json.loads` (`1E5` becomes `100000.0`, `-0`
/// becomes `0`). Two values then compare equal exactly when their canonical JSON does.
///
/// An integer of more than [`PYTHON_INT_MAX_DIGITS`] digits is rejected, as Python's
/// `json` rejects it. A float literal too large for a double is rejected: Python would turn it into
/// `Infinity`, which is not JSON, so neither a checker nor the wire could carry it.
/// `path` names `v` in the error (e.g. `transaction.parameters[3]`).
pub fn to_canonical_value(v: &Value, path: &str) -> Result<Value, Error> {
    Ok(match v {
        Value::Number(n) => {
            let text = canonical_number(n);
            if text.trim_start_matches('-').len() > PYTHON_INT_MAX_DIGITS {
                return Err(Error::InvalidJson {
                    path: path.to_string(),
                    reason: format!(
                        "integer of more than {PYTHON_INT_MAX_DIGITS} digits (Python's json refuses it)"
                    ),
                });
            }
            if text.ends_with("Infinity") || text == "NaN" {
                return Err(Error::InvalidJson {
                    path: path.to_string(),
                    reason: format!(
                        "number {} does not fit a 64-bit float (Python would write {text}, which is not JSON)",
                        truncate(n.as_str())
                    ),
                });
            }
            let n: Number = serde_json::from_str(&text).map_err(|e| Error::InvalidJson {
                path: path.to_string(),
                reason: format!("number {} cannot be normalised: {e}", truncate(n.as_str())),
            })?;
            Value::Number(n)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_canonical_value(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, item)| Ok((k.clone(), to_canonical_value(item, &key_path(path, k))?)))
                .collect::<Result<_, Error>>()?,
        ),
        other => other.clone(),
    })
}

/// `path.key` for identifier-like keys, `path["key"]` otherwise, so error paths stay
/// unambiguous whatever the keys contain.
fn key_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { format!("{path}.{key}") } else { format!("{path}[{key:?}]") }
}

/// At most 40 characters of a literal, for error messages about hostile input.
fn truncate(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(40).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(text: &str) -> String {
        to_canonical_string(&serde_json::from_str(text).expect("test JSON"))
    }

    #[test]
    fn keys_are_sorted_by_code_point_at_every_level() {
        assert_eq!(canon(r#"{"b":1,"a":{"d":[],"c":{}}}"#), r#"{"a":{"c":{},"d":[]},"b":1}"#);
        assert_eq!(
            canon(r#"{"z":1,"Z":2,"_":3,"é":4,"10":5,"9":6}"#),
            r#"{"10":5,"9":6,"Z":2,"_":3,"z":1,"\u00e9":4}"#
        );
    }

    #[test]
    fn separators_are_compact_and_literals_plain() {
        assert_eq!(
            canon("[true, false, null, [1, [2, [3]]], {}]"),
            "[true,false,null,[1,[2,[3]]],{}]"
        );
    }

    #[test]
    fn strings_are_escaped_like_python_ensure_ascii() {
        let v = json!("quote \" backslash \\ slash / tab \t newline \n cr \r nul \u{0} bell \u{7}");
        assert_eq!(
            to_canonical_string(&v),
            r#""quote \" backslash \\ slash / tab \t newline \n cr \r nul \u0000 bell \u0007""#
        );
        let v = json!("\u{7f}\u{0}\u{1f}/é\u{1F389}\u{2028}\u{8}\u{c}");
        assert_eq!(to_canonical_string(&v), r#""\u007f\u0000\u001f/\u00e9\ud83c\udf89\u2028\b\f""#);
        assert_eq!(to_canonical_string(&json!("日本語")), r#""\u65e5\u672c\u8a9e""#);
    }

    #[test]
    fn integers_keep_every_digit() {
        assert_eq!(
            canon("[0,-0,-1,123456789012345678901234567890,-5]"),
            "[0,0,-1,123456789012345678901234567890,-5]"
        );
        let huge = format!("1{}", "0".repeat(500));
        assert_eq!(canon(&huge), huge);
        assert_eq!(canonical_integer("-000"), "0");
        assert_eq!(canonical_integer("007"), "7");
    }

    /// Each pair is a literal and what Python 3.11's `json.dumps(json.loads(literal))` writes.
    const PYTHON_FLOATS: &[(&str, &str)] = &[
        ("1.0", "1.0"),
        ("1.5", "1.5"),
        ("-0.0", "-0.0"),
        ("0.0", "0.0"),
        ("1e-07", "1e-07"),
        ("1e+300", "1e+300"),
        ("1e16", "1e+16"),
        ("1e15", "1000000000000000.0"),
        ("1E5", "100000.0"),
        ("0.0001", "0.0001"),
        ("0.00001", "1e-05"),
        ("123.456e10", "1234560000000.0"),
        ("1e400", "Infinity"),
        ("-1e400", "-Infinity"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("2.2250738585072014e-308", "2.2250738585072014e-308"),
        ("0.1", "0.1"),
        ("0.30000000000000004", "0.30000000000000004"),
        ("1e22", "1e+22"),
        ("9007199254740993.0", "9007199254740992.0"),
        ("123456789012345678.0", "1.2345678901234568e+17"),
        ("1.23e-5", "1.23e-05"),
        ("4.35", "4.35"),
        ("100.0e-2", "1.0"),
        ("34e-56789", "0.0"),
        ("-12.5e-3", "-0.0125"),
        ("1e-4", "0.0001"),
        ("12345678901234567e-1", "1234567890123456.8"),
        ("3.141592653589793", "3.141592653589793"),
        // Exact ties between two shortest candidates: Python keeps the even last digit.
        ("-29978731757228.812", "-29978731757228.812"),
        ("170438249134126.625", "170438249134126.62"),
        ("1190791592585888.25", "1190791592585888.2"),
        ("-884465664838799.25", "-884465664838799.2"),
    ];

    #[test]
    fn floats_are_written_as_python_repr() {
        for (literal, python) in PYTHON_FLOATS {
            assert_eq!(canon(literal), *python, "literal {literal}");
        }
    }

    #[test]
    fn numbers_case_of_the_vectors() {
        let text = "[0, -1, 1.5, 1.0, 1e-07, 123456789012345678901234567890, \
                    3.141592653589793, 1e+300, -0.0]";
        assert_eq!(
            canon(text),
            "[0,-1,1.5,1.0,1e-07,123456789012345678901234567890,3.141592653589793,1e+300,-0.0]"
        );
    }

    #[test]
    fn numbers_built_in_rust_are_canonical_too() {
        assert_eq!(
            to_canonical_string(&json!([1e-7, 5.0, 1e16, 7u64, -3i64])),
            "[1e-07,5.0,1e+16,7,-3]"
        );
    }

    #[test]
    fn float_repr_handles_non_finite_values() {
        assert_eq!(python_float_repr(f64::INFINITY), "Infinity");
        assert_eq!(python_float_repr(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(python_float_repr(f64::NAN), "NaN");
    }

    #[test]
    fn canonical_value_normalises_numbers_and_rejects_overflow() {
        let v: Value = serde_json::from_str(r#"{"a":[1E5,-0,2.50]}"#).expect("test JSON");
        let c = to_canonical_value(&v, "p").expect("finite");
        assert_eq!(c, serde_json::from_str::<Value>(r#"{"a":[100000.0,0,2.5]}"#).expect("json"));
        assert_eq!(to_canonical_string(&c), to_canonical_string(&v));

        let long = format!("[-{}]", "9".repeat(PYTHON_INT_MAX_DIGITS + 1));
        let v: Value = serde_json::from_str(&long).expect("test JSON");
        assert!(to_canonical_value(&v, "p").is_err());
        let ok = format!("[-{}]", "9".repeat(PYTHON_INT_MAX_DIGITS));
        let v: Value = serde_json::from_str(&ok).expect("test JSON");
        assert!(to_canonical_value(&v, "p").is_ok());

        let v: Value = serde_json::from_str(r#"{"a b":[0,1e400]}"#).expect("test JSON");
        match to_canonical_value(&v, "p") {
            Err(Error::InvalidJson { path, .. }) => assert_eq!(path, r#"p["a b"][1]"#),
            other => panic!("expected an overflow error, got {other:?}"),
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn arb_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|i| json!(i)),
                any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| json!(x)),
                "[0-9]{1,60}".prop_map(|d| Value::Number(
                    serde_json::from_str(d.trim_start_matches('0')).unwrap_or(0.into())
                )),
                any::<String>().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                    prop::collection::btree_map(any::<String>(), inner, 0..8)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn canonical_text_is_a_fixed_point(v in arb_value()) {
                let once = to_canonical_string(&v);
                let reparsed: Value = serde_json::from_str(&once).expect("canonical JSON parses");
                prop_assert_eq!(to_canonical_string(&reparsed), once.clone());
                prop_assert!(once.is_ascii());
                let normalised = to_canonical_value(&v, "v").expect("finite");
                prop_assert_eq!(to_canonical_string(&normalised), once);
            }

            #[test]
            fn float_repr_round_trips(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
                let text = python_float_repr(x);
                prop_assert_eq!(text.parse::<f64>().ok().map(f64::to_bits), Some(x.to_bits()));
            }
        }
    }
}
