//! Kubernetes resource quantities ("500m", "1.5Gi", "2e3") read as exact integers, because every
//! fit decision in Caldera compares integers, and rounding them exactly as apimachinery does is
//! what keeps Caldera's fit verdicts in agreement with kubelet and kube-scheduler.
//!
//! Grammar (that of `k8s.io/apimachinery/pkg/api/resource`):
//!
//! ```text
//! <quantity>        ::= <signedNumber><suffix>
//! <signedNumber>    ::= <number> | <sign><number>
//! <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//! <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
//! <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
//! <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
//! <decimalExponent> ::= "e" <integer> | "E" <integer>
//! ```
//!
//! Where apimachinery's hand-written scanner is looser than its documented grammar (it reads "m",
//! "e3", "." or "-" as zero) or clamps instead of failing (values past 2^63-1), this module
//! rejects: a request that says nothing, or more than the scheduler can count, is a mistake that
//! should surface rather than schedule as zero or as a silently different amount.

use std::str::FromStr;

/// apimachinery rounds every parsed value away from zero to a whole nano, so holding nanos keeps
/// exactly the precision Kubernetes keeps: later rounding to milli or units gives its answers.
const NANOS_PER_UNIT: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;
/// Power of ten that turns units into nanos.
const NANO_EXPONENT: i128 = 9;
/// Any magnitude with more nano digits than this is at least 10^25 nanos, beyond the milli range
/// (about 9.2 * 10^24 nanos), so longer digit strings are rejected without building them.
const MAX_NANO_DIGITS: i128 = 25;

/// An exact decimal value of a Kubernetes quantity.
///
/// Equality is by value, as apimachinery's `Cmp` is: "1k", "1000" and "1e3" are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    /// Signed value in nanos, already rounded away from zero the way apimachinery rounds on
    /// parse; its milli value is known to fit in `i64`.
    nanos: i128,
}

/// Why a quantity string was refused; every variant carries the input so a message read out of
/// context still says which field was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The input was the empty string.
    #[error("invalid quantity \"\": empty string")]
    Empty,
    /// The number part, a sign, whitespace or an exponent does not follow the grammar.
    #[error("invalid quantity {input:?}: {why}")]
    Malformed {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The text after the number is not a suffix Kubernetes knows.
    #[error(
        "invalid quantity {input:?}: unknown suffix {suffix:?} \
         (expected n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent like e3)"
    )]
    UnknownSuffix {
        /// The text as given.
        input: String,
        /// The unrecognised suffix.
        suffix: String,
    },
    /// The value is well formed but its thousandths do not fit in a signed 64-bit integer.
    #[error("quantity {input:?} is out of range: its value in thousandths does not fit in i64")]
    OutOfRange {
        /// The text as given.
        input: String,
    },
}

/// The power the suffix applies to the number.
#[derive(Clone, Copy, Debug)]
enum Scale {
    /// Times 10^n.
    Decimal(i128),
    /// Times 2^n.
    Binary(u32),
}

