//! The HTTP status that tells a sender what `import()` decided (pure).
//!
//! An RFC 8460 sender takes a 2xx answer as delivered and may retry
//! otherwise (§5.4, §5.5): a report is answered 201 when stored now, 200
//! when it was already stored (a retry of a delivery whose answer was lost
//! must not look like a failure), and 422 when it was rejected, which a
//! retry will not change.

use axum::http::StatusCode;
use mailwarden_ingest::{Outcome, Status};

pub fn status(outcomes: &[Outcome]) -> StatusCode {
    if outcomes.iter().any(|o| o.status == Status::Rejected) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if outcomes.iter().any(|o| o.status == Status::Imported) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: Status) -> Outcome {
        Outcome {
            file: "f".into(),
            status,
            kind: None,
            records: None,
            id: None,
            reason: None,
            detail: None,
            position: None,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn created_ok_or_unprocessable() {
        use Status::*;
        assert_eq!(status(&[outcome(Imported)]), StatusCode::CREATED);
        assert_eq!(status(&[outcome(Duplicate), outcome(Imported)]), StatusCode::CREATED);
        assert_eq!(status(&[outcome(Duplicate)]), StatusCode::OK);
        assert_eq!(
            status(&[outcome(Imported), outcome(Rejected)]),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
