//! The fields of a venue frame's item, checked: prices and quantities as plain decimals,
//! integers as `-?[0-9]+` texts, timestamps as RFC 3339 text. Each check returns the field's
//! text (borrowed from the frame) or a one-line reason that names the field; the frame
//! decoders report it in the item's slot, so one bad item is only that item's loss.
//!
//! Two notations: Kraken writes numbers bare, and its general path reads them as exact
//! texts, so [`decimal`] and [`int_text`] take a number and a string alike. Venues that
//! quote (Coinbase) are read by an orjson general path, which makes a bare number an `int`
//! or a `float` that the Python checks refuse: the `quoted_*` checks and [`orjson_int`]
//! refuse what that path refuses.

use std::collections::HashMap;

use crate::error::CoreError;
use crate::fixed::{check_precision, is_plain_decimal};
use crate::json_tree::{clip, Json};
use crate::timestamp::rfc3339_ns;

/// The price and quantity decimals of the symbols a frame decoder tracks: an item naming
/// any other symbol is not one of ours.
#[derive(Debug, Default)]
pub struct PrecisionTable(HashMap<String, (u8, u8)>);

impl PrecisionTable {
    /// Tracks `symbol` with its price and quantity decimals (replacing earlier ones).
    pub fn set(
        &mut self,
        symbol: &str,
        price_precision: i64,
        qty_precision: i64,
    ) -> Result<(), CoreError> {
        let p = check_precision("price_precision", price_precision)?;
        let q = check_precision("qty_precision", qty_precision)?;
        self.0.insert(symbol.to_owned(), (p, q));
        Ok(())
    }

    /// The decimals of a tracked symbol.
    pub fn get(&self, symbol: &str) -> Option<(u8, u8)> {
        self.0.get(symbol).copied()
    }
}

/// An item's result: its checked fields, or why it was refused.
pub type ItemResult<T> = Result<T, String>;

pub fn required<'t, 'a>(item: &'t Json<'a>, key: &str) -> ItemResult<&'t Json<'a>> {
    item.get(key).ok_or_else(|| format!("{key} is missing"))
}

pub fn clip_num(v: &Json) -> String {
    v.text()
        .map_or_else(|| v.describe(), |s| clip(s, 40).to_owned())
}

/// A price or quantity: a plain decimal text (see [`is_plain_decimal`]).
pub fn decimal<'t>(
    v: &'t Json,
    what: &str,
    places: Option<u8>,
    positive: bool,
) -> ItemResult<&'t str> {
    let Some(text) = v.text() else {
        return Err(format!("{what} is not a decimal: {}", v.describe()));
    };
    check_decimal(text, what, places, positive)?;
    Ok(text)
}

pub fn check_decimal(text: &str, what: &str, places: Option<u8>, positive: bool) -> ItemResult<()> {
    if is_plain_decimal(text.as_bytes(), places, positive) {
        return Ok(());
    }
    // Only a refusal is explained, so the accepting path reads the bytes once.
    let shown = clip(text, 40);
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let plain = !text.is_empty()
        && text.len() <= crate::fixed::MAX_DECIMAL_LEN
        && !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && (!text.contains('.') || (!frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit())));
    Err(if !plain {
        format!("{what} is not a decimal: {shown:?}")
    } else if whole.trim_start_matches('0').len() > crate::fixed::MAX_INTEGER_DIGITS {
        format!("{what} is out of range: {shown:?}")
    } else if let Some(p) = places.filter(|&p| frac.trim_end_matches('0').len() > usize::from(p)) {
        format!("{what} has more than {p} decimals: {shown:?}")
    } else {
        format!("{what} is zero")
    })
}

/// An optional decimal: absent or `null` is `None`.
pub fn optional<'t>(
    v: Option<&'t Json>,
    what: &str,
    places: Option<u8>,
) -> ItemResult<Option<&'t str>> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(v) => decimal(v, what, places, false).map(Some),
    }
}

/// An optional decimal that may have a leading `-` (changes, percentages).
pub fn optional_signed<'t>(v: Option<&'t Json>, what: &str) -> ItemResult<Option<&'t str>> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(v) => match v.text() {
            Some(text) => {
                check_decimal(text.strip_prefix('-').unwrap_or(text), what, None, false)?;
                Ok(Some(text))
            }
            None => decimal(v, what, None, false).map(Some),
        },
    }
}

