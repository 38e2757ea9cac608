//! Standard five-field cron schedules as upstream parses them (robfig/cron's
//! `ParseStandard`): minute hour day-of-month month day-of-week, with `*`/`?`, lists,
//! ranges, steps, month and weekday names, and the `@hourly`-style descriptors. Day of
//! month and day of week combine with OR when both are restricted, else with AND.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// Whether day-of-month or day-of-week was left unrestricted (`*` or `?`).
    dom_star: bool,
    dow_star: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One field: its bits, and whether it was a bare `*`/`?`.
fn field(
    expr: &str,
    min: u32,
    max: u32,
    names: &[&str],
    name_base: u32,
) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in expr.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("failed to parse int from {s}"))?;
                if step == 0 {
                    return Err(format!("step of range should be a positive number: {part}"));
                }
                (r, Some(step))
            }
            None => (part, None),
        };
        let value = |s: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
                return Ok(i as u32 + name_base);
            }
            s.parse::<u32>()
                .map_err(|_| format!("failed to parse int from {s}"))
        };
        let (start, mut end, is_star) = if range == "*" || range == "?" {
            (min, max, true)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?, false)
        } else {
            let v = value(range)?;
            (v, v, false)
        };
        if let Some(_s) = step {
            // `N/step` means `N-max/step`.
            if !is_star && !range.contains('-') {
                end = max;
            }
        }
        let step = step.unwrap_or(1);
        if is_star && step == 1 {
            star = true;
        }
        if start < min {
            return Err(format!(
                "beginning of range ({start}) below minimum ({min}): {part}"
            ));
        }
        if end > max {
            return Err(format!(
                "end of range ({end}) above maximum ({max}): {part}"
            ));
        }
        if start > end {
            return Err(format!(
                "beginning of range ({start}) beyond end of range ({end}): {part}"
            ));
        }
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

impl Schedule {
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        let spec = spec.trim();
        let expanded = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => return Err(format!("unrecognized descriptor: {s}")),
            s => s,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        let (minute, _) = field(fields[0], 0, 59, &[], 0)?;
        let (hour, _) = field(fields[1], 0, 23, &[], 0)?;
        let (dom, dom_star) = field(fields[2], 1, 31, &[], 0)?;
        let (month, _) = field(fields[3], 1, 12, &MONTHS, 1)?;
        let (dow, dow_star) = field(fields[4], 0, 6, &DAYS, 0)?;
        Ok(Schedule {
            minute,
            hour,
            dom,
            month,
            dow,
            dom_star,
            dow_star,
        })
    }

    fn day_matches(&self, t: &DateTime) -> bool {
        let dom = self.dom & (1 << t.day()) != 0;
        let dow = self.dow & (1 << t.weekday().to_sunday_zero_offset()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first activation strictly after `after`, in `tz`; None past five years (a
    /// schedule such as `0 0 30 2 *` never fires).
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(tz.clone());
        // Whole minutes only: start at the next minute boundary.
        let mut t: DateTime = start
            .datetime()
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?;
        t = t.checked_add(1.minute()).ok()?;
        let limit = t.year() + 5;
        while t.year() <= limit {
            if self.month & (1 << t.month()) == 0 {
                t = t
                    .first_of_month()
                    .checked_add(1.month())
                    .ok()?
                    .with()
                    .hour(0)
                    .minute(0)
                    .build()
                    .ok()?;
                continue;
            }
            if !self.day_matches(&t) {
                t = t
                    .date()
                    .checked_add(1.day())
                    .ok()?
                    .to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if self.hour & (1 << t.hour()) == 0 {
                t = t
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if self.minute & (1 << t.minute()) == 0 {
                t = t.checked_add(1.minute()).ok()?;
                continue;
            }
            // A wall time skipped by a DST change resolves forward, as Go's time.Date does.
            let z: Zoned = t.to_zoned(tz.clone()).ok()?;
            if z.timestamp() > after {
                return Some(z.timestamp());
            }
            t = t.checked_add(1.minute()).ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_upstream_forms() {
        assert!(Schedule::parse("*/5 * * * *").is_ok());
        assert!(Schedule::parse("0 9-17 * jan-mar MON-FRI").is_ok());
        assert!(Schedule::parse("@hourly").is_ok());
        assert!(Schedule::parse("* * * *").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("@fortnightly").is_err());
    }

    #[test]
    fn next_activations() {
        let utc = TimeZone::UTC;
        let s = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(
            s.next(ts("2026-01-01T10:07:30Z"), &utc),
            Some(ts("2026-01-01T10:15:00Z"))
        );
        assert_eq!(
            s.next(ts("2026-01-01T10:15:00Z"), &utc),
            Some(ts("2026-01-01T10:30:00Z"))
        );
        let s = Schedule::parse("0 0 1 * *").unwrap();
        assert_eq!(
            s.next(ts("2026-01-15T00:00:00Z"), &utc),
            Some(ts("2026-02-01T00:00:00Z"))
        );
        // Day of month OR day of week when both are restricted: the 13th or a Friday.
        let s = Schedule::parse("0 0 13 * 5").unwrap();
        assert_eq!(
            s.next(ts("2026-01-01T00:00:00Z"), &utc),
            Some(ts("2026-01-02T00:00:00Z"))
        );
        assert_eq!(
            Schedule::parse("0 0 30 2 *")
                .unwrap()
                .next(ts("2026-01-01T00:00:00Z"), &utc),
            None
        );
    }

    #[test]
    fn time_zones_shift_activations() {
        let tz = TimeZone::get("Asia/Tokyo").unwrap();
        let s = Schedule::parse("0 9 * * *").unwrap();
        assert_eq!(
            s.next(ts("2026-01-01T00:30:00Z"), &tz),
            Some(ts("2026-01-02T00:00:00Z"))
        );
    }
}
