//! Venue checksums as plain functions (CRC32, IEEE/zlib polynomial, via `crc32fast`).

/// Appends a level's text with the `.` removed and leading zeros stripped, as Kraken defines.
pub fn push_stripped(out: &mut Vec<u8>, text: &str) {
    let mut leading = true;
    for &b in text.as_bytes() {
        if b == b'.' {
            continue;
        }
        if leading && b == b'0' {
            continue;
        }
        leading = false;
        out.push(b);
    }
}

/// CRC32 (IEEE 802.3, as zlib) of a byte string.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Kraken's book checksum over level texts exactly as given: the first 10 asks (ascending)
/// then the first 10 bids (descending). This is the v1 rule, where venue strings are already
/// fixed-precision; v2 numbers must be rendered at the pair's precision first.
pub fn kraken_text<'a, A, B>(asks: A, bids: B) -> u32
where
    A: IntoIterator<Item = (&'a str, &'a str)>,
    B: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut buf = Vec::with_capacity(512);
    for (p, q) in asks.into_iter().take(10) {
        push_stripped(&mut buf, p);
        push_stripped(&mut buf, q);
    }
    for (p, q) in bids.into_iter().take(10) {
        push_stripped(&mut buf, p);
        push_stripped(&mut buf, q);
    }
    crc32fast::hash(&buf)
}

/// Appends a fixed-point value as Kraken's stripped text: rendering at the precision, dropping
/// the `.` and stripping leading zeros leaves exactly the raw integer's digits (and nothing for
/// zero), so no string is ever built.
#[inline]
fn push_raw(out: &mut [u8], len: &mut usize, raw: i64) {
    if raw <= 0 {
        return;
    }
    let mut digits = itoa::Buffer::new();
    let d = digits.format(raw as u64).as_bytes();
    out[*len..*len + d.len()].copy_from_slice(d);
    *len += d.len();
}

/// Kraken's book checksum over fixed-point levels, best first on each side.
pub fn kraken_fixed<A, B>(asks: A, bids: B) -> u32
where
    A: Iterator<Item = (i64, i64)>,
    B: Iterator<Item = (i64, i64)>,
{
    // 20 levels x 2 numbers x at most 19 digits fits on the stack.
    let mut buf = [0u8; 20 * 2 * 20];
    let mut len = 0usize;
    for (p, q) in asks.take(10).chain(bids.take(10)) {
        push_raw(&mut buf, &mut len, p);
        push_raw(&mut buf, &mut len, q);
    }
    crc32fast::hash(&buf[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kraken_v1_worked_example() {
        // protocols.md §4.3
        let asks = [
            "0.05005", "0.05010", "0.05015", "0.05020", "0.05025", "0.05030", "0.05035", "0.05040",
            "0.05045", "0.05050",
        ];
        let bids = [
            "0.05000", "0.04995", "0.04990", "0.04980", "0.04975", "0.04970", "0.04965", "0.04960",
            "0.04955", "0.04950",
        ];
        let v = "0.00000500";
        let got = kraken_text(asks.iter().map(|p| (*p, v)), bids.iter().map(|p| (*p, v)));
        assert_eq!(got, 974_947_235);
        let fixed = kraken_fixed(
            asks.iter()
                .map(|p| (crate::fixed::parse_fixed(p, 5).unwrap(), 500)),
            bids.iter()
                .map(|p| (crate::fixed::parse_fixed(p, 5).unwrap(), 500)),
        );
        assert_eq!(fixed, 974_947_235);
    }

    #[test]
    fn crc_is_ieee() {
        // protocols.md §4.6 (OKX string, unsigned form)
        assert_eq!(
            crc32fast::hash(b"3366.1:7:3366.8:9:3366:6:3368:8"),
            2_413_953_002
        );
    }

    #[test]
    fn only_first_ten_levels_count() {
        let many: Vec<(&str, &str)> = (0..15).map(|_| ("1.5", "2")).collect();
        assert_eq!(
            kraken_text(many.clone(), many.clone()),
            kraken_text(many[..10].to_vec(), many[..10].to_vec())
        );
    }
}
