//! Fixed-point decimals: venue text in, `i64` mantissa at a fixed precision out, and back.
//!
//! Prices and quantities never pass through `f64`: the text is read digit by digit into an
//! integer mantissa and a decimal exponent, then scaled to the instrument's precision. A value
//! that would need more significant decimals than the precision is refused instead of rounded,
//! because a silently rounded level makes a book that no venue checksum will ever agree with.

use crate::error::CoreError;

/// The largest precision we accept: 10^18 still fits an `i64` with room for a mantissa of 9.
pub const MAX_PRECISION: u8 = 18;

const POW10: [i64; 19] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
];

/// Checks a precision argument.
pub fn check_precision(what: &str, precision: i64) -> Result<u8, CoreError> {
    if (0..=i64::from(MAX_PRECISION)).contains(&precision) {
        Ok(precision as u8)
    } else {
        Err(CoreError::Value(format!(
            "{what} must be between 0 and {MAX_PRECISION}, got {precision}"
        )))
    }
}

fn invalid(text: &str, reason: &str) -> CoreError {
    // Name the bad text, but never echo megabytes of it into a message or a log line.
    const SHOWN: usize = 64;
    let shown = match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    };
    CoreError::InvalidDecimal {
        text: shown,
        reason: reason.to_owned(),
    }
}

/// Integer digits (leading zeros aside) of any price or quantity a venue may hand us: a
/// quadrillion is far above any spot price, trade or 24-hour volume.
pub const MAX_INTEGER_DIGITS: usize = 15;

/// Longest decimal text accepted at all (leading zeros and padding included).
pub const MAX_DECIMAL_LEN: usize = 64;

/// Whether `text` is a plain unsigned decimal as venues quote prices and quantities:
/// ASCII digits with at most one `.` that has digits on both sides, no sign, exponent or
/// space; at most [`MAX_DECIMAL_LEN`] bytes and [`MAX_INTEGER_DIGITS`] integer digits
/// after leading zeros; with `places`, no significant decimal beyond it (trailing zeros do
/// not count: Binance writes `45000.40000000` for a 0.01 tick); with `positive`, not zero.
///
/// The check every trade and ticker field goes through, so it reads the bytes once and
/// allocates nothing.
pub fn is_plain_decimal(text: &[u8], places: Option<u8>, positive: bool) -> bool {
    if text.is_empty() || text.len() > MAX_DECIMAL_LEN {
        return false;
    }
    let mut dot: Option<usize> = None;
    let mut first_significant: Option<usize> = None;
    let mut last_nonzero_decimal: Option<usize> = None;
    let mut nonzero = false;
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                if b != b'0' {
                    nonzero = true;
                    if dot.is_none() && first_significant.is_none() {
                        first_significant = Some(i);
                    }
                    if dot.is_some() {
                        last_nonzero_decimal = Some(i);
                    }
                }
            }
            b'.' if dot.is_none() && i > 0 => dot = Some(i),
            _ => return false,
        }
    }
    let int_end = dot.unwrap_or(text.len());
    if dot == Some(text.len() - 1) {
        return false; // "1." has no digits after the point
    }
    if let Some(first) = first_significant {
        if int_end - first > MAX_INTEGER_DIGITS {
            return false;
        }
    }
    if let (Some(p), Some(d), Some(last)) = (places, dot, last_nonzero_decimal) {
        if last - d > usize::from(p) {
            return false;
        }
    }
    !positive || nonzero
}

