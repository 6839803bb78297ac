use chrono::{NaiveDate, TimeZone};
use proptest::prelude::*;

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Every occurrence in `[from, to)`.
fn occurrences(s: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from - chrono::Duration::seconds(1);
    while let Some(n) = s.next_after(t) {
        if n >= to {
            break;
        }
        out.push(n);
        t = n;
    }
    out
}

/// The runs whose local date (in `zone`) is `day`.
fn runs_on(cron: &str, zone: &str, day: (i32, u32, u32)) -> Vec<DateTime<Utc>> {
    let s = Schedule::parse(cron, zone).unwrap();
    let tz: Tz = zone.parse().unwrap();
    let date = NaiveDate::from_ymd_opt(day.0, day.1, day.2).unwrap();
    let from = date - chrono::Days::new(2);
    let from = Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0).unwrap());
    occurrences(&s, from, from + chrono::Duration::days(5))
        .into_iter()
        .filter(|t| t.with_timezone(&tz).date_naive() == date)
        .collect()
}

#[test]
fn london_0130_runs_once_on_spring_forward_day() {
    // 29 March 2026: 01:00 GMT becomes 02:00 BST, so 01:30 does not exist; the run is at
    // the first instant after the gap.
    assert_eq!(
        runs_on("30 1 * * *", "Europe/London", (2026, 3, 29)),
        [utc("2026-03-29T01:00:00Z")]
    );
    assert_eq!(
        runs_on("30 1 * * *", "Europe/London", (2026, 3, 30)),
        [utc("2026-03-30T00:30:00Z")]
    );
}

#[test]
fn london_0130_runs_once_on_fall_back_day() {
    // 25 October 2026: 02:00 BST becomes 01:00 GMT, so 01:30 happens twice; one run, at the
    // first.
    assert_eq!(
        runs_on("30 1 * * *", "Europe/London", (2026, 10, 25)),
        [utc("2026-10-25T00:30:00Z")]
    );
    assert_eq!(
        runs_on("30 1 * * *", "Europe/London", (2026, 10, 26)),
        [utc("2026-10-26T01:30:00Z")]
    );
}

#[test]
fn new_york_daily_jobs_across_both_changes() {
    // 8 March 2026: 02:00 EST becomes 03:00 EDT. 01:30 exists; 02:30 does not.
    assert_eq!(
        runs_on("30 1 * * *", "America/New_York", (2026, 3, 8)),
        [utc("2026-03-08T06:30:00Z")]
    );
    assert_eq!(
        runs_on("30 2 * * *", "America/New_York", (2026, 3, 8)),
        [utc("2026-03-08T07:00:00Z")]
    );
    // 1 November 2026: 02:00 EDT becomes 01:00 EST; 01:30 happens twice, runs once.
    assert_eq!(
        runs_on("30 1 * * *", "America/New_York", (2026, 11, 1)),
        [utc("2026-11-01T05:30:00Z")]
    );
}

#[test]
fn interval_jobs_follow_elapsed_time_across_the_change() {
    // Hourly in London on spring-forward day: 23 local hours, 23 runs.
    let runs = runs_on("0 * * * *", "Europe/London", (2026, 3, 29));
    assert_eq!(runs.len(), 23);
}

#[test]
fn bad_cron_and_zone_are_both_named() {
    let Err(DomainError::Validation(v)) = Schedule::parse("61 * * *", "Mars/Base") else {
        panic!("expected a validation error");
    };
    let fields: Vec<&str> = v.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["cron", "timezone"]);
    assert!(Schedule::parse("0 8 * * *", "Europe/London").is_ok());
    assert!(Schedule::parse("@daily", "UTC").is_ok());
    assert!(
        Schedule::parse("0 0 8 * * *", "UTC").is_err(),
        "no seconds field"
    );
    assert!(Schedule::parse_from("0 0 30 2 *", "UTC", utc("2026-01-01T00:00:00Z")).is_err());
}

