//! [`Retrying`]: retries, a rate limit, quarantine and read-back confirmation around any
//! connector.
//!
//! - A retryable failure ([`ConnectorError::is_retryable`]) is tried again, up to
//!   `max_attempts` calls in all: after a network error, a timeout, a 5xx or a program
//!   that died ([`ConnectorError::Transient`]) it waits a random time between zero and
//!   `base_delay · 2^(attempt-1)`, capped at `max_delay` ("full jitter"); after a 429 it
//!   waits what the server's `Retry-After` said (capped at `max_retry_after`; the backoff
//!   when it said nothing); after a 412 ([`ConnectorError::Conflict`]) it tries again at
//!   once, the connector having dropped what it had read.
//! - Every call to the system first takes a token from the system's bucket
//!   (`rate_per_second`).
//! - Each failed call counts; a call that succeeds resets the count. At
//!   `quarantine_after` failures in a row the system is quarantined: every later call
//!   fails at once with [`ConnectorError::Quarantined`] until [`Retrying::clear_quarantine`].
//!   The reads made while waiting for a change to show ([`Retrying::confirm`]) do not
//!   count.
//!
//! The backoff is written here rather than taken from a crate (`backon`): its delay
//! depends on the error (a server's `Retry-After`, none after a 412), each attempt must
//! pass the rate limit and the quarantine count, and full jitter is one line with `rand`.
//! The rate limit is a small token bucket rather than `governor`: a connector is used by
//! one thread at a time through `&mut self`, so the bucket needs no atomics, and a
//! blocking caller only needs "how long until the next token", which is two lines here.

use std::time::{Duration, Instant};

use rand::RngExt;

use crate::{Applied, BatchRead, Change, Connector, ConnectorError, Listing, Person, ReadBack};

/// How [`Retrying`] retries, paces and gives up.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryConfig {
    /// Calls in all for one operation, the first included (`max_attempts`, default 6).
    pub max_attempts: u32,
    /// The backoff's first ceiling (default 500 ms).
    pub base_delay: Duration,
    /// The backoff's largest ceiling (default 30 s).
    pub max_delay: Duration,
    /// The longest wait a `Retry-After` may impose (default 120 s).
    pub max_retry_after: Duration,
    /// Calls per second to the system (`rate_per_second`); `None`: no limit.
    pub rate_per_second: Option<f64>,
    /// Failed calls in a row before quarantine (`quarantine_after`, default 20).
    pub quarantine_after: u32,
    /// How long a change may take to show when read back (`read_back_seconds`, default
    /// 60 s).
    pub read_back: Duration,
    /// The first pause between two read backs (doubling up to 2 s; default 100 ms).
    pub read_back_interval: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            rate_per_second: None,
            quarantine_after: 20,
            read_back: Duration::from_secs(60),
            read_back_interval: Duration::from_millis(100),
        }
    }
}

/// A token bucket holding up to one second of calls (at least one).
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Bucket {
            rate,
            tokens: rate.max(1.0),
            last: Instant::now(),
        }
    }

    /// Takes `n` tokens, sleeping until they are there.
    fn take(&mut self, n: f64) {
        let now = Instant::now();
        let burst = self.rate.max(1.0);
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(burst);
        self.last = now;
        self.tokens -= n;
        if self.tokens < 0.0 {
            // The debt is paid by sleeping; the refill after the sleep brings it to zero.
            std::thread::sleep(Duration::from_secs_f64(-self.tokens / self.rate));
        }
    }
}

/// A connector with retries, a rate limit, quarantine and read-back confirmation.
#[derive(Debug)]
pub struct Retrying<C> {
    inner: C,
    config: RetryConfig,
    bucket: Option<Bucket>,
    failures_in_a_row: u32,
    quarantined: Option<String>,
}

/// Whether a call counts towards quarantine.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counted {
    Yes,
    No,
}

impl<C: Connector> Retrying<C> {
    /// Wraps `inner`. A zero `max_attempts` or `quarantine_after` is taken as 1; a rate of
    /// zero or less (or not a number) as no limit.
    pub fn new(inner: C, mut config: RetryConfig) -> Self {
        config.max_attempts = config.max_attempts.max(1);
        config.quarantine_after = config.quarantine_after.max(1);
        let bucket = config
            .rate_per_second
            .filter(|rate| rate.is_finite() && *rate > 0.0)
            .map(Bucket::new);
        Retrying {
            inner,
            config,
            bucket,
            failures_in_a_row: 0,
            quarantined: None,
        }
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.inner
    }
    pub fn into_inner(self) -> C {
        self.inner
    }
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// Whether the system failed `quarantine_after` calls in a row.
    pub fn is_quarantined(&self) -> bool {
        self.quarantined.is_some()
    }