impl Quantity {
    /// Parses a quantity string as `resource.ParseQuantity` does, without floating point, so that
    /// "0.1" and "100m" are the same value and no request silently loses a fraction.
    ///
    /// # Errors
    ///
    /// Fails on anything outside the grammar in the module docs, and on values whose thousandths
    /// do not fit in `i64`, so that every parsed quantity converts without overflow.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::Empty);
        }
        let malformed = |why| QuantityError::Malformed {
            input: s.to_owned(),
            why,
        };
        // Kubernetes trims whitespace only when decoding JSON; the quantity itself never has any.
        if s.chars().any(char::is_whitespace) {
            return Err(malformed("whitespace is not allowed"));
        }

        let (negative, unsigned) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if unsigned.starts_with(['+', '-']) {
            return Err(malformed("more than one sign"));
        }
        let (int_digits, rest) = split_digits(unsigned);
        let (frac_digits, rest) = match rest.strip_prefix('.') {
            Some(after_point) => split_digits(after_point),
            None => ("", rest),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(malformed("no digits in the number"));
        }
        if rest.starts_with('.') {
            return Err(malformed("more than one decimal point"));
        }
        if rest.starts_with(['+', '-']) {
            return Err(malformed("a sign is only allowed at the start or after e/E"));
        }

        let scale = parse_suffix(rest).map_err(|failure| match failure {
            SuffixError::Unknown => QuantityError::UnknownSuffix {
                input: s.to_owned(),
                suffix: rest.to_owned(),
            },
            SuffixError::Malformed(why) => malformed(why),
        })?;

        let out_of_range = || QuantityError::OutOfRange { input: s.to_owned() };
        let magnitude = magnitude_in_nanos(int_digits, frac_digits, scale).ok_or_else(out_of_range)?;
        // i64 holds one more negative value than positive; a milli value of i64::MIN is fine.
        let milli_limit = i128::from(i64::MAX) + i128::from(negative);
        if div_away_from_zero(magnitude, NANOS_PER_MILLI) > milli_limit {
            return Err(out_of_range());
        }
        Ok(Quantity {
            nanos: if negative { -magnitude } else { magnitude },
        })
    }

    /// Value in thousandths, rounded away from zero like apimachinery's `MilliValue()`, which is
    /// how kube-scheduler reads CPU; e.g. "100m" -> 100, "0.5" -> 500, "1n" -> 1, "-1.5n" -> -1.
    ///
    /// Positive values round up (toward +inf); negative ones round toward -inf, as Kubernetes'
    /// `ScaledValue` does, so a value never rounds to a smaller magnitude.
    ///
    /// # Errors
    ///
    /// `OutOfRange` if the result does not fit in `i64`; never for a value from [`Quantity::parse`].
    pub fn to_milli(&self) -> Result<i64, QuantityError> {
        i64::try_from(div_away_from_zero(self.nanos, NANOS_PER_MILLI)).map_err(|_| self.out_of_range())
    }

    /// Value in whole units, rounded away from zero like apimachinery's `Value()`, which is how
    /// kube-scheduler reads memory, storage and extended resources; e.g. "1.5Gi" -> 1610612736,
    /// "100m" -> 1, "0.1Ki" -> 103, "-1.5" -> -2.
    ///
    /// # Errors
    ///
    /// `OutOfRange` if the result does not fit in `i64`; never for a value from [`Quantity::parse`].
    pub fn to_units(&self) -> Result<i64, QuantityError> {
        i64::try_from(div_away_from_zero(self.nanos, NANOS_PER_UNIT)).map_err(|_| self.out_of_range())
    }

    /// Negative quantities are legal syntax but never valid requests or capacity, so callers
    /// validating a pod or node need to tell them apart. "-0" is not negative.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// A parsed quantity always fits, so this only guards against a future wider representation;
    /// the original text is gone, so the value is spelled out exactly instead.
    fn out_of_range(&self) -> QuantityError {
        let magnitude = self.nanos.unsigned_abs();
        let whole = magnitude / NANOS_PER_UNIT.unsigned_abs();
        let fraction = magnitude % NANOS_PER_UNIT.unsigned_abs();
        let sign = if self.nanos < 0 { "-" } else { "" };
        let input = if fraction == 0 {
            format!("{sign}{whole}")
        } else {
            let digits = format!("{fraction:09}");
            format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
        };
        QuantityError::OutOfRange { input }
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Quantity, QuantityError> {
        Quantity::parse(s)
    }
}

/// Formats thousandths the way Kubernetes prints CPU: whole units bare ("2"), anything else in
/// milli ("1500m"), so messages show the exact value a user would write.
pub fn format_milli(v: i64) -> String {
    if v % 1000 == 0 {
        (v / 1000).to_string()
    } else {
        format!("{v}m")
    }
}