/// Parses decimal text into a non-negative fixed-point integer at `precision` decimals.
///
/// Accepts an optional leading `+`, digits with an optional `.`, and an optional exponent
/// (`1e-05`, `1.5E+3`), as venues write them. Refuses signs other than `+`, empty text,
/// whitespace, `nan`/`inf`, more significant decimals than `precision` and overflow.
pub fn parse_fixed(text: &str, precision: u8) -> Result<i64, CoreError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    match bytes.first() {
        None => return Err(invalid(text, "empty text")),
        Some(b'-') => return Err(invalid(text, "negative values are not allowed")),
        Some(b'+') => i = 1,
        _ => {}
    }
    // Mantissa digits accumulate in u128. Zeros after the last non-zero digit are only
    // counted (`pending_zeros`) and multiplied in when another non-zero digit follows, so
    // long trailing zeros ("45283.50000000000000000000000000000000000000") never overflow.
    let mut mantissa: u128 = 0;
    let mut digits = 0usize;
    let mut frac_digits: i64 = 0;
    let mut pending_zeros: u32 = 0;
    let mut seen_dot = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if seen_dot {
                    frac_digits += 1;
                }
                if b == b'0' {
                    if mantissa != 0 {
                        pending_zeros += 1;
                    }
                } else {
                    mantissa = 10u128
                        .checked_pow(pending_zeros + 1)
                        .and_then(|scale| mantissa.checked_mul(scale))
                        .and_then(|m| m.checked_add(u128::from(b - b'0')))
                        .ok_or_else(|| invalid(text, "too many significant digits"))?;
                    pending_zeros = 0;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => break,
            _ => return Err(invalid(text, "not a decimal number")),
        }
        i += 1;
    }
    if digits == 0 {
        return Err(invalid(text, "no digits"));
    }
    let mut exponent: i64 = 0;
    if i < bytes.len() {
        // bytes[i] is 'e' or 'E'
        i += 1;
        let mut negative = false;
        match bytes.get(i) {
            Some(b'-') => {
                negative = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        let start = i;
        while i < bytes.len() {
            let b = bytes[i];
            if !b.is_ascii_digit() {
                return Err(invalid(text, "not a decimal number"));
            }
            exponent = exponent * 10 + i64::from(b - b'0');
            if exponent > 1000 {
                return Err(invalid(text, "exponent out of range"));
            }
            i += 1;
        }
        if i == start {
            return Err(invalid(text, "exponent has no digits"));
        }
        if negative {
            exponent = -exponent;
        }
    }
    // value = mantissa * 10^(pending_zeros + exponent - frac_digits); we want it scaled by
    // 10^precision.
    let shift = i64::from(pending_zeros) + exponent - frac_digits + i64::from(precision);
    let scaled: u128 = if shift >= 0 {
        if mantissa == 0 {
            0
        } else {
            if shift > 38 {
                return Err(invalid(text, "out of range"));
            }
            mantissa
                .checked_mul(10u128.pow(shift as u32))
                .ok_or_else(|| invalid(text, "out of range"))?
        }
    } else {
        let down = -shift;
        if down > 38 {
            if mantissa != 0 {
                return Err(invalid(
                    text,
                    &format!("more than {precision} significant decimals"),
                ));
            }
            0
        } else {
            let div = 10u128.pow(down as u32);
            if mantissa % div != 0 {
                return Err(invalid(
                    text,
                    &format!("more than {precision} significant decimals"),
                ));
            }
            mantissa / div
        }
    };
    i64::try_from(scaled).map_err(|_| invalid(text, "out of range"))
}

/// Appends `raw` rendered at `precision` decimals (`5660`, 4 → `0.5660`; precision 0 → no dot).
pub fn render_into(out: &mut String, raw: i64, precision: u8) {
    let buf = itoa_buf(raw.unsigned_abs());
    if raw < 0 {
        out.push('-');
    }
    let p = precision as usize;
    if p == 0 {
        out.push_str(buf.as_str());
        return;
    }
    let digits = buf.as_str();
    if digits.len() <= p {
        out.push_str("0.");
        for _ in digits.len()..p {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let (int_part, frac_part) = digits.split_at(digits.len() - p);
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    }
}

/// Renders `raw` at `precision` decimals into a new string.
pub fn render(raw: i64, precision: u8) -> String {
    let mut s = String::with_capacity(24);
    render_into(&mut s, raw, precision);
    s
}

/// The power of ten for a precision (used to scale whole units).
pub fn pow10(precision: u8) -> i64 {
    POW10[precision as usize]
}

/// Formats an unsigned integer as decimal digits without allocating (the `itoa` crate's
/// two-digits-at-a-time tables: this runs 40 times per Kraken checksum).
pub fn itoa_buf(v: u64) -> DigitBuf {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(v);
    let mut out = DigitBuf {
        bytes: [0u8; 20],
        len: digits.len(),
    };
    out.bytes[..digits.len()].copy_from_slice(digits.as_bytes());
    out
}

/// Decimal digits of an integer, on the stack.
pub struct DigitBuf {
    bytes: [u8; 20],
    len: usize,
}

impl DigitBuf {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever written, so this cannot fail.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_are_what_venues_quote() {
        for ok in [
            "0",
            "0.35130000",
            "79944.1",
            "999999999999999",
            "000000000000000000001",
        ] {
            assert!(is_plain_decimal(ok.as_bytes(), None, false), "{ok}");
        }
        let long_fraction = format!("0.{}", "1".repeat(62));
        assert!(is_plain_decimal(long_fraction.as_bytes(), None, false));
        let too_long = format!("0.{}", "1".repeat(63));
        assert!(!is_plain_decimal(too_long.as_bytes(), None, false));
        for bad in [
            "",
            "-1",
            "+1",
            "1e5",
            "1.",
            ".5",
            " 1",
            "1 ",
            "NaN",
            "inf",
            "1.2.3",
            "1,5",
            "1000000000000000",
            "\u{661}",
            "\u{ff11}",
        ] {
            assert!(!is_plain_decimal(bad.as_bytes(), None, false), "{bad:?}");
        }
    }

    #[test]
    fn places_count_significant_decimals_only() {
        assert!(is_plain_decimal(b"45000.40000000", Some(2), false));
        assert!(is_plain_decimal(b"45000.41", Some(2), false));
        assert!(!is_plain_decimal(b"45000.415", Some(2), false));
        assert!(is_plain_decimal(b"12", Some(0), false));
        assert!(is_plain_decimal(b"12.0", Some(0), false));
        assert!(!is_plain_decimal(b"12.5", Some(0), false));
    }

    #[test]
    fn positive_refuses_zero_in_any_spelling() {
        for zero in ["0", "0.000", "00.0"] {
            assert!(is_plain_decimal(zero.as_bytes(), None, false));
            assert!(!is_plain_decimal(zero.as_bytes(), None, true), "{zero}");
        }
        assert!(is_plain_decimal(b"0.001", Some(3), true));
    }

    fn ok(text: &str, p: u8) -> i64 {
        parse_fixed(text, p).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_plain_and_short_texts() {
        assert_eq!(ok("0.566", 4), 5660);
        assert_eq!(ok("0.5660", 4), 5660);
        assert_eq!(ok("18097.1547", 8), 1_809_715_470_000);
        assert_eq!(ok("45285.2", 1), 452_852);
        assert_eq!(ok("+1", 2), 100);
        assert_eq!(ok("7", 0), 7);
        assert_eq!(ok(".5", 1), 5);
        assert_eq!(ok("5.", 1), 50);
        assert_eq!(ok("0", 8), 0);
        assert_eq!(ok("0.00000000", 8), 0);
    }

    #[test]
    fn trailing_zeros_beyond_precision_are_not_significant() {
        assert_eq!(ok("0.56600000", 4), 5660);
        assert_eq!(ok("45283.50000000000000000000", 1), 452_835);
    }

    #[test]
    fn parses_exponent_forms() {
        assert_eq!(ok("1e-05", 8), 1000);
        assert_eq!(ok("1.5E+3", 0), 1500);
        assert_eq!(ok("5e-6", 8), 500);
        assert_eq!(ok("0e10", 2), 0);
        assert_eq!(ok("12.5e1", 0), 125);
    }

    #[test]
    fn refuses_bad_text() {
        for bad in [
            "", "-1", "abc", "1.2.3", ".", "1e", "1e+", " 1", "1 ", "nan", "inf", "0x10", "1,5",
            "--1", "+", "1e5.0",
        ] {
            assert!(parse_fixed(bad, 4).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn refuses_too_many_significant_decimals() {
        let err = parse_fixed("0.12345", 4).unwrap_err();
        assert!(err.to_string().contains("0.12345"), "{err}");
        assert!(parse_fixed("1e-9", 8).is_err());
    }

    #[test]
    fn long_trailing_zeros_are_fine_and_long_texts_are_cut_in_messages() {
        let text = format!("2.{}", "0".repeat(60));
        assert_eq!(ok(&text, 8), 200_000_000);
        assert_eq!(ok(&format!("1{}e-50", "0".repeat(50)), 0), 1);
        let err = parse_fixed(&"9".repeat(100_000), 0)
            .unwrap_err()
            .to_string();
        assert!(err.len() < 200, "{err}");
    }

    #[test]
    fn refuses_overflow() {
        assert!(parse_fixed("92233720368547758070", 0).is_err());
        assert!(parse_fixed("1e30", 0).is_err());
        assert!(parse_fixed("100000000000", 8).is_err());
        assert_eq!(ok("92233720368.54775807", 8), i64::MAX);
    }

    #[test]
    fn renders_at_precision() {
        assert_eq!(render(5660, 4), "0.5660");
        assert_eq!(render(452_852, 1), "45285.2");
        assert_eq!(render(7, 0), "7");
        assert_eq!(render(500, 8), "0.00000500");
        assert_eq!(render(0, 2), "0.00");
        assert_eq!(render(-15, 1), "-1.5");
    }

    #[test]
    fn round_trips() {
        for p in 0..=MAX_PRECISION {
            for raw in [0i64, 1, 9, 10, 123_456_789, i64::MAX] {
                assert_eq!(ok(&render(raw, p), p), raw);
            }
        }
    }

    #[test]
    fn precision_bounds() {
        assert!(check_precision("p", 19).is_err());
        assert!(check_precision("p", -1).is_err());
        assert_eq!(check_precision("p", 18).unwrap(), 18);
        assert_eq!(pow10(3), 1000);
    }
}