    /// Failed calls since the last one that succeeded.
    pub fn failures_in_a_row(&self) -> u32 {
        self.failures_in_a_row
    }

    /// Lifts the quarantine (an operator's decision) and resets the count.
    pub fn clear_quarantine(&mut self) {
        self.quarantined = None;
        self.failures_in_a_row = 0;
    }

    fn quarantine_error(&self) -> Option<ConnectorError> {
        self.quarantined
            .as_ref()
            .map(|last| ConnectorError::Quarantined {
                failures: self.failures_in_a_row,
                last: last.clone(),
            })
    }

    /// The pause before attempt `attempt + 1` after `error`.
    fn delay(&self, attempt: u32, error: &ConnectorError) -> Duration {
        match error {
            ConnectorError::Conflict(_) => Duration::ZERO,
            ConnectorError::RateLimited {
                retry_after: Some(wait),
            } => (*wait).min(self.config.max_retry_after),
            _ => {
                let ceiling = self
                    .config
                    .base_delay
                    .saturating_mul(1u32 << (attempt - 1).min(20))
                    .min(self.config.max_delay);
                let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(rand::rng().random_range(0..=nanos))
            }
        }
    }

    /// One call through the bucket and the quarantine count.
    fn once<T>(
        &mut self,
        counted: Counted,
        call: &mut impl FnMut(&mut C) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        if let Some(error) = self.quarantine_error() {
            return Err(error);
        }
        if let Some(bucket) = &mut self.bucket {
            bucket.take(1.0);
        }
        let result = call(&mut self.inner);
        if counted == Counted::Yes {
            self.count(result.as_ref().err());
        }
        result
    }

    /// Counts one call's outcome; quarantines at `quarantine_after` failures in a row.
    fn count(&mut self, error: Option<&ConnectorError>) {
        match error {
            None => self.failures_in_a_row = 0,
            Some(error) => {
                self.failures_in_a_row += 1;
                if self.failures_in_a_row >= self.config.quarantine_after {
                    self.quarantined = Some(error.to_string());
                }
            }
        }
    }

    /// `call` retried as the configuration says.
    fn retried<T>(
        &mut self,
        counted: Counted,
        mut call: impl FnMut(&mut C) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let mut attempt = 1;
        loop {
            match self.once(counted, &mut call) {
                Ok(value) => return Ok(value),
                Err(error) => {
                    if self.is_quarantined() {
                        return Err(self.quarantine_error().unwrap_or(error));
                    }
                    if !error.is_retryable() || attempt >= self.config.max_attempts {
                        return Err(error);
                    }
                    std::thread::sleep(self.delay(attempt, &error));
                    attempt += 1;
                }
            }
        }
    }

