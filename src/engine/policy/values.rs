//! Typed condition values: exact decimals, instants, CIDRs, booleans and
//! base64, parsed the way the semantics doc §5.2 prescribes.
//!
//! Used by the parser (policy values must parse, else the policy is rejected),
//! by the compiler (values pre-parsed once) and by both evaluators (request
//! values). Pure functions, no matching logic.

use ipnet::IpNet;
use std::net::IpAddr;

/// An exact decimal: `mantissa × 10^-SCALE`. Twelve fractional digits cover
/// every value IAM keys carry; longer fractions or magnitudes beyond ~10^26
/// do not parse (and so never match) rather than rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(i128);

const SCALE: u32 = 12;

/// Parses `10`, `-3.5`, `10.0`, `1e3` exactly; `None` for anything else.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, t.get(1..)?),
        b'+' => (false, t.get(1..)?),
        _ => (false, t),
    };
    let (mantissa_text, exp) = match body.find(['e', 'E']) {
        Some(i) => (body.get(..i)?, body.get(i + 1..)?.parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa_text.split_once('.').unwrap_or((mantissa_text, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i128 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        value = value.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    // value × 10^(exp - frac_len) expressed at SCALE.
    let frac_len = i32::try_from(frac_part.len()).ok()?;
    let shift = exp.checked_sub(frac_len)?.checked_add(i32::try_from(SCALE).ok()?)?;
    let scaled = if shift >= 0 {
        value.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?
    } else {
        let div = 10i128.checked_pow(u32::try_from(-shift).ok()?)?;
        if value % div != 0 {
            return None; // more precision than we represent exactly
        }
        value / div
    };
    Some(Decimal(if neg { -scaled } else { scaled }))
}

/// An instant in epoch milliseconds (UTC).
pub type Instant = i64;

/// Parses a W3C ISO-8601 profile (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm[:ss[.s+]]TZD`) or integer epoch seconds into epoch
/// milliseconds. A missing zone or time reads as UTC midnight (Appendix A-17).
/// A value of exactly four digits is a year; longer digit strings are epoch
/// seconds (documented choice: AWS examples use both forms).
pub fn parse_date(text: &str) -> Option<Instant> {
    let t = text.trim();
    let digits_only = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if digits_only && t.len() != 4 {
        return t.parse::<i64>().ok()?.checked_mul(1000);
    }
    if let Some(rest) = t.strip_prefix('-') {
        if rest.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty() {
            return rest.parse::<i64>().ok()?.checked_mul(-1000);
        }
    }
    let b = t.as_bytes();
    // Digits only (no sign, unlike `str::parse`); folded by hand: replay
    // parses every event's time.
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = b.get(from..from + len)?;
        s.iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
    };
    let year = num(0, 4)?;
    let (mut month, mut day) = (1, 1);
    let mut pos = 4;
    if b.get(pos) == Some(&b'-') {
        month = num(5, 2)?;
        pos = 7;
        if b.get(pos) == Some(&b'-') {
            day = num(8, 2)?;
            pos = 10;
        }
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis: i64 = 0;
    let mut offset_minutes: i64 = 0;
    if pos < b.len() {
        if pos != 10 || !matches!(b.get(pos), Some(b'T' | b't' | b' ')) {
            return None;
        }
        let hour = num(11, 2)?;
        if b.get(13) != Some(&b':') {
            return None;
        }
        let minute = num(14, 2)?;
        pos = 16;
        let mut second = 0;
        if b.get(pos) == Some(&b':') {
            second = num(17, 2)?;
            pos = 19;
            if b.get(pos) == Some(&b'.') {
                let start = pos + 1;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                // The first three digits, padded with zeros: milliseconds.
                let frac = b.get(start..end)?.iter().chain(b"000").take(3);
                millis = frac.fold(0, |acc, &c| acc * 10 + i64::from(c - b'0'));
                pos = end;
            }
        }
        if hour > 24 || minute > 59 || second > 60 || (hour == 24 && (minute, second, millis) != (0, 0, 0)) {
            return None;
        }
        match b.get(pos) {
            None => {}
            Some(b'Z' | b'z') if pos + 1 == b.len() => {}
            Some(sign @ (b'+' | b'-')) if pos + 6 == b.len() && b.get(pos + 3) == Some(&b':') => {
                let h = num(pos + 1, 2)?;
                let m = num(pos + 4, 2)?;
                if h > 23 || m > 59 {
                    return None;
                }
                offset_minutes = (h * 60 + m) * if *sign == b'-' { -1 } else { 1 };
            }
            _ => return None,
        }
        millis += ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000;
    }
    Some(days_from_civil(year, month, day) * 86_400_000 + millis)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `epoch_seconds` as AWS writes `aws:CurrentTime`: ISO 8601 in UTC to the
/// second (`2026-12-06T20:15:00Z`); [`parse_date`] reads it back.
///
/// ```
/// use iamsim::engine::policy::{format_date, parse_date};
/// assert_eq!(format_date(0), "1970-01-01T00:00:00Z");
/// assert_eq!(parse_date(&format_date(1_796_588_100)), Some(1_796_588_100_000));
/// ```
pub fn format_date(epoch_seconds: i64) -> String {
    let (days, secs) = (epoch_seconds.div_euclid(86_400), epoch_seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The date `days` after 1970-01-01 (Howard Hinnant's algorithm, the
/// inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a CIDR (`203.0.113.0/24`, `2001:db8::/32`) or a bare address (/32, /128).
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let t = text.trim();
    if t.contains('/') {
        t.parse::<IpNet>().ok()
    } else {
        t.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

/// Parses a request IP address (no prefix length).
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim().parse().ok()
}

/// Whether `net` contains `ip`; an IPv4 network never contains an IPv6 address
/// and vice versa (§5.2), IPv4-mapped IPv6 addresses included.
pub fn cidr_contains(net: &IpNet, ip: &IpAddr) -> bool {
    net.contains(ip)
}

/// `true`/`false`, case-insensitive; anything else is not a boolean.
pub fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Decodes standard base64 (with or without padding).
pub fn parse_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let t = text.trim();
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every day of four centuries (leap rules included) and both sides of
    /// the epoch round-trip.
    #[test]
    fn formatted_dates_read_back() {
        for days in -800i64..146_097 + 800 {
            let secs = days * 86_400 + (days.rem_euclid(86_400));
            assert_eq!(parse_date(&format_date(secs)), Some(secs * 1000), "{}", format_date(secs));
        }
        assert_eq!(format_date(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_date(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("10"), parse_decimal("10.0"));
        assert_eq!(parse_decimal("1e3"), parse_decimal("1000"));
        assert_eq!(parse_decimal("2.5E-1"), parse_decimal("0.25"));
        assert!(parse_decimal("0.1") < parse_decimal("0.11"));
        assert!(parse_decimal("-1") < parse_decimal("0"));
        for bad in ["abc", "", "1.2.3", "1e", "--1", ".", "0x10", "1e99"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_follow_w3c_profiles() {
        let jan1 = parse_date("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(jan1, 1_704_067_200_000);
        assert_eq!(parse_date("1704067200"), Some(jan1));
        assert_eq!(parse_date("2024-01-01"), Some(jan1));
        assert_eq!(parse_date("2024-01"), Some(jan1));
        assert_eq!(parse_date("2024"), Some(jan1));
        assert_eq!(parse_date("2024-01-01T01:00+01:00"), Some(jan1));
        assert_eq!(parse_date("2024-01-01T00:00:00.5Z"), Some(jan1 + 500));
        assert_eq!(parse_date("2023-12-31T23:59:59Z"), Some(jan1 - 1000));
        assert_eq!(parse_date("2024-01-01T00:00:00.123456Z"), Some(jan1 + 123), "digits past ms dropped");
        assert_eq!(parse_date("2024-01-01T00:00:00.07-00:00"), Some(jan1 + 70));
        for bad in [
            "2024-13-01",
            "2024-02-30",
            "yesterday",
            "2024-01-01T25:00Z",
            "2024-01-01T00:00:00Q",
            "",
            "2024-+1-01",
            "2024-01-0x",
            "2024-01-01T0a:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00+1:00",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let net = parse_cidr("203.0.113.0/24").unwrap();
        assert!(cidr_contains(&net, &parse_ip("203.0.113.77").unwrap()));
        assert!(!cidr_contains(&net, &parse_ip("203.0.114.1").unwrap()));
        assert!(!cidr_contains(&net, &parse_ip("::ffff:203.0.113.1").unwrap()));
        let v6 = parse_cidr("2001:DB8:1234:5678::/64").unwrap();
        assert!(cidr_contains(&v6, &parse_ip("2001:db8:1234:5678::1").unwrap()));
        let host = parse_cidr("203.0.113.5").unwrap();
        assert!(cidr_contains(&host, &parse_ip("203.0.113.5").unwrap()));
        assert!(parse_cidr("203.0.113.0/33").is_none());
    }
}