/// Formats whole units the way Kubernetes prints a binary-SI quantity such as memory: the largest
/// binary suffix that divides the value exactly ("1Gi", "1536Mi"), else the plain integer, so the
/// text is always exact and parses back to the same value.
pub fn format_units(v: i64) -> String {
    const SUFFIXES: [(u32, &str); 6] = [(60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")];
    if v != 0 {
        for (shift, suffix) in SUFFIXES {
            let unit = 1_i64 << shift;
            if v % unit == 0 {
                return format!("{}{suffix}", v / unit);
            }
        }
    }
    v.to_string()
}

/// Splits off the leading ASCII digits; Kubernetes accepts no other digits.
fn split_digits(s: &str) -> (&str, &str) {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    s.split_at(len)
}

enum SuffixError {
    Unknown,
    Malformed(&'static str),
}

fn parse_suffix(suffix: &str) -> Result<Scale, SuffixError> {
    let scale = match suffix {
        "n" => Scale::Decimal(-9),
        "u" => Scale::Decimal(-6),
        "m" => Scale::Decimal(-3),
        "" => Scale::Decimal(0),
        "k" => Scale::Decimal(3),
        "M" => Scale::Decimal(6),
        "G" => Scale::Decimal(9),
        "T" => Scale::Decimal(12),
        "P" => Scale::Decimal(15),
        "E" => Scale::Decimal(18),
        "Ki" => Scale::Binary(10),
        "Mi" => Scale::Binary(20),
        "Gi" => Scale::Binary(30),
        "Ti" => Scale::Binary(40),
        "Pi" => Scale::Binary(50),
        "Ei" => Scale::Binary(60),
        _ => return parse_exponent(suffix),
    };
    Ok(scale)
}

/// Reads "e3", "E-3" or "e+03". Kubernetes needs an integer exponent that fits in 64 bits; a text
/// that does not start like a number after the `e` ("ee3", "Ei3") is an unknown suffix instead.
fn parse_exponent(suffix: &str) -> Result<Scale, SuffixError> {
    let Some(exponent) = suffix.strip_prefix(['e', 'E']) else {
        return Err(SuffixError::Unknown);
    };
    let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let (digits, rest) = split_digits(unsigned);
    if exponent.is_empty() || unsigned.is_empty() {
        return Err(SuffixError::Malformed("the exponent has no digits"));
    }
    if digits.is_empty() && !rest.starts_with('.') {
        return Err(SuffixError::Unknown);
    }
    if !rest.is_empty() {
        return Err(SuffixError::Malformed(
            "the exponent must be a whole number such as e3 or e-3",
        ));
    }
    exponent
        .parse::<i64>()
        .map(|power| Scale::Decimal(i128::from(power)))
        .map_err(|_| SuffixError::Malformed("the exponent does not fit in 64 bits"))
}

/// |number| * scale in nanos, rounded away from zero; `None` when it is certainly beyond range.
///
/// Works on the decimal digits directly so that any length of input, and any exponent, is exact
/// and cannot overflow: only a result of at most `MAX_NANO_DIGITS` digits is ever turned into an
/// integer.
fn magnitude_in_nanos(int_digits: &str, frac_digits: &str, scale: Scale) -> Option<i128> {
    let mut exponent = NANO_EXPONENT - frac_digits.len() as i128;
    let mut digits: Vec<u8> = int_digits
        .bytes()
        .chain(frac_digits.bytes())
        .map(|b| b - b'0')
        .skip_while(|&d| d == 0)
        .collect();
    while digits.last() == Some(&0) {
        digits.pop();
        exponent += 1;
    }
    if digits.is_empty() {
        return Some(0);
    }
    match scale {
        Scale::Decimal(power) => exponent += power,
        Scale::Binary(shift) => digits = multiply_digits(&digits, 1_u64 << shift),
    }

    // Split value = digits * 10^exponent into its integer part and whether a fraction remains.
    let (int_part, fraction) = if exponent >= 0 {
        digits.split_at(digits.len())
    } else {
        let dropped = usize::try_from(-exponent).unwrap_or(usize::MAX);
        digits.split_at(digits.len().saturating_sub(dropped))
    };
    let has_fraction = fraction.iter().any(|&d| d != 0);
    let trailing_zeros = exponent.max(0);
    if int_part.len() as i128 + trailing_zeros > MAX_NANO_DIGITS {
        return None;
    }
    let mut value = int_part.iter().fold(0_i128, |acc, &d| acc * 10 + i128::from(d));
    for _ in 0..trailing_zeros {
        value *= 10;
    }
    Some(value + i128::from(has_fraction))
}

/// Multiplies a big-endian decimal digit string (no leading zero) by `factor`; the result has no
/// leading zero either, which `magnitude_in_nanos` relies on to count digits.
fn multiply_digits(digits: &[u8], factor: u64) -> Vec<u8> {
    let mut product = Vec::with_capacity(digits.len() + 20);
    let mut carry: u128 = 0;
    for &d in digits.iter().rev() {
        let v = u128::from(d) * u128::from(factor) + carry;
        product.push((v % 10) as u8);
        carry = v / 10;
    }
    while carry > 0 {
        product.push((carry % 10) as u8);
        carry /= 10;
    }
    product.reverse();
    product
}

/// Kubernetes rounds a value it cannot represent exactly at the asked scale away from zero, so
/// that asking for a sliver of a resource still reserves some of it.
fn div_away_from_zero(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    q + r.signum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    const MAX_SAFE_UNITS: i64 = i64::MAX / 1000;

    #[test]
    fn accepted_values_read_as_kubernetes_reads_them() {
        // (input, MilliValue(), Value())
        let cases: &[(&str, i64, i64)] = &[
            ("0", 0, 0),
            ("1", 1000, 1),
            ("+1", 1000, 1),
            ("-1", -1000, -1),
            ("007", 7000, 7),
            ("-0", 0, 0),
            ("+0.0", 0, 0),
            ("123456789", 123_456_789_000, 123_456_789),
            // decimal SI suffixes
            ("1n", 1, 1),
            ("1000000n", 1, 1),
            ("1000001n", 2, 1),
            ("1u", 1, 1),
            ("1000u", 1, 1),
            ("1001u", 2, 1),
            ("100m", 100, 1),
            ("1500m", 1500, 2),
            ("1000m", 1000, 1),
            ("1k", 1_000_000, 1000),
            ("1M", 1_000_000_000, 1_000_000),
            ("1G", 1_000_000_000_000, 1_000_000_000),
            ("1T", 1_000_000_000_000_000, 1_000_000_000_000),
            ("1P", 1_000_000_000_000_000_000, 1_000_000_000_000_000),
            ("0.001E", 1_000_000_000_000_000_000, 1_000_000_000_000_000),
            // binary SI suffixes
            ("1Ki", 1_024_000, 1024),
            ("1Mi", 1_048_576_000, 1_048_576),
            ("1Gi", 1_073_741_824_000, 1_073_741_824),
            ("1.5Gi", 1_610_612_736_000, 1_610_612_736),
            ("1Ti", 1_099_511_627_776_000, 1_099_511_627_776),
            ("1Pi", 1_125_899_906_842_624_000, 1_125_899_906_842_624),
            ("8Pi", 9_007_199_254_740_992_000, 9_007_199_254_740_992),
            ("0.001Ei", 1_152_921_504_606_846_976, 1_152_921_504_606_847),
            ("0.1Ki", 102_400, 103),
            ("0.5Ki", 512_000, 512),
            ("-1Ki", -1_024_000, -1024),
            ("1.0000000001Ki", 1_024_001, 1025),
            // fractions
            ("0.5", 500, 1),
            (".5", 500, 1),
            ("5.", 5000, 5),
            ("+.5", 500, 1),
            ("1.G", 1_000_000_000_000, 1_000_000_000),
            ("12.345678912345", 12_346, 13),
            ("0.000000001", 1, 1),
            ("1.0000000001", 1001, 2),
            // exponents
            ("2e3", 2_000_000, 2000),
            ("2E3", 2_000_000, 2000),
            ("1e+3", 1_000_000, 1000),
            ("1e03", 1_000_000, 1000),
            ("1e0", 1000, 1),
            ("1.5e3", 1_500_000, 1500),
            ("1e-3", 1, 1),
            ("1E-3", 1, 1),
            ("3e-1", 300, 1),
            ("1e-9", 1, 1),
            ("1e-12", 1, 1),
            ("1e-999999999999", 1, 1),
            ("0e999999", 0, 0),
            ("1000000000000000000000e-21", 1000, 1),
            // rounding: up for positive, away from zero for negative, as apimachinery does
            ("1.1m", 2, 1),
            ("0.1n", 1, 1),
            ("-1.5", -1500, -2),
            ("-.5", -500, -1),
            ("-100m", -100, -1),
            ("-1.1m", -2, -1),
            ("-0.1Ki", -102_400, -103),
            // the ends of the range
            ("9223372036854775.807", i64::MAX, 9_223_372_036_854_776),
            ("9223372036854775807m", i64::MAX, 9_223_372_036_854_776),
            ("-9223372036854775.808", i64::MIN, -9_223_372_036_854_776),
            ("-9223372036854775808m", i64::MIN, -9_223_372_036_854_776),
        ];
        assert!(cases.len() >= 40);
        for &(input, milli, units) in cases {
            let parsed = q(input);
            assert_eq!(parsed.to_milli(), Ok(milli), "milli of {input:?}");
            assert_eq!(parsed.to_units(), Ok(units), "units of {input:?}");
            assert_eq!(input.parse::<Quantity>(), Ok(parsed), "FromStr of {input:?}");
        }
    }

    #[test]
    fn long_inputs_stay_exact() {
        let tiny = format!("0.{}1", "0".repeat(1000));
        assert_eq!(q(&tiny).to_milli(), Ok(1));
        let padded = format!("{}42", "0".repeat(1000));
        assert_eq!(q(&padded).to_units(), Ok(42));
        let trailing = format!("3.{}", "0".repeat(1000));
        assert_eq!(q(&trailing).to_milli(), Ok(3000));
        let huge = format!("1{}", "0".repeat(1000));
        assert!(matches!(Quantity::parse(&huge), Err(QuantityError::OutOfRange { .. })));
    }

    #[test]
    fn equality_is_by_value() {
        assert_eq!(q("1k"), q("1000"));
        assert_eq!(q("1e3"), q("1000"));
        assert_eq!(q("1024"), q("1Ki"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("-0"), q("0"));
        // apimachinery keeps nothing finer than a nano
        assert_eq!(q("0.1n"), q("1n"));
        assert_ne!(q("1n"), q("2n"));
    }

    #[test]
    fn sign_is_reported() {
        assert!(q("-1").is_negative());
        assert!(q("-1n").is_negative());
        assert!(q("-0.0000000001").is_negative());
        assert!(!q("-0").is_negative());
        assert!(!q("0").is_negative());
        assert!(!q("+5").is_negative());
    }

    #[test]
    fn rejected_inputs() {
        let cases = [
            "",
            " 1",
            "1 ",
            "1\t",
            "1 Gi",
            "1\u{a0}",
            "1.2.3",
            "1.5.5",
            "1Qi",
            "1K",
            "1ki",
            "1mi",
            "1i",
            ".5i",
            "0.1am",
            "1µ",
            "m",
            "Ki",
            "e3",
            ".",
            "+",
            "-",
            "1e",
            "1E+",
            "1ee3",
            "1e1.5",
            "1e3m",
            "-3.01e-",
            "1Ei3",
            "--1",
            "+-1",
            "1+1.0M",
            "1-",
            "1.5Ki3",
            "1k3",
            "0x10",
            "1,5",
            "1_000",
            "１",
            "aoeu",
            "NaN",
            "Infinity",
            "1e99999999999999999999",
            "9223372036854775807k",
            "9223372036854775807",
            "9223372036854775.808",
            "9223372036854775808m",
            "-9223372036854775809m",
            "-9223372036854775.809",
            "1E",
            "1Ei",
            "9Pi",
            "1e19",
            "1e9223372036854775807",
        ];
        for input in cases {
            let err = match Quantity::parse(input) {
                Ok(parsed) => panic!("{input:?} should be rejected, got {parsed:?}"),
                Err(err) => err,
            };
            assert_eq!(input.parse::<Quantity>(), Err(err.clone()));
            let message = err.to_string();
            assert!(
                message.contains(&format!("{input:?}")),
                "message {message:?} should name {input:?}"
            );
        }
    }

    #[test]
    fn rejections_say_why() {
        let kind = |s: &str| Quantity::parse(s).err();
        assert_eq!(kind(""), Some(QuantityError::Empty));
        assert!(matches!(kind("1Qi"), Some(QuantityError::UnknownSuffix { suffix, .. }) if suffix == "Qi"));
        assert!(matches!(kind("1ee3"), Some(QuantityError::UnknownSuffix { suffix, .. }) if suffix == "ee3"));
        assert!(matches!(kind("1.5Ki3"), Some(QuantityError::UnknownSuffix { .. })));
        assert!(matches!(kind("1e"), Some(QuantityError::Malformed { .. })));
        assert!(matches!(kind("1e1.5"), Some(QuantityError::Malformed { .. })));
        assert!(matches!(kind("1.2.3"), Some(QuantityError::Malformed { .. })));
        assert!(matches!(kind("--1"), Some(QuantityError::Malformed { .. })));
        assert!(matches!(kind("m"), Some(QuantityError::Malformed { .. })));
        assert!(matches!(kind(" 1"), Some(QuantityError::Malformed { .. })));
        assert!(matches!(
            kind("9223372036854775807k"),
            Some(QuantityError::OutOfRange { .. })
        ));
        assert!(matches!(kind("1Ei"), Some(QuantityError::OutOfRange { .. })));
        assert_eq!(
            kind("1Qi").map(|e| e.to_string()),
            Some(
                "invalid quantity \"1Qi\": unknown suffix \"Qi\" (expected n, u, m, k, M, G, T, \
                 P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent like e3)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn conversions_report_values_they_cannot_hold() {
        // Unreachable through parse; kept honest in case the representation ever widens.
        let too_big = Quantity {
            nanos: i128::from(i64::MAX) * NANOS_PER_UNIT + 500_000_000,
        };
        assert_eq!(
            too_big.to_milli(),
            Err(QuantityError::OutOfRange {
                input: "9223372036854775807.5".to_owned()
            })
        );
        assert_eq!(
            too_big.to_units(),
            Err(QuantityError::OutOfRange {
                input: "9223372036854775807.5".to_owned()
            })
        );
        let too_small = Quantity {
            nanos: -i128::from(i64::MAX) * NANOS_PER_UNIT * 3,
        };
        assert_eq!(
            too_small.to_milli(),
            Err(QuantityError::OutOfRange {
                input: "-27670116110564327421".to_owned()
            })
        );
    }

    #[test]
    fn formatting_is_canonical() {
        assert_eq!(format_milli(0), "0");
        assert_eq!(format_milli(1500), "1500m");
        assert_eq!(format_milli(2000), "2");
        assert_eq!(format_milli(1), "1m");
        assert_eq!(format_milli(-250), "-250m");
        assert_eq!(format_milli(-3000), "-3");
        assert_eq!(format_milli(i64::MIN), "-9223372036854775808m");
        assert_eq!(format_units(0), "0");
        assert_eq!(format_units(1000), "1000");
        assert_eq!(format_units(1023), "1023");
        assert_eq!(format_units(1024), "1Ki");
        assert_eq!(format_units(1536), "1536");
        assert_eq!(format_units(1_610_612_736), "1536Mi");
        assert_eq!(format_units(1 << 30), "1Gi");
        assert_eq!(format_units(3 << 40), "3Ti");
        assert_eq!(format_units(5 << 50), "5Pi");
        assert_eq!(format_units(1 << 60), "1Ei");
        assert_eq!(format_units(-(2 << 20)), "-2Mi");
        assert_eq!(format_units(i64::MIN), "-8Ei");
        assert_eq!(format_units(i64::MAX), "9223372036854775807");
    }

    /// Independent oracle: exact rational arithmetic on the parts, without the digit machinery.
    fn expected_milli(int: u64, frac: &str, scale: Scale, negative: bool) -> Option<i128> {
        let frac_len = frac.len() as u32;
        let frac_value: i128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
        let numerator = i128::from(int) * 10_i128.pow(frac_len) + frac_value;
        let (numerator, net_pow10) = match scale {
            Scale::Decimal(p) => (numerator, p + 3 - i128::from(frac_len)),
            Scale::Binary(shift) => (numerator << shift, 3 - i128::from(frac_len)),
        };
        let magnitude = if net_pow10 >= 0 {
            numerator.checked_mul(10_i128.checked_pow(u32::try_from(net_pow10).ok()?)?)?
        } else {
            let divisor = 10_i128.pow(u32::try_from(-net_pow10).ok()?);
            (numerator + divisor - 1) / divisor
        };
        Some(if negative { -magnitude } else { magnitude })
    }

    fn any_scale() -> impl Strategy<Value = (String, Scale)> {
        prop_oneof![
            prop::sample::select(vec![
                ("n", -9),
                ("u", -6),
                ("m", -3),
                ("", 0),
                ("k", 3),
                ("M", 6),
                ("G", 9),
                ("T", 12),
                ("P", 15),
                ("E", 18),
            ])
            .prop_map(|(s, p)| (s.to_owned(), Scale::Decimal(p))),
            prop::sample::select(vec![
                ("Ki", 10),
                ("Mi", 20),
                ("Gi", 30),
                ("Ti", 40),
                ("Pi", 50),
                ("Ei", 60),
            ])
            .prop_map(|(s, shift)| (s.to_owned(), Scale::Binary(shift))),
            (-15_i128..=15, prop::sample::select(vec!["e", "E", "e+"])).prop_map(|(p, e)| {
                let text = if p < 0 { format!("e{p}") } else { format!("{e}{p}") };
                (text, Scale::Decimal(p))
            }),
        ]
    }

    proptest! {
        #[test]
        fn integers_round_trip(n in -MAX_SAFE_UNITS..=MAX_SAFE_UNITS) {
            let parsed = q(&n.to_string());
            prop_assert_eq!(parsed.to_units(), Ok(n));
            prop_assert_eq!(parsed.to_milli(), Ok(n * 1000));
            prop_assert_eq!(parsed.is_negative(), n < 0);
        }

        #[test]
        fn milli_strings_round_trip(n in any::<i64>()) {
            prop_assert_eq!(q(&format!("{n}m")).to_milli(), Ok(n));
        }

        #[test]
        fn format_milli_round_trips(n in any::<i64>()) {
            prop_assert_eq!(q(&format_milli(n)).to_milli(), Ok(n));
        }

        #[test]
        fn format_units_round_trips(n in -MAX_SAFE_UNITS..=MAX_SAFE_UNITS) {
            let parsed = q(&format_units(n));
            prop_assert_eq!(parsed.to_units(), Ok(n));
            prop_assert_eq!(parsed.to_milli(), Ok(n * 1000));
        }

        #[test]
        fn format_units_round_trips_binary_multiples(m in -8191_i64..=8191, shift in 0_u32..=6) {
            let wide = i128::from(m) << (10 * shift);
            prop_assume!(wide.abs() <= i128::from(MAX_SAFE_UNITS));
            let n = i64::try_from(wide).unwrap();
            prop_assert_eq!(q(&format_units(n)).to_units(), Ok(n));
        }

        #[test]
        fn matches_exact_rational_arithmetic(
            negative in any::<bool>(),
            int in 0_u64..100_000,
            frac in "[0-9]{0,9}",
            point in any::<bool>(),
            (suffix, scale) in any_scale(),
        ) {
            let sign = if negative { "-" } else { "" };
            let text = if frac.is_empty() && !point {
                format!("{sign}{int}{suffix}")
            } else {
                format!("{sign}{int}.{frac}{suffix}")
            };
            let expected = expected_milli(int, &frac, scale, negative);
            let parsed = Quantity::parse(&text);
            match expected.and_then(|m| i64::try_from(m).ok()) {
                Some(milli) => {
                    let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(parsed.to_milli(), Ok(milli), "{}", text);
                    let units = div_away_from_zero(i128::from(milli), 1000);
                    prop_assert_eq!(parsed.to_units().map(i128::from), Ok(units), "{}", text);
                }
                None => {
                    let is_out_of_range = matches!(parsed, Err(QuantityError::OutOfRange { .. }));
                    prop_assert!(is_out_of_range, "{} gave {:?}", text, parsed);
                }
            }
        }

        #[test]
        fn never_panics_and_units_follow_milli(s in "[-+0-9.eEinumkKMGTP ]{0,14}") {
            if let Ok(parsed) = Quantity::parse(&s) {
                let milli = parsed.to_milli().map_err(|e| TestCaseError::fail(e.to_string()))?;
                let units = parsed.to_units().map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(i128::from(units), div_away_from_zero(i128::from(milli), 1000));
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,24}") {
            let _ = Quantity::parse(&s);
        }
    }
}
