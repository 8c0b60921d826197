//! A JSON document as a tree whose numbers keep their exact text.
//!
//! Venue frame decoders ([`crate::kraken_frame`] and the others) read a frame once with the
//! exact-number reader ([`crate::json_exact`]) into this tree, borrowing from the frame's
//! bytes what they can, and then check it field by field ([`crate::frame_field`]).

use std::borrow::Cow;

use crate::error::CoreError;
use crate::json_exact::{parse, Sink};

/// A parsed JSON value with numbers as their exact text, borrowing from the document what it
/// can (numbers, strings without escapes).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// An object's member (the last one of that name, as a dict would keep it).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Obj(items) => items.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a number or a string (the exact reader's Python form of both).
    pub fn text(&self) -> Option<&str> {
        match self {
            Json::Num(s) => Some(s),
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value, short, for an error message.
    pub fn describe(&self) -> String {
        match self {
            Json::Null => "None".to_owned(),
            Json::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
            Json::Num(s) => format!("{:?}", clip(s, 40)),
            Json::Str(s) => format!("{:?}", clip(s, 40)),
            Json::Arr(_) => "a list".to_owned(),
            Json::Obj(_) => "an object".to_owned(),
        }
    }
}

pub fn clip(s: &str, chars: usize) -> &str {
    match s.char_indices().nth(chars) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

/// Builds the tree; with `finite`, refuses a number that [`fits_f64`] refuses.
struct TreeSink {
    finite: bool,
}

impl<'a> Sink<'a> for TreeSink {
    type Value = Json<'a>;
    type Error = CoreError;
    fn null(&mut self) -> Result<Json<'a>, CoreError> {
        Ok(Json::Null)
    }
    fn boolean(&mut self, v: bool) -> Result<Json<'a>, CoreError> {
        Ok(Json::Bool(v))
    }
    fn number(&mut self, text: &'a str) -> Result<Json<'a>, CoreError> {
        if self.finite && !fits_f64(text) {
            return Err(CoreError::Value(format!(
                "number is infinity when parsed as double: {:?}",
                clip(text, 40)
            )));
        }
        Ok(Json::Num(text))
    }
    fn string(&mut self, s: &str) -> Result<Json<'a>, CoreError> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }
    fn input_string(&mut self, s: &'a str) -> Result<Json<'a>, CoreError> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }
    fn array(&mut self, items: Vec<Json<'a>>) -> Result<Json<'a>, CoreError> {
        Ok(Json::Arr(items))
    }
    fn object(&mut self, items: Vec<(Json<'a>, Json<'a>)>) -> Result<Json<'a>, CoreError> {
        items
            .into_iter()
            .map(|(k, v)| match k {
                Json::Str(k) => Ok((k, v)),
                _ => Err(CoreError::Value("object key is not a string".to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Obj)
    }
}

/// Parses one frame into a [`Json`] tree ("not JSON: ..." when it is not).
pub fn parse_tree(input: &[u8]) -> Result<Json<'_>, CoreError> {
    parse(input, &mut TreeSink { finite: false })
        .map_err(|e| CoreError::Value(format!("not JSON: {e}")))
}

/// Like [`parse_tree`], and a number too large for an `f64` is refused too, as orjson
/// refuses it. For a venue whose general path reads frames with orjson (Coinbase): its
/// native path must not take a frame that path refuses whole (`1e400` anywhere in it).
pub fn parse_tree_finite(input: &[u8]) -> Result<Json<'_>, CoreError> {
    parse(input, &mut TreeSink { finite: true })
        .map_err(|e| CoreError::Value(format!("not JSON: {e}")))
}

/// The digits of 2^1024 - 2^970 (309 of them), the midpoint between `f64::MAX` and 2^1024:
/// a correctly rounded reader takes anything below it to `f64::MAX` at most, and the
/// midpoint itself (ties to even) and anything above to infinity.
const F64_OVERFLOW: &[u8] = concat!(
    "17976931348623158079372897140530341507993413271003782693617377898044496829276475",
    "09466490179775872070963302864166928879109465555478519404026306574886715058206819",
    "08902000708383676273854845817711531764475730270069855571366959622842914819860834",
    "936475292719074168444365510704342711559699508093042880177904174497792",
)
.as_bytes();

/// Whether a JSON number's text (already valid JSON) reads as a finite `f64`, decided on
/// its digits (no float is made): what orjson takes, where it refuses anything beyond with
/// "number is infinity when parsed as double". Tiny magnitudes round to zero: finite.
pub fn fits_f64(text: &str) -> bool {
    let b = text.as_bytes();
    let b = b.strip_prefix(b"-").unwrap_or(b);
    let (mantissa, exp) = match b.iter().position(|&c| c == b'e' || c == b'E') {
        Some(at) => (&b[..at], &b[at + 1..]),
        None => (b, &b""[..]),
    };
    if exp.is_empty() && mantissa.len() < 309 {
        return true; // fewer than 309 integer digits: below 10^308
    }
    let (whole, frac) = match mantissa.iter().position(|&c| c == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &b""[..]),
    };
    // value = 0.D x 10^e10, D the significant digits; exponents far out of range saturate.
    let digits = || whole.iter().chain(frac.iter()).copied();
    let Some(lead) = digits().position(|c| c != b'0') else {
        return true; // zero
    };
    let mut e = 0i64;
    let (neg, exp_digits) = match exp.first() {
        Some(b'-') => (true, &exp[1..]),
        Some(b'+') => (false, &exp[1..]),
        _ => (false, exp),
    };
    for &c in exp_digits {
        e = (e * 10 + i64::from(c - b'0')).min(1 << 40);
    }
    let e10 = whole.len() as i64 - lead as i64 + if neg { -e } else { e };
    match e10.cmp(&309) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => {
            // Both 0.D x 10^309: compare the digit strings as decimal fractions.
            let mut d = digits().skip(lead);
            for &m in F64_OVERFLOW {
                let c = d.next().unwrap_or(b'0');
                if c != m {
                    return c < m;
                }
            }
            false // equal to the midpoint as far as it goes; more digits only add
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_an_f64_holds() {
        let mid = std::str::from_utf8(F64_OVERFLOW).unwrap();
        let below = format!("{}1", &mid[..308]); // the midpoint's last digit 2 -> 1
        for ok in [
            "0",
            "-0",
            "1.5",
            "1e308",
            "1.7976931348623157e308",
            "1.797693134862315807937289714053e308",
            "0.000e400",
            "0e99999999999999999999",
            "1e-400",
            "1E-99999999999999999999",
            "0.00001e309",
            &"9".repeat(308),
            &format!("1{}", "0".repeat(308)),
            &below,
            &format!("-{below}"),
            &format!("{mid}.{}e-1", "9".repeat(50)),
            &format!("{}e1", &mid[..308]), // 10 x its first 308 digits: ...790 < ...792
        ] {
            assert!(fits_f64(ok), "{ok}");
        }
        for inf in [
            "1e309",
            "-1e400",
            "1E+99999999999999999999",
            "1.7976931348623159e308",
            &format!("1{}", "0".repeat(309)),
            &format!("2{}", "0".repeat(308)),
            mid,
            &format!("{mid}.0000001"),
            &format!("{mid}1"),
            &format!("0.{mid}e309"),
            &format!("{}3", &mid[..308]),
        ] {
            assert!(!fits_f64(inf), "{inf}");
        }
    }

    #[test]
    fn the_finite_parse_refuses_what_orjson_refuses() {
        let doc = br#"{"a":[1.5,{"b":"x"}],"c":1e400}"#;
        assert!(matches!(parse_tree(doc), Ok(Json::Obj(_))));
        let err = parse_tree_finite(doc).unwrap_err().to_string();
        assert!(err.starts_with("not JSON:"), "{err}");
        assert!(err.contains("infinity"), "{err}");
        let tree = parse_tree_finite(br#"{"a":1e308,"b":"1e400"}"#).unwrap();
        assert_eq!(tree.get("a"), Some(&Json::Num("1e308")));
        assert_eq!(tree.get("b").and_then(Json::text), Some("1e400"));
    }
}
