//! The fields of a venue frame's item, checked: prices and quantities as plain decimals,
//! integers as `-?[0-9]+` texts, timestamps as RFC 3339 text. Each check returns the field's
//! text (borrowed from the frame) or a one-line reason that names the field; the frame
//! decoders report it in the item's slot, so one bad item is only that item's loss.

use crate::fixed::is_plain_decimal;
use crate::json_tree::{clip, Json};
use crate::timestamp::rfc3339_ns;

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
    let mut value: Option<i128> = Some(0);
    for b in digits.bytes() {
        value = value
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(i128::from(b - b'0')));
    }
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