    /// Reads back until `change` shows, or fails with [`ConnectorError::NotConfirmed`]
    /// after `read_back` (these reads do not count towards quarantine; the failure to
    /// confirm counts as one failed call). Answers the last read back.
    pub fn confirm(
        &mut self,
        person: &Person,
        change: &Change,
    ) -> Result<ReadBack, ConnectorError> {
        let deadline = Instant::now() + self.config.read_back;
        let grant = change.grant();
        let mut pause = self.config.read_back_interval;
        loop {
            let seen = self.retried(Counted::No, |c| c.read_back(person, grant));
            let last = match seen {
                Ok(seen) if change.is_shown_by(&seen) => return Ok(seen),
                Ok(seen) => format!("read back shows {}", describe(&seen)),
                Err(ConnectorError::Quarantined { failures, last }) => {
                    return Err(ConnectorError::Quarantined { failures, last })
                }
                Err(error) => format!("the last read back failed: {error}"),
            };
            let now = Instant::now();
            if now >= deadline {
                let error = ConnectorError::NotConfirmed(format!(
                    "{} for {} did not show within {} s; {last}",
                    describe_change(change),
                    person.user_id,
                    self.config.read_back.as_secs_f64()
                ));
                self.count(Some(&error));
                return Err(error);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// [`Connector::apply`] (retried), then [`Retrying::confirm`]: the action is done only
    /// once the system shows it.
    pub fn apply_confirmed(
        &mut self,
        person: &Person,
        change: &Change,
    ) -> Result<Applied, ConnectorError> {
        let applied = self.apply(person, change)?;
        self.confirm(person, change)?;
        Ok(applied)
    }
}

fn describe(seen: &ReadBack) -> String {
    let levels: Vec<&str> = seen
        .levels
        .iter()
        .map(|l| l.as_deref().unwrap_or("(held)"))
        .collect();
    let levels = if levels.is_empty() {
        "not held".to_string()
    } else {
        format!("held at {}", levels.join(", "))
    };
    match seen.active {
        Some(true) => format!("{levels}, account active"),
        Some(false) => format!("{levels}, account inactive"),
        None => format!("{levels}, no account"),
    }
}

fn describe_change(change: &Change) -> String {
    let level = |l: &Option<String>| l.as_deref().map(|l| format!(" at {l}")).unwrap_or_default();
    match change {
        Change::Grant { grant, level: l } => format!("grant {grant}{}", level(l)),
        Change::Revoke { grant } => format!("revoke {grant}"),
        Change::SetLevel { grant, from, to } => {
            format!("set level of {grant} from{} to{}", level(from), level(to))
        }
        Change::Deprovision { mode } => format!("deprovision ({mode:?})"),
        Change::Reactivate => "reactivate".to_string(),
    }
}

impl<C: Connector> Connector for Retrying<C> {
    fn list(&mut self) -> Result<Listing, ConnectorError> {
        self.retried(Counted::Yes, |c| c.list())
    }

    fn apply(&mut self, person: &Person, change: &Change) -> Result<Applied, ConnectorError> {
        self.retried(Counted::Yes, |c| c.apply(person, change))
    }

    fn read_back(
        &mut self,
        person: &Person,
        grant: Option<&str>,
    ) -> Result<ReadBack, ConnectorError> {
        self.retried(Counted::Yes, |c| c.read_back(person, grant))
    }

    /// A connector that [takes batches](Connector::takes_batches) gets the batch in one
    /// call (one token per item; the call counts once towards quarantine, failed when an
    /// item failed); the items that failed with a retryable error go again, as a smaller
    /// batch after the backoff, up to `max_attempts` calls. Any other connector gets the
    /// items one at a time, each retried as [`Connector::apply`] is. Either way nothing
    /// more reaches the system once it is quarantined: the items not sent (and those whose
    /// call tripped the quarantine) fail with [`ConnectorError::Quarantined`].
    fn apply_batch(&mut self, items: &[(Person, Change)]) -> Vec<Result<Applied, ConnectorError>> {
        if !self.inner.takes_batches() {
            return items
                .iter()
                .map(|(person, change)| self.apply(person, change))
                .collect();
        }
        let mut results: Vec<Option<Result<Applied, ConnectorError>>> =
            items.iter().map(|_| None).collect();
        let mut todo: Vec<usize> = (0..items.len()).collect();
        let mut attempt = 1;
        while !todo.is_empty() {
            if let Some(error) = self.quarantine_error() {
                let text = error.to_string();
                for &i in &todo {
                    results[i] = Some(Err(ConnectorError::Quarantined {
                        failures: self.failures_in_a_row,
                        last: text.clone(),
                    }));
                }
                break;
            }
            if let Some(bucket) = &mut self.bucket {
                bucket.take(todo.len() as f64);
            }
            let answers = if todo.len() == items.len() {
                self.inner.apply_batch(items)
            } else {
                let again: Vec<(Person, Change)> = todo.iter().map(|&i| items[i].clone()).collect();
                self.inner.apply_batch(&again)
            };
            // an inner connector that answers fewer results than items: those failed
            let mut answers = answers.into_iter();
            let answered: Vec<(usize, Result<Applied, ConnectorError>)> = todo
                .iter()
                .map(|&i| {
                    let answer = answers.next().unwrap_or_else(|| {
                        Err(ConnectorError::Transient(
                            "the connector gave no answer for this change".into(),
                        ))
                    });
                    (i, answer)
                })
                .collect();
            self.count(answered.iter().find_map(|(_, r)| r.as_ref().err()));
            let quarantined = self.is_quarantined();
            let mut again = Vec::new();
            let mut pause = Duration::ZERO;
            for (i, answer) in answered {
                match answer {
                    Err(error)
                        if error.is_retryable()
                            && !quarantined
                            && attempt < self.config.max_attempts =>
                    {
                        pause = pause.max(self.delay(attempt, &error));
                        again.push(i);
                    }
                    Err(error) if quarantined => {
                        results[i] = Some(Err(self.quarantine_error().unwrap_or(error)));
                    }
                    answer => results[i] = Some(answer),
                }
            }
            if !again.is_empty() {
                std::thread::sleep(pause);
                attempt += 1;
            }
            todo = again;
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(ConnectorError::Transient("the change was not sent".into()))
                })
            })
            .collect()
    }