#[test]
fn on_time_occurrences_fire_whatever_the_policy() {
    let s = Schedule::parse("0 8 * * *", "Europe/London").unwrap();
    let due = utc("2026-06-01T07:00:00Z");
    for policy in [CatchUp::FireOnce, CatchUp::Skip] {
        let d = decide(&s, due, due + chrono::Duration::seconds(2), policy).unwrap();
        assert_eq!(d.fire, Some(due));
        assert!(!d.skipped);
        assert_eq!(d.next, Some(utc("2026-06-02T07:00:00Z")));
    }
    assert_eq!(
        decide(&s, due, due - chrono::Duration::seconds(1), CatchUp::Skip),
        None
    );
}

#[test]
fn downtime_fires_once_or_not_at_all() {
    let s = Schedule::parse("0 8 * * *", "Europe/London").unwrap();
    let due = utc("2026-06-01T07:00:00Z");
    // Down for three days and a bit: back at 12:00 on 4 June.
    let back = utc("2026-06-04T11:00:00Z");
    let once = decide(&s, due, back, CatchUp::FireOnce).unwrap();
    assert_eq!(once.fire, Some(utc("2026-06-04T07:00:00Z")));
    assert!(once.skipped);
    assert_eq!(once.next, Some(utc("2026-06-05T07:00:00Z")));
    let skip = decide(&s, due, back, CatchUp::Skip).unwrap();
    assert_eq!(skip.fire, None);
    assert_eq!(skip.next, once.next);
    // Back just as an occurrence is due: that one is on time and fires even under `skip`.
    let skip = decide(&s, due, utc("2026-06-04T07:00:10Z"), CatchUp::Skip).unwrap();
    assert_eq!(skip.fire, Some(utc("2026-06-04T07:00:00Z")));
}

#[test]
fn occurrence_ids_are_rfc3339_utc() {
    assert_eq!(
        occurrence_id(utc("2026-03-29T01:00:00Z")),
        "2026-03-29T01:00:00Z"
    );
    assert_eq!(CatchUp::parse("skip"), Some(CatchUp::Skip));
    assert_eq!(CatchUp::parse("never"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The next occurrence is after the instant, is itself an occurrence, and nothing fires
    /// in between.
    #[test]
    fn next_is_the_first_occurrence_after(
        secs in 1_700_000_000i64..1_900_000_000,
        which in 0usize..4,
        zone in prop::sample::select(vec!["Europe/London", "America/New_York", "Australia/Sydney", "UTC"]),
    ) {
        let cron = ["30 1 * * *", "*/15 * * * *", "0 2 * * 0", "45 23 L * *"][which];
        let s = Schedule::parse(cron, zone).unwrap();
        let t = Utc.timestamp_opt(secs, 0).unwrap();
        let next = s.next_after(t).unwrap();
        prop_assert!(next > t);
        prop_assert_eq!(s.last_at_or_before(next), Some(next));
        let mid = t + (next - t) / 2;
        prop_assert_eq!(s.next_after(mid), Some(next));
    }

    /// A pass never fires an occurrence after `now`, and always moves the next fire past it.
    #[test]
    fn decisions_never_fire_the_future(
        due in 1_700_000_000i64..1_800_000_000,
        late in 0i64..10_000_000,
        skip in any::<bool>(),
    ) {
        let s = Schedule::parse("*/30 * * * *", "Europe/London").unwrap();
        let due = s.next_after(Utc.timestamp_opt(due, 0).unwrap()).unwrap();
        let now = due + chrono::Duration::seconds(late);
        let policy = if skip { CatchUp::Skip } else { CatchUp::FireOnce };
        let d = decide(&s, due, now, policy).unwrap();
        if let Some(f) = d.fire {
            prop_assert!(f <= now && f >= due);
        }
        prop_assert!(d.next.unwrap() > now);
        if policy == CatchUp::FireOnce {
            prop_assert!(d.fire.is_some());
        }
    }
}
