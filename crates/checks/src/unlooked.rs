//! "Could not look", typed: the question (name and type) and the status
//! that answered it instead of data. Judges turn these into
//! indeterminate findings, never into "missing" (see
//! [`mailwarden_model::Status::is_definite`]).

use std::fmt;

use mailwarden_model::{Answer, Outcome, RType, RawFinding, Status};
use serde::{Serialize, Serializer};

/// One lookup that could not be made. Evidence shows it as one string,
/// `name/TYPE status in words` (see its `Display`), as findings always
/// have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlooked {
    pub name: String,
    pub rtype: RType,
    pub status: Status,
}

impl Serialize for Unlooked {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Unlooked {
    pub fn new(name: &str, rtype: RType, status: &Status) -> Self {
        Self {
            name: name.to_string(),
            rtype,
            status: status.clone(),
        }
    }

    /// `Some` when `answer` (to `name`/`rtype`) is not a definite one.
    pub fn of(name: &str, rtype: RType, answer: &Answer) -> Option<Self> {
        (!answer.status.is_definite()).then(|| Self::new(name, rtype, &answer.status))
    }
}

/// `name/TYPE status`, as messages and string evidence show it.
impl fmt::Display for Unlooked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.name, self.rtype, self.status.describe())
    }
}

/// Several lookups that could not be made (never empty where it is an
/// error), shown joined by `; `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlookeds(pub Vec<Unlooked>);

impl fmt::Display for Unlookeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, u) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{u}")?;
        }
        Ok(())
    }
}

impl Serialize for Unlookeds {
    /// As one string, the way findings' evidence has always shown it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<Unlooked> for Unlookeds {
    fn from(u: Unlooked) -> Self {
        Self(vec![u])
    }
}

/// The `<protocol>.lookup-failed` finding: the one shape every judge's
/// "could not look" takes. A pass saying `answered` when nothing is
/// `listed`; else indeterminate, saying `says(listed)`, with `evidence`
/// under `key` (the failed lookups as strings, or SPF's objects).
pub(crate) fn lookup_failed<E: Serialize + ?Sized>(
    (id, subject): (&str, &str),
    answered: &str,
    listed: &[String],
    says: impl FnOnce(&[String]) -> String,
    (key, evidence): (&str, &E),
) -> RawFinding {
    if listed.is_empty() {
        return RawFinding::new(id, Outcome::Pass, subject, answered);
    }
    RawFinding::new(id, Outcome::Indeterminate, subject, says(listed)).evidence(key, evidence)
}

/// How most judges word it: `{n} {what} failed, so {consequence}:
/// {list}.`
pub(crate) fn counted<'a>(what: &'a str, consequence: &'a str) -> impl FnOnce(&[String]) -> String + 'a {
    move |listed| {
        format!(
            "{} {what} failed, so {consequence}: {}.",
            listed.len(),
            listed.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_name_type_status_and_joins_with_semicolons() {
        let one = Unlooked::new("mx.example.com", RType::A, &Status::Timeout);
        let two = Unlooked::new("mx.example.com", RType::Aaaa, &Status::ServFail);
        assert_eq!(
            one.to_string(),
            format!("mx.example.com/A {}", Status::Timeout.describe())
        );
        let both = Unlookeds(vec![one.clone(), two]);
        assert_eq!(
            both.to_string(),
            format!(
                "mx.example.com/A {}; mx.example.com/AAAA {}",
                Status::Timeout.describe(),
                Status::ServFail.describe()
            )
        );
        assert_eq!(
            serde_json::to_value(&both).unwrap(),
            serde_json::json!(both.to_string())
        );
        // Evidence keeps the one-string form findings have always shown.
        assert_eq!(serde_json::to_value(&one).unwrap(), serde_json::json!(one.to_string()));
    }

    #[test]
    fn only_indefinite_answers_are_unlooked() {
        use mailwarden_model::Proof;
        let nodata = Answer::empty(Status::NoData, Proof::NotValidated);
        let timeout = Answer::empty(Status::Timeout, Proof::Indeterminate);
        assert_eq!(Unlooked::of("a.test", RType::Txt, &nodata), None);
        assert!(Unlooked::of("a.test", RType::Txt, &timeout).is_some());
    }
}
