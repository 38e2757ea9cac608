//! Int-or-percent fields (maxSurge, maxUnavailable, minAvailable) against a total, as
//! upstream's `GetScaledValueFromIntOrPercent`.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// A count as is, or a percentage of `total` rounded up or down; `None` for a string that
/// is not a percentage.
pub fn scaled(v: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match v {
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(s) => {
            let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
            let part = pct * i64::from(total);
            let v = if round_up {
                (part + 99).div_euclid(100)
            } else {
                part.div_euclid(100)
            };
            i32::try_from(v).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_asked() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(scaled(&pct("25%"), 10, true), Some(3));
        assert_eq!(scaled(&pct("25%"), 10, false), Some(2));
        assert_eq!(scaled(&IntOrString::Int(4), 10, true), Some(4));
        assert_eq!(scaled(&pct("x"), 10, true), None);
    }
}
