//! Whether a CronJob schedule parses, with the errors of upstream's parser (robfig/cron
//! `ParseStandard`). The controller has its own evaluator; this only checks the syntax.

/// Fields of a standard schedule: (min, max, names).
const FIELDS: [(u32, u32, &[&str]); 5] = [
    (0, 59, &[]),
    (0, 23, &[]),
    (1, 31, &[]),
    (
        1,
        12,
        &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    ),
    (0, 6, &["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
];

pub fn check(spec: &str) -> Result<(), String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    // `TZ=`/`CRON_TZ=` prefixes are rejected separately, with their own message.
    let spec = match spec.split_once(' ') {
        Some((tz, rest)) if tz.starts_with("TZ=") || tz.starts_with("CRON_TZ=") => rest.trim(),
        _ => spec,
    };
    if let Some(d) = spec.strip_prefix('@') {
        return match d {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            every if every.starts_with("every ") => Ok(()),
            _ => Err(format!("unrecognized descriptor: {spec}")),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (expr, (min, max, names)) in fields.iter().zip(FIELDS) {
        for part in expr.split(',') {
            range(part, min, max, names)?;
        }
    }
    Ok(())
}

fn int(s: &str) -> Result<u32, String> {
    match s.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {s}")),
        Ok(n) => u32::try_from(n).map_err(|_| {
            format!(
                "failed to parse int from {s}: strconv.Atoi: parsing \"{s}\": value out of range"
            )
        }),
        Err(_) => Err(format!(
            "failed to parse int from {s}: strconv.Atoi: parsing \"{s}\": invalid syntax"
        )),
    }
}

fn value(s: &str, names: &[&str]) -> Result<u32, String> {
    match names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        Some(i) => {
            // Months are 1-based, weekdays 0-based.
            let base = if names.len() == 12 { 1 } else { 0 };
            Ok(i as u32 + base)
        }
        None => int(s),
    }
}

fn range(expr: &str, min: u32, max: u32, names: &[&str]) -> Result<(), String> {
    let slashes: Vec<&str> = expr.split('/').collect();
    let hyphens: Vec<&str> = slashes[0].split('-').collect();
    let single = hyphens.len() == 1;
    let (start, mut end) = if hyphens[0] == "*" || hyphens[0] == "?" {
        (min, max)
    } else {
        let start = value(hyphens[0], names)?;
        let end = match hyphens.len() {
            1 => start,
            2 => value(hyphens[1], names)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    match slashes.len() {
        1 => {}
        2 => {
            let step = int(slashes[1])?;
            if step == 0 {
                return Err(format!("step of range should be a positive number: {expr}"));
            }
            // `N/step` means `N-max/step`.
            if single && hyphens[0] != "*" && hyphens[0] != "?" {
                end = max;
            }
        }
        _ => return Err(format!("too many slashes: {expr}")),
    }
    if start < min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({min}): {expr}"
        ));
    }
    if end > max {
        return Err(format!(
            "end of range ({end}) above maximum ({max}): {expr}"
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn robfig_messages() {
        assert!(check("*/5 * * * *").is_ok());
        assert!(check("0 0 1 jan-mar mon-fri").is_ok());
        assert!(check("@hourly").is_ok());
        assert_eq!(
            check("* * *").unwrap_err(),
            "expected exactly 5 fields, found 3: [* * *]"
        );
        assert_eq!(
            check("61 * * * *").unwrap_err(),
            "end of range (61) above maximum (59): 61"
        );
        assert_eq!(
            check("x * * * *").unwrap_err(),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            check("@sometimes").unwrap_err(),
            "unrecognized descriptor: @sometimes"
        );
    }
}
