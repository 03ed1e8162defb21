//! The jobs page's filter: read from a query string, checked, turned into a
//! `JobFilter`, and written back into links and forms as it was typed.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use kiribi_core::{JobFilter, JobId, JobStatus};

/// Jobs per page unless `limit` says otherwise.
pub(crate) const PAGE_SIZE: usize = 50;
/// The most jobs one page shows.
pub(crate) const MAX_PAGE_SIZE: usize = 500;

/// The criteria of the jobs page as typed (`raw_*`), and as understood.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobQuery {
    pub(crate) status: Option<JobStatus>,
    pub(crate) raw_status: String,
    pub(crate) name: String,
    pub(crate) queue: String,
    pub(crate) text: String,
    pub(crate) created_after: TimeField,
    pub(crate) created_before: TimeField,
    pub(crate) finished_after: TimeField,
    pub(crate) finished_before: TimeField,
    pub(crate) before: Option<JobId>,
    pub(crate) limit: usize,
    pub(crate) raw_limit: String,
}

/// A time criterion: what was typed and the instant it means.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimeField {
    pub(crate) raw: String,
    pub(crate) at: Option<DateTime<Utc>>,
}

impl JobQuery {
    /// Reads the criteria from `pairs` (a query string or a form), with one message
    /// per value that cannot be used, naming the field and what it accepts.
    pub(crate) fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: DateTime<Utc>,
    ) -> (Self, Vec<String>) {
        let mut query = Self {
            limit: PAGE_SIZE,
            ..Self::default()
        };
        let mut errors = Vec::new();
        for (key, value) in pairs {
            let trimmed = value.trim();
            match key {
                "status" => {
                    query.raw_status = trimmed.to_owned();
                    if !trimmed.is_empty() {
                        match trimmed.parse::<JobStatus>() {
                            Ok(status) => query.status = Some(status),
                            Err(err) => errors.push(format!("Status: {err}.")),
                        }
                    }
                }
                "name" => query.name = trimmed.to_owned(),
                "queue" => query.queue = trimmed.to_owned(),
                // Text is searched as typed, spaces included.
                "text" => query.text = value.to_owned(),
                "created_after" => {
                    query.created_after = time_field("Created after", trimmed, now, &mut errors)
                }
                "created_before" => {
                    query.created_before = time_field("Created before", trimmed, now, &mut errors)
                }
                "finished_after" => {
                    query.finished_after = time_field("Finished after", trimmed, now, &mut errors)
                }
                "finished_before" => {
                    query.finished_before = time_field("Finished before", trimmed, now, &mut errors)
                }
                "before" if !trimmed.is_empty() => match trimmed.parse::<JobId>() {
                    Ok(id) => query.before = Some(id),
                    Err(err) => errors.push(format!("Page cursor: {err}.")),
                },
                "limit" if !trimmed.is_empty() => {
                    query.raw_limit = trimmed.to_owned();
                    match trimmed.parse::<usize>() {
                        Ok(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => query.limit = limit,
                        _ => errors.push(format!(
                            "Per page: `{trimmed}` is not a number from 1 to {MAX_PAGE_SIZE}."
                        )),
                    }
                }
                _ => {}
            }
        }
        (query, errors)
    }

    /// The `JobFilter` of these criteria: `limit` jobs older than the cursor.
    pub(crate) fn to_filter(&self, limit: usize) -> JobFilter {
        let mut filter = self.criteria().limit(limit);
        if let Some(before) = self.before {
            filter = filter.before(before);
        }
        filter
    }

    /// The `JobFilter` of these criteria, from the newest job, with no cursor.
    pub(crate) fn criteria(&self) -> JobFilter {
        let mut filter = JobFilter::new();
        if let Some(status) = self.status {
            filter = filter.status(status);
        }
        if !self.name.is_empty() {
            filter = filter.name(&self.name);
        }
        if !self.queue.is_empty() {
            filter = filter.queue(&self.queue);
        }
        if !self.text.is_empty() {
            filter = filter.text(&self.text);
        }
        if let Some(at) = self.created_after.at {
            filter = filter.created_after(at);
        }
        if let Some(at) = self.created_before.at {
            filter = filter.created_before(at);
        }
        if let Some(at) = self.finished_after.at {
            filter = filter.finished_after(at);
        }
        if let Some(at) = self.finished_before.at {
            filter = filter.finished_before(at);
        }
        filter
    }

    /// Whether any criterion is set (a cursor or page size is not one).
    pub(crate) fn is_empty(&self) -> bool {
        self.pairs(None).iter().all(|(key, _)| *key == "limit")
    }

    /// The criteria as typed, as query pairs, with `before` as the cursor.
    pub(crate) fn pairs(&self, before: Option<JobId>) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |key: &'static str, value: &str| {
            if !value.is_empty() {
                pairs.push((key, value.to_owned()));
            }
        };
        push("status", &self.raw_status);
        push("name", &self.name);
        push("queue", &self.queue);
        push("text", &self.text);
        push("created_after", &self.created_after.raw);
        push("created_before", &self.created_before.raw);
        push("finished_after", &self.finished_after.raw);
        push("finished_before", &self.finished_before.raw);
        push("limit", &self.raw_limit);
        if let Some(before) = before {
            pairs.push(("before", before.to_string()));
        }
        pairs
    }

    /// The criteria as typed, as a query string (without `?`).
    pub(crate) fn query_string(&self, before: Option<JobId>) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.pairs(before))
            .finish()
    }

    /// The criteria for people: `status = failed, name = mail`.
    pub(crate) fn describe(&self) -> String {
        let described: Vec<String> = self
            .pairs(None)
            .into_iter()
            .filter(|(key, _)| *key != "limit")
            .map(|(key, value)| format!("{} {value:?}", key.replace('_', " ")))
            .collect();
        described.join(", ")
    }
}

