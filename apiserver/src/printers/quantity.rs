//! `resource.Quantity` canonical form (what `Quantity.String()` prints): tables show
//! capacities and quota usage the way upstream serializes them, e.g. `1024Mi` as `1Gi` and
//! `0.5` as `500m`, whatever form the object was written in.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// The canonical string of quantity `s`; `None` when it does not parse (or is too large to
/// handle here), so callers can show it as written.
pub fn canonical(s: &str) -> Option<String> {
    let (mantissa, scale, format) = parse(s)?;
    render(mantissa, scale, format)
}

/// A quantity in nano-units, and whether it was written with a binary suffix (sums keep
/// the form of what they add up, as upstream's `Add` does).
pub fn nanos(s: &str) -> Option<(i128, bool)> {
    let (mantissa, scale, format) = parse(s)?;
    let n = mantissa.checked_mul(10i128.checked_pow(u32::try_from(scale + 9).ok()?)?)?;
    Some((n, format == Format::BinarySi))
}

/// The canonical string of a nano-unit value.
pub fn from_nanos(n: i128, binary: bool) -> String {
    let format = if binary {
        Format::BinarySi
    } else {
        Format::DecimalSi
    };
    render(n, -9, format).unwrap_or_else(|| format!("{n}n"))
}

/// `(signed mantissa, decimal scale >= -9, format)`: value = mantissa * 10^scale.
fn parse(s: &str) -> Option<(i128, i32, Format)> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
        return None;
    }
    let (base, exponent, format) = parse_suffix(suffix)?;

    // value = mantissa * 10^scale
    let mut mantissa: i128 = 0;
    for d in int_part.bytes().chain(frac_part.bytes()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(i128::from(d - b'0'))?;
    }
    let mut scale = -(frac_part.len() as i32);
    if base == 10 {
        scale += exponent;
    } else {
        mantissa = mantissa.checked_mul(2i128.checked_pow(exponent as u32)?)?;
    }
    // Precision finer than nano rounds up (away from zero), as ParseQuantity does.
    if scale < -9 {
        let divisor = 10i128.checked_pow((-9 - scale) as u32)?;
        let rounded = mantissa / divisor + i128::from(mantissa % divisor != 0);
        mantissa = rounded;
        scale = -9;
    }
    if negative {
        mantissa = -mantissa;
    }
    Some((mantissa, scale, format))
}

fn render(mantissa: i128, scale: i32, format: Format) -> Option<String> {
    if mantissa == 0 {
        return Some("0".into());
    }
    if format == Format::BinarySi {
        if let Some(int) = integer_value(mantissa, scale) {
            // Small values read better as plain decimals.
            if int.abs() >= 1024 {
                return Some(base1024(int));
            }
        }
    }
    decimal(mantissa, scale, format)
}

/// `(base, exponent, format)` of a quantity suffix.
fn parse_suffix(suffix: &str) -> Option<(i32, i32, Format)> {
    let decimal = |e| Some((10, e, Format::DecimalSi));
    let binary = |e| Some((2, e, Format::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        s if s.starts_with(['e', 'E']) && s.len() > 1 => {
            let e: i32 = s[1..].parse().ok()?;
            Some((10, e, Format::DecimalExponent))
        }
        _ => None,
    }
}

/// The value as an integer, if it is one.
fn integer_value(mut mantissa: i128, mut scale: i32) -> Option<i128> {
    while scale < 0 {
        if mantissa % 10 != 0 {
            return None;
        }
        mantissa /= 10;
        scale += 1;
    }
    mantissa.checked_mul(10i128.checked_pow(scale as u32)?)
}

/// Largest power-of-1024 suffix that keeps the number whole.
fn base1024(mut value: i128) -> String {
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut i = 0;
    while i + 1 < SUFFIXES.len() && value % 1024 == 0 {
        value /= 1024;
        i += 1;
    }
    format!("{value}{}", SUFFIXES[i])
}

/// Decimal forms: trailing zeros folded into the exponent, then the exponent lowered to a
/// multiple of three.
fn decimal(mut mantissa: i128, mut exponent: i32, format: Format) -> Option<String> {
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    let r = exponent.rem_euclid(3);
    mantissa = mantissa.checked_mul(10i128.pow(r as u32))?;
    exponent -= r;
    let suffix = match (format, exponent) {
        (_, 0) => String::new(),
        (Format::DecimalExponent, e) => format!("e{e}"),
        (_, -9) => "n".into(),
        (_, -6) => "u".into(),
        (_, -3) => "m".into(),
        (_, 3) => "k".into(),
        (_, 6) => "M".into(),
        (_, 9) => "G".into(),
        (_, 12) => "T".into(),
        (_, 15) => "P".into(),
        (_, 18) => "E".into(),
        (_, e) => format!("e{e}"),
    };
    Some(format!("{mantissa}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn canonical_forms_match_quantity_string() {
        for (input, want) in [
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("1.5Ki", "1536"),
            ("512", "512"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("10", "10"),
            ("1500k", "1500k"),
            ("2000", "2k"),
            ("1e3", "1e3"),
            ("10e3", "10e3"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-1", "-1"),
            ("0.0000000001", "1n"),
            ("5G", "5G"),
            ("+3", "3"),
        ] {
            assert_eq!(canonical(input).as_deref(), Some(want), "{input}");
        }
        for bad in ["", "Gi", "1.2.3", "1x", "abc"] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }
}
