//! Calendar dates as Pol reads, computes and prints them: ISO `YYYY-MM-DD` with a
//! four-digit year, from 0001-01-01 to 9999-12-31. Every date that comes in (source
//! literals, users files, events, bundles) is read by [`parse`] or checked by [`is_iso`],
//! and date arithmetic saturates at the ends of that range ([`add_days`], [`sub_days`]),
//! so that no output ever prints a year such as `+10055` and no computation wraps or
//! panics. Durations are bounded by [`MAX_DURATION_DAYS`] when a bundle is checked.

use chrono::{Datelike, NaiveDate};

const fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => panic!("a valid date"),
    }
}

/// The first date Pol reads or prints.
pub const FIRST: NaiveDate = ymd(1, 1, 1);
/// The last date Pol reads or prints.
pub const LAST: NaiveDate = ymd(9999, 12, 31);

/// The longest duration (a `grace`, a duration literal) a bundle may hold: 100 years.
pub const MAX_DURATION_DAYS: u64 = 36_525;

/// Whether a date has a four-digit year (0001–9999).
pub fn is_iso(d: NaiveDate) -> bool {
    (1..=9999).contains(&d.year())
}

/// `YYYY-MM-DD` as chrono reads it (`%Y-%m-%d`), and only with a four-digit year: a year
/// with a sign or five digits (`+10055-06-01`) or year 0 is not a date.
pub fn parse(s: &str) -> Option<NaiveDate> {
    let year = s.split('-').next()?;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| is_iso(*d))
}

/// The date into the ISO range (for dates computed from others).
pub fn clamp(d: NaiveDate) -> NaiveDate {
    d.clamp(FIRST, LAST)
}

/// `d` plus `days`, at most [`LAST`].
pub fn add_days(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_add_days(chrono::Days::new(days))
        .map_or(LAST, clamp)
}

/// `d` minus `days`, at least [`FIRST`].
pub fn sub_days(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_sub_days(chrono::Days::new(days))
        .map_or(FIRST, clamp)
}

/// `d` plus `months`, at most [`LAST`].
pub fn add_months(d: NaiveDate, months: u32) -> NaiveDate {
    d.checked_add_months(chrono::Months::new(months))
        .map_or(LAST, clamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_digit_years_are_dates() {
        assert_eq!(parse("2025-01-31"), Some(ymd(2025, 1, 31)));
        assert_eq!(parse("0001-01-01"), Some(FIRST));
        assert_eq!(parse("9999-12-31"), Some(LAST));
        for bad in [
            "0000-01-01",
            "+10055-06-01",
            "10055-06-01",
            "-0001-01-01",
            "+2025-01-01",
            "999-01-01",
            "2025-02-30",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn arithmetic_saturates_at_the_ends_of_the_calendar() {
        let d = ymd(9990, 6, 1);
        assert_eq!(add_days(d, 30), ymd(9990, 7, 1));
        assert_eq!(add_days(d, 36_525), LAST);
        assert_eq!(add_days(d, u64::MAX), LAST);
        assert_eq!(add_days(NaiveDate::MAX, 1), LAST);
        assert_eq!(sub_days(ymd(5, 1, 1), 36_525), FIRST);
        assert_eq!(sub_days(d, u64::MAX), FIRST);
        assert_eq!(add_months(d, 1200), LAST);
        assert_eq!(add_months(d, u32::MAX), LAST);
        for x in [
            add_days(d, 1 << 40),
            sub_days(d, 1 << 40),
            add_months(d, 1 << 30),
        ] {
            assert!(is_iso(x));
            assert_eq!(x.to_string().len(), 10, "{x}");
        }
    }
}
