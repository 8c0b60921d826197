//! RFC 3339 timestamps, as venues write them, to nanoseconds since the Unix epoch.
//!
//! `2023-10-06T17:35:55.440295Z`: date, `T`, time, an optional fraction of one to nine digits
//! (kept to the nanosecond, never through a float) and an optional zone, `Z` or `±hh:mm`
//! (none means UTC). Every field is range-checked (a 30 February is refused); anything else is
//! `None`. The same rule as the Python adapters' `timestamp_ns`, done in one pass.

const NS: i64 = 1_000_000_000;

/// Nanoseconds since 1970-01-01T00:00:00Z, or `None` when `text` is not such a timestamp.
pub fn rfc3339_ns(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut fraction = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let n = end - start;
        if n == 0 || n > 9 {
            return None;
        }
        fraction = digits(&b[start..end])? * 10i64.pow((9 - n) as u32);
        i = end;
    }
    let offset_s = match b.get(i) {
        None => 0,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (h, m) = (digits(&b[i + 1..i + 3])?, digits(&b[i + 4..i + 6])?);
            if h > 23 || m > 59 {
                return None;
            }
            let s = h * 3600 + m * 60;
            if sign == b'+' {
                s
            } else {
                -s
            }
        }
        Some(_) => return None,
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(seconds * NS + fraction)
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_timestamps_to_nanoseconds() {
        assert_eq!(rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_ns("2023-10-06T17:35:55.440295Z"),
            Some(1_696_613_755_440_295_000)
        );
        assert_eq!(
            rfc3339_ns("2023-10-06T17:35:55.440295123Z"),
            Some(1_696_613_755_440_295_123)
        );
        assert_eq!(rfc3339_ns("2023-10-06T17:35:55"), Some(1_696_613_755 * NS));
        assert_eq!(
            rfc3339_ns("2023-10-06T19:35:55+02:00"),
            rfc3339_ns("2023-10-06T17:35:55Z")
        );
        assert_eq!(
            rfc3339_ns("2023-10-06T15:05:55-02:30"),
            rfc3339_ns("2023-10-06T17:35:55Z")
        );
        assert_eq!(rfc3339_ns("2024-02-29T00:00:00Z"), Some(1_709_164_800 * NS));
        assert_eq!(rfc3339_ns("2000-03-01T00:00:00Z"), Some(951_868_800 * NS));
        assert_eq!(rfc3339_ns("1969-12-31T23:59:59Z"), Some(-NS));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "2023-10-06",
            "2023-10-06 17:35:55Z",
            "2023-13-06T17:35:55Z",
            "2023-02-29T17:35:55Z",
            "1900-02-29T00:00:00Z",
            "2023-10-06T24:00:00Z",
            "2023-10-06T17:60:00Z",
            "2023-10-06T17:35:60Z",
            "2023-10-06T17:35:55.Z",
            "2023-10-06T17:35:55.1234567890Z",
            "2023-10-06T17:35:55ZZ",
            "2023-10-06T17:35:55+0200",
            "2023-10-06T17:35:55+24:00",
            "0000-01-01T00:00:00Z",
            "２023-10-06T17:35:55Z",
            "2023-1a-06T17:35:55Z",
        ] {
            assert_eq!(rfc3339_ns(bad), None, "{bad:?}");
        }
    }
}