    fn set_directory(&mut self, people: &[Person]) {
        self.inner.set_directory(people)
    }

    fn takes_batches(&self) -> bool {
        self.inner.takes_batches()
    }

    /// The inner connector's batch read (one token per grant read), unless the system is
    /// quarantined. Like the reads of [`Retrying::confirm`], it does not count towards the
    /// quarantine, and it is not retried: a change it does not show is read back one by one.
    fn read_back_batch(&mut self, items: &[(Person, String)]) -> Option<BatchRead> {
        if self.is_quarantined() {
            return None;
        }
        if let Some(bucket) = &mut self.bucket {
            let grants: std::collections::HashSet<&str> =
                items.iter().map(|(_, g)| g.as_str()).collect();
            bucket.take(grants.len() as f64);
        }
        self.inner.read_back_batch(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A connector that answers from a script of results, and counts calls.
    #[derive(Default)]
    struct Scripted {
        answers: VecDeque<Result<Applied, ConnectorError>>,
        reads: VecDeque<ReadBack>,
        calls: u32,
    }

    impl Connector for Scripted {
        fn list(&mut self) -> Result<Listing, ConnectorError> {
            self.calls += 1;
            Err(ConnectorError::Transient("down".into()))
        }
        fn apply(&mut self, _: &Person, _: &Change) -> Result<Applied, ConnectorError> {
            self.calls += 1;
            self.answers
                .pop_front()
                .unwrap_or(Err(ConnectorError::Transient("no more answers".into())))
        }
        fn read_back(&mut self, _: &Person, _: Option<&str>) -> Result<ReadBack, ConnectorError> {
            self.calls += 1;
            Ok(self.reads.pop_front().unwrap_or_default())
        }
    }

    fn fast() -> RetryConfig {
        RetryConfig {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            read_back: Duration::from_millis(200),
            read_back_interval: Duration::from_millis(1),
            ..RetryConfig::default()
        }
    }

    fn grant() -> Change {
        Change::Grant {
            grant: "s:role:r".into(),
            level: None,
        }
    }

    #[test]
    fn transient_errors_are_retried_until_success() {
        let inner = Scripted {
            answers: VecDeque::from([
                Err(ConnectorError::Transient("reset".into())),
                Err(ConnectorError::RateLimited {
                    retry_after: Some(Duration::from_millis(5)),
                }),
                Err(ConnectorError::Conflict("412".into())),
                Ok(Applied::Done),
            ]),
            ..Scripted::default()
        };
        let mut r = Retrying::new(inner, fast());
        assert_eq!(
            r.apply(&Person::default(), &grant()).unwrap(),
            Applied::Done
        );
        assert_eq!(r.inner().calls, 4);
        assert_eq!(r.failures_in_a_row(), 0);
    }

    #[test]
    fn permanent_errors_and_exhausted_attempts_fail() {
        let inner = Scripted {
            answers: VecDeque::from([Err(ConnectorError::Permanent("403".into()))]),
            ..Scripted::default()
        };
        let mut r = Retrying::new(inner, fast());
        assert!(matches!(
            r.apply(&Person::default(), &grant()),
            Err(ConnectorError::Permanent(_))
        ));
        assert_eq!(r.inner().calls, 1);
        assert!(matches!(r.list(), Err(ConnectorError::Transient(_))));
        assert_eq!(r.inner().calls, 7);
        assert_eq!(r.failures_in_a_row(), 7);
    }

    #[test]
    fn quarantine_after_failures_in_a_row() {
        let mut r = Retrying::new(Scripted::default(), fast());
        for _ in 0..3 {
            let _ = r.list();
        }
        // 6 + 6 + 6 = 18 failed calls: not yet.
        assert!(!r.is_quarantined());
        let err = r.list().unwrap_err();
        assert!(r.is_quarantined());
        assert!(
            matches!(err, ConnectorError::Quarantined { failures: 20, .. }),
            "{err}"
        );
        assert_eq!(r.inner().calls, 20);
        // No more calls reach the system.
        assert!(matches!(
            r.apply(&Person::default(), &grant()),
            Err(ConnectorError::Quarantined { .. })
        ));
        assert_eq!(r.inner().calls, 20);
        r.clear_quarantine();
        assert!(!r.is_quarantined());
    }

    #[test]
    fn confirmation_waits_for_the_change_to_show_and_fails_if_it_never_does() {
        let shown = ReadBack {
            levels: vec![None],
            active: Some(true),
        };
        let inner = Scripted {
            answers: VecDeque::from([Ok(Applied::Done), Ok(Applied::Done)]),
            reads: VecDeque::from([ReadBack::default(), ReadBack::default(), shown]),
            ..Scripted::default()
        };
        let mut r = Retrying::new(inner, fast());
        assert_eq!(
            r.apply_confirmed(&Person::default(), &grant()).unwrap(),
            Applied::Done
        );
        // The next read backs show nothing: not confirmed, after about 200 ms.
        let start = Instant::now();
        let err = r.apply_confirmed(&Person::default(), &grant()).unwrap_err();
        assert!(matches!(err, ConnectorError::NotConfirmed(_)), "{err}");
        assert!(
            err.to_string().contains("read back shows not held"),
            "{err}"
        );
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert_eq!(r.failures_in_a_row(), 1);
    }

    #[test]
    fn the_rate_limit_paces_calls() {
        let inner = Scripted {
            answers: (0..30).map(|_| Ok(Applied::Done)).collect(),
            ..Scripted::default()
        };
        let mut r = Retrying::new(
            inner,
            RetryConfig {
                rate_per_second: Some(100.0),
                ..fast()
            },
        );
        let start = Instant::now();
        for _ in 0..30 {
            r.apply(&Person::default(), &grant()).unwrap();
        }
        // 100 in the bucket at first: no wait.
        assert!(start.elapsed() < Duration::from_millis(100));
        let mut r = Retrying::new(
            Scripted {
                answers: (0..400).map(|_| Ok(Applied::Done)).collect(),
                ..Scripted::default()
            },
            RetryConfig {
                rate_per_second: Some(200.0),
                ..fast()
            },
        );
        let start = Instant::now();
        let items: Vec<(Person, Change)> = (0..400).map(|_| (Person::default(), grant())).collect();
        let results = [r.apply_batch(&items[..200]), r.apply_batch(&items[200..])];
        assert!(results.iter().flatten().all(|r| r.is_ok()));
        // 200 tokens at first, then 200 more at 200 a second: about one second.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    }

    /// A connector that takes a batch in one call and answers each call from a script
    /// (one answer per item sent; no answer left: a transient error).
    #[derive(Default)]
    struct Batched {
        answers: VecDeque<Result<Applied, ConnectorError>>,
        /// The size of each batch call.
        calls: Vec<usize>,
    }

    impl Connector for Batched {
        fn list(&mut self) -> Result<Listing, ConnectorError> {
            Ok(Listing::default())
        }
        fn apply(&mut self, p: &Person, c: &Change) -> Result<Applied, ConnectorError> {
            self.apply_batch(&[(p.clone(), c.clone())]).remove(0)
        }
        fn read_back(&mut self, _: &Person, _: Option<&str>) -> Result<ReadBack, ConnectorError> {
            Ok(ReadBack::default())
        }
        fn apply_batch(
            &mut self,
            items: &[(Person, Change)],
        ) -> Vec<Result<Applied, ConnectorError>> {
            self.calls.push(items.len());
            items
                .iter()
                .map(|_| {
                    self.answers
                        .pop_front()
                        .unwrap_or(Err(ConnectorError::Transient("down".into())))
                })
                .collect()
        }
        fn takes_batches(&self) -> bool {
            true
        }
    }

    fn items(n: usize) -> Vec<(Person, Change)> {
        (0..n)
            .map(|i| {
                (
                    Person {
                        user_id: format!("u{i}"),
                        ..Person::default()
                    },
                    grant(),
                )
            })
            .collect()
    }

    #[test]
    fn a_batch_of_single_calls_stops_at_the_quarantine() {
        // every call fails; quarantined after 3 failed calls in a row
        let mut r = Retrying::new(
            Scripted::default(),
            RetryConfig {
                max_attempts: 1,
                quarantine_after: 3,
                ..fast()
            },
        );
        let results = r.apply_batch(&items(10));
        assert_eq!(results.len(), 10);
        // three calls reached the system, none after the quarantine
        assert_eq!(r.inner().calls, 3);
        assert!(r.is_quarantined());
        assert!(matches!(results[0], Err(ConnectorError::Transient(_))));
        for result in &results[2..] {
            assert!(
                matches!(result, Err(ConnectorError::Quarantined { .. })),
                "{result:?}"
            );
        }
        // a later batch sends nothing
        let results = r.apply_batch(&items(4));
        assert_eq!(r.inner().calls, 3);
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(ConnectorError::Quarantined { .. }))));
    }