/// An integer text (`-?[0-9]+`, any length): its value when it fits an `i128`, `None` when
/// it is larger.
pub fn int_text(v: &Json, what: &str) -> ItemResult<Option<i128>> {
    let text = v
        .text()
        .ok_or_else(|| format!("{what} is not an integer: {}", v.describe()))?;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} is not an integer: {:?}", clip(text, 40)));
    }
    let value = if digits.len() <= 18 {
        // Ids and times: 18 digits never overflow a u64, so no check per digit.
        let v = digits
            .bytes()
            .fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
        Some(i128::from(v))
    } else {
        digits.bytes().try_fold(0i128, |v, b| {
            v.checked_mul(10)?.checked_add(i128::from(b - b'0'))
        })
    };
    Ok(value.map(|v| if negative { -v } else { v }))
}

/// A timestamp in ns since the epoch; absent or `null` is `None`.
pub fn timestamp(v: Option<&Json>, what: &str) -> ItemResult<Option<i64>> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(s)) => match rfc3339_ns(s) {
            Some(ns) => Ok(Some(ns)),
            None => Err(format!("bad {what} {:?}", clip(s, 40))),
        },
        Some(v) => Err(format!("{what} is not a string: {}", v.describe())),
    }
}

/// A price or quantity the venue quotes: a JSON string holding a plain decimal. A bare JSON
/// number is refused even when its text would pass (orjson makes it a float or an int).
pub fn quoted_decimal<'t>(
    v: &'t Json,
    what: &str,
    places: Option<u8>,
    positive: bool,
) -> ItemResult<&'t str> {
    match v {
        Json::Str(text) => {
            check_decimal(text, what, places, positive)?;
            Ok(text)
        }
        _ => Err(format!("{what} is not a decimal string: {}", v.describe())),
    }
}

/// An optional quoted decimal: absent or `null` is `None`.
pub fn optional_quoted<'t>(
    v: Option<&'t Json>,
    what: &str,
    places: Option<u8>,
    positive: bool,
) -> ItemResult<Option<&'t str>> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(v) => quoted_decimal(v, what, places, positive).map(Some),
    }
}

/// A quoted decimal that may have a leading `-` (changes, percentages).
pub fn quoted_signed<'t>(v: &'t Json, what: &str) -> ItemResult<&'t str> {
    match v {
        Json::Str(text) => {
            check_decimal(text.strip_prefix('-').unwrap_or(text), what, None, false)?;
            Ok(text)
        }
        _ => Err(format!("{what} is not a decimal string: {}", v.describe())),
    }
}

/// The range of the JSON integers orjson reads as an `int` (-2^63 to 2^64 - 1); beyond it,
/// a float.
const ORJSON_INT: std::ops::RangeInclusive<i128> = -(1 << 63)..=(u64::MAX as i128);

/// An integer as the orjson general path takes it (`as_int` after `orjson.loads`): a JSON
/// integer orjson reads as an `int`, or a string of `-?[0-9]+` of any length. Its text.
pub fn orjson_int<'t>(v: &'t Json, what: &str) -> ItemResult<&'t str> {
    let value = int_text(v, what)?;
    match v {
        Json::Num(text) if value.is_some_and(|n| ORJSON_INT.contains(&n)) => Ok(text),
        Json::Num(text) => Err(format!("{what} is not an integer: {:?}", clip(text, 40))),
        _ => Ok(v.text().unwrap_or_default()),
    }
}

