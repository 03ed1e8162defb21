//! The error a backend records when a lease expires under a worker.

/// The error recorded on a job (and its attempt) when `worker` stopped renewing
/// its lease and the job was taken back.
///
/// Every backend records the same text, whether it formats it in Rust or hands
/// `lease_expired_error("%s")` to the database as a template.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::lease_expired_error;
///
/// let error = lease_expired_error("host-1:42");
/// assert!(error.starts_with("lease expired: worker `host-1:42`"));
/// ```
pub fn lease_expired_error(worker: &str) -> String {
    format!(
        "lease expired: worker `{worker}` stopped renewing it (crashed or lost its database connection)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_expired_error_names_the_worker_and_the_likely_causes() {
        assert_eq!(
            lease_expired_error("host-1:42"),
            "lease expired: worker `host-1:42` stopped renewing it \
             (crashed or lost its database connection)"
        );
    }

    #[test]
    fn lease_expired_error_can_be_a_database_template() {
        let template = lease_expired_error("%s");
        assert_eq!(template.replace("%s", "w"), lease_expired_error("w"));
    }
}