    #[test]
    fn a_batch_of_single_calls_retries_each_item() {
        let inner = Scripted {
            answers: VecDeque::from([
                Ok(Applied::Done),
                Err(ConnectorError::Transient("reset".into())),
                Ok(Applied::AlreadyPresent),
                Err(ConnectorError::Permanent("403".into())),
            ]),
            ..Scripted::default()
        };
        let mut r = Retrying::new(inner, fast());
        let results = r.apply_batch(&items(3));
        assert_eq!(r.inner().calls, 4);
        assert!(matches!(results[0], Ok(Applied::Done)));
        assert!(matches!(results[1], Ok(Applied::AlreadyPresent)));
        assert!(matches!(results[2], Err(ConnectorError::Permanent(_))));
    }

    #[test]
    fn a_connector_that_takes_batches_gets_one_call_and_its_failures_again() {
        let inner = Batched {
            answers: VecDeque::from([
                // first call: four items
                Ok(Applied::Done),
                Err(ConnectorError::Transient("lock busy".into())),
                Err(ConnectorError::Permanent("bad grant".into())),
                Err(ConnectorError::Conflict("changed".into())),
                // second call: the two retryable ones
                Ok(Applied::Done),
                Ok(Applied::AlreadyPresent),
            ]),
            ..Batched::default()
        };
        let mut r = Retrying::new(inner, fast());
        let results = r.apply_batch(&items(4));
        assert_eq!(r.inner().calls, vec![4, 2]);
        assert!(matches!(results[0], Ok(Applied::Done)));
        assert!(matches!(results[1], Ok(Applied::Done)));
        assert!(matches!(results[2], Err(ConnectorError::Permanent(_))));
        assert!(matches!(results[3], Ok(Applied::AlreadyPresent)));
        assert_eq!(r.failures_in_a_row(), 0);
    }