/// An integer text (`-?[0-9]+`) as Python's `str(int(text))` writes it: no leading zeros,
/// no `-0`. Borrowed when it already is.
pub fn canonical_int(text: &str) -> std::borrow::Cow<'_, str> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        return std::borrow::Cow::Borrowed("0");
    }
    if trimmed.len() == digits.len() {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(format!("{sign}{trimmed}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_tree::parse_tree;

    /// The value of one JSON token (leaked: tests only).
    fn json(token: &str) -> &'static Json<'static> {
        let doc: &'static str = Box::leak(token.to_owned().into_boxed_str());
        Box::leak(Box::new(parse_tree(doc.as_bytes()).unwrap()))
    }

    #[test]
    fn quoted_decimals_refuse_bare_numbers() {
        assert_eq!(
            quoted_decimal(json(r#""1.50""#), "p", Some(2), true),
            Ok("1.50")
        );
        assert_eq!(quoted_decimal(json(r#""0""#), "q", None, false), Ok("0"));
        for (token, why) in [
            ("1.5", "p is not a decimal string: \"1.5\""),
            ("1", "p is not a decimal string: \"1\""),
            ("null", "p is not a decimal string: None"),
            ("true", "p is not a decimal string: True"),
            ("[]", "p is not a decimal string: a list"),
            ("{}", "p is not a decimal string: an object"),
            (r#""-1""#, "p is not a decimal"),
            (r#""1e5""#, "p is not a decimal"),
            (r#""NaN""#, "p is not a decimal"),
            (r#""1.2.3""#, "p is not a decimal"),
            (r#"" 1""#, "p is not a decimal"),
            (r#""\uff11""#, "p is not a decimal"),
            (r#""0.000""#, "p is zero"),
            (r#""1.001""#, "p has more than 2 decimals"),
            (r#""10000000000000000""#, "p is out of range"),
        ] {
            let err = quoted_decimal(json(token), "p", Some(2), true).unwrap_err();
            assert!(err.starts_with(why), "{token}: {err}");
        }
    }

    #[test]
    fn optional_and_signed_quoted_decimals() {
        assert_eq!(optional_quoted(None, "v", None, false), Ok(None));
        assert_eq!(
            optional_quoted(Some(json("null")), "v", None, true),
            Ok(None)
        );
        assert_eq!(
            optional_quoted(Some(json(r#""2""#)), "v", None, true),
            Ok(Some("2"))
        );
        assert!(optional_quoted(Some(json(r#""0""#)), "v", None, true).is_err());
        assert!(optional_quoted(Some(json("2")), "v", None, false).is_err());
        for ok in [r#""-4.157""#, r#""4.157""#, r#""-0""#, r#""0""#] {
            assert!(quoted_signed(json(ok), "c").is_ok(), "{ok}");
        }
        for bad in [
            r#""--1""#,
            r#""-""#,
            r#""+1""#,
            r#""- 1""#,
            "-1",
            "null",
            r#""-1e5""#,
        ] {
            assert!(quoted_signed(json(bad), "c").is_err(), "{bad}");
        }
        assert_eq!(quoted_signed(json(r#""-1.25""#), "c"), Ok("-1.25"));
    }

    #[test]
    fn integer_texts_either_side_of_18_digits() {
        let value = |token: &str| int_text(json(token), "n");
        assert_eq!(
            value("999999999999999999"),
            Ok(Some(999_999_999_999_999_999))
        );
        assert_eq!(
            value(r#""-0999999999999999999""#),
            Ok(Some(-999_999_999_999_999_999))
        );
        assert_eq!(
            value("1000000000000000000"),
            Ok(Some(1_000_000_000_000_000_000))
        );
        assert_eq!(value(&i128::MAX.to_string()), Ok(Some(i128::MAX)));
        assert_eq!(value(&format!("{}0", i128::MAX)), Ok(None));
    }

    #[test]
    fn canonical_integers_as_python_writes_them() {
        for (text, want) in [
            ("0", "0"),
            ("-0", "0"),
            ("000", "0"),
            ("-000", "0"),
            ("7", "7"),
            ("007", "7"),
            ("-007", "-7"),
            ("-12", "-12"),
            ("100", "100"),
        ] {
            assert_eq!(canonical_int(text), want, "{text}");
        }
        assert!(matches!(
            canonical_int("123"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn integers_as_orjson_reads_them() {
        for (token, text) in [
            ("7", "7"),
            ("-0", "-0"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("18446744073709551615", "18446744073709551615"),
            (r#""42""#, "42"),
            (r#""-42""#, "-42"),
            (
                r#""123456789012345678901234567890123456789012345""#,
                "123456789012345678901234567890123456789012345",
            ),
        ] {
            assert_eq!(orjson_int(json(token), "n"), Ok(text), "{token}");
        }
        for bad in [
            "18446744073709551616",
            "-9223372036854775809",
            "1000000000000000000000000000000000000000000",
            "1.0",
            "1e3",
            "null",
            "true",
            "[1]",
            r#""1.0""#,
            r#""+1""#,
            r#""""#,
            r#"" 1""#,
            r#""\uff11""#,
        ] {
            let err = orjson_int(json(bad), "n").unwrap_err();
            assert!(err.starts_with("n is not an integer"), "{bad}: {err}");
        }
    }
}
