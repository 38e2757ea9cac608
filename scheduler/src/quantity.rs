//! Resource quantities as the scheduler counts them: CPU in millicores, everything else in
//! whole units, rounded up (upstream's `MilliValue()` / `Value()`), computed exactly.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// `q` scaled by `scale` (1000 for millis, 1 for units), rounded up; `None` if malformed.
pub fn parse_scaled(q: &str, scale: i128) -> Option<i64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let (negative, number) = match number.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mut num: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut den: i128 = 10i128.checked_pow(frac.len() as u32)?;
    // (base, exponent) of the suffix.
    let (base, exp): (i128, i32) = match suffix {
        "" => (10, 0),
        "n" => (10, -9),
        "u" => (10, -6),
        "m" => (10, -3),
        "k" => (10, 3),
        "M" => (10, 6),
        "G" => (10, 9),
        "T" => (10, 12),
        "P" => (10, 15),
        "E" => (10, 18),
        "Ki" => (2, 10),
        "Mi" => (2, 20),
        "Gi" => (2, 30),
        "Ti" => (2, 40),
        "Pi" => (2, 50),
        "Ei" => (2, 60),
        s if s.starts_with(['e', 'E']) => (10, s[1..].parse().ok()?),
        _ => return None,
    };
    if exp >= 0 {
        num = num.checked_mul(base.checked_pow(exp as u32)?)?;
    } else {
        den = den.checked_mul(base.checked_pow((-exp) as u32)?)?;
    }
    num = num.checked_mul(scale)?;
    let mut v = num / den;
    if num % den != 0 {
        v += 1;
    }
    let v = if negative { -v } else { v };
    i64::try_from(v).ok()
}

/// Millicores (or milli-units) of a quantity; malformed counts as zero.
pub fn milli(q: &Quantity) -> i64 {
    parse_scaled(&q.0, 1000).unwrap_or(0)
}

/// Whole units of a quantity, rounded up; malformed counts as zero.
pub fn value(q: &Quantity) -> i64 {
    parse_scaled(&q.0, 1).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_binary_and_milli_quantities() {
        assert_eq!(parse_scaled("100m", 1000), Some(100));
        assert_eq!(parse_scaled("0.1", 1000), Some(100));
        assert_eq!(parse_scaled("2", 1000), Some(2000));
        assert_eq!(parse_scaled("1Gi", 1), Some(1 << 30));
        assert_eq!(parse_scaled("256Gi", 1), Some(256 << 30));
        assert_eq!(parse_scaled("1k", 1), Some(1000));
        assert_eq!(parse_scaled("1e3", 1), Some(1000));
        assert_eq!(parse_scaled("1.5Mi", 1), Some(1536 * 1024));
        assert_eq!(parse_scaled("1m", 1), Some(1), "rounded up");
        assert_eq!(parse_scaled("110", 1), Some(110));
        assert_eq!(parse_scaled("abc", 1), None);
        assert_eq!(parse_scaled("1Qi", 1), None);
    }
}