    #[test]
    fn a_connector_that_takes_batches_is_not_called_once_quarantined() {
        // every call fails; quarantined after 2 failed calls, well before max_attempts
        let mut r = Retrying::new(
            Batched::default(),
            RetryConfig {
                quarantine_after: 2,
                ..fast()
            },
        );
        let results = r.apply_batch(&items(5));
        assert_eq!(r.inner().calls, vec![5, 5]);
        assert!(r.is_quarantined());
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(ConnectorError::Quarantined { failures: 2, .. }))));
        let results = r.apply_batch(&items(5));
        assert_eq!(r.inner().calls, vec![5, 5]);
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(ConnectorError::Quarantined { .. }))));
        // and its attempts end at max_attempts
        let mut r = Retrying::new(
            Batched::default(),
            RetryConfig {
                max_attempts: 3,
                ..fast()
            },
        );
        let results = r.apply_batch(&items(2));
        assert_eq!(r.inner().calls, vec![2, 2, 2]);
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(ConnectorError::Transient(_)))));
    }

    #[test]
    fn full_jitter_stays_under_the_ceiling() {
        let r = Retrying::new(
            Scripted::default(),
            RetryConfig {
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                ..RetryConfig::default()
            },
        );
        let transient = ConnectorError::Transient("x".into());
        for attempt in 1..10 {
            let ceiling = Duration::from_millis((10u64 << (attempt - 1)).min(50));
            for _ in 0..50 {
                assert!(r.delay(attempt, &transient) <= ceiling);
            }
        }
        let limited = ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(1000)),
        };
        assert_eq!(r.delay(1, &limited), Duration::from_secs(120));
    }
}