fn time_field(label: &str, raw: &str, now: DateTime<Utc>, errors: &mut Vec<String>) -> TimeField {
    let at = if raw.is_empty() {
        None
    } else {
        match parse_time(raw, now) {
            Some(at) => Some(at),
            None => {
                errors.push(format!(
                    "{label}: `{raw}` is not a time. Use a date and time in UTC such as \
                     `2025-01-31 14:00` or `2025-01-31`, RFC 3339 such as \
                     `2025-01-31T14:00:00+09:00`, or a duration ago such as `90m` or `2h`."
                ));
                None
            }
        }
    };
    TimeField {
        raw: raw.to_owned(),
        at,
    }
}

/// An instant from what an operator types: RFC 3339, a UTC date and time (`T` or
/// space, minutes or seconds), a UTC date, or a humantime duration before `now`.
pub(crate) fn parse_time(raw: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Some(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(at.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|at| at.and_utc());
    }
    let ago = humantime::parse_duration(raw).ok()?;
    now.checked_sub_signed(TimeDelta::from_std(ago).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> (JobQuery, Vec<String>) {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        JobQuery::parse(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
                .unwrap()
                .to_utc(),
        )
    }

    #[test]
    fn every_time_form_an_operator_types_is_understood() {
        let now = DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |s| parse_time(s, now).map(|t| t.to_rfc3339());
        assert_eq!(
            at("2025-01-31T14:00:00+09:00").unwrap(),
            "2025-01-31T05:00:00+00:00"
        );
        assert_eq!(at("2025-01-31 14:00").unwrap(), "2025-01-31T14:00:00+00:00");
        assert_eq!(at("2025-01-31T14:00").unwrap(), "2025-01-31T14:00:00+00:00");
        assert_eq!(at("2025-01-31").unwrap(), "2025-01-31T00:00:00+00:00");
        assert_eq!(at("2h").unwrap(), "2025-06-01T10:00:00+00:00");
        assert_eq!(at("yesterday"), None);
    }

    #[test]
    fn bad_values_are_named_and_good_ones_kept() {
        let (query, errors) = parse("status=done&name=mail&created_after=soon&limit=0&before=x");
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors[0].contains("`done`") && errors[0].contains("failed"),
            "{errors:?}"
        );
        assert!(errors[1].contains("Created after") && errors[1].contains("`soon`"));
        assert_eq!(query.name, "mail");
        assert_eq!(query.created_after.raw, "soon");
    }

    #[test]
    fn the_query_string_round_trips_the_criteria_as_typed() {
        let (query, errors) = parse("status=failed&text=a%20%3Cb%3E&created_after=2h&limit=20");
        assert!(errors.is_empty());
        let again = parse(&query.query_string(Some(JobId::from_i64(9)))).0;
        assert_eq!(again.text, "a <b>");
        assert_eq!(again.created_after.raw, "2h");
        assert_eq!(again.before, Some(JobId::from_i64(9)));
        assert_eq!(again.limit, 20);
        assert_eq!(again.to_filter(21).get_limit(), 21);
        assert!(!again.is_empty());
        assert!(parse("limit=20").0.is_empty());
    }
}
