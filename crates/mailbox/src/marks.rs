//! How a processed message is marked so it is never read twice, decided
//! from what the folder allows (pure; the session applies it).
//!
//! A message is marked only after its reports are stored: marking first
//! and crashing would lose the reports, storing first and crashing only
//! means the next run reads the message again and the store's duplicate
//! rule keeps its reports single.

/// The keyword of a message whose reports are all stored.
pub const IMPORTED: &str = "$MailwardenImported";
/// The keyword of a message with a part that was rejected (left in the
/// folder for a person to look at, never retried).
pub const REJECTED: &str = "$MailwardenRejected";

/// What became of a message's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Every report it carries is stored (imported now, or a duplicate).
    Stored,
    /// At least one part was rejected (the others, if any, are stored).
    Rejected,
}

/// How messages are marked in a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Keywords (RFC 3501 §2.3.2 "keyword"): the folder's PERMANENTFLAGS
    /// include `\*`, "it is possible to create new keywords by attempting
    /// to store those flags in the mailbox" (RFC 3501 §7.1).
    Keywords,
    /// Servers without keywords (Exchange): `\Seen` marks a processed
    /// message, so a message someone read before the first run is skipped.
    Seen,
}

impl Scheme {
    /// `may_create_keywords`: PERMANENTFLAGS holds `\*`.
    pub fn for_folder(may_create_keywords: bool) -> Scheme {
        if may_create_keywords {
            Scheme::Keywords
        } else {
            Scheme::Seen
        }
    }

    /// The UID SEARCH criteria of messages not yet processed.
    pub fn unprocessed(self) -> String {
        match self {
            Scheme::Keywords => format!("UNKEYWORD {IMPORTED} UNKEYWORD {REJECTED}"),
            Scheme::Seen => "UNSEEN".to_string(),
        }
    }

    /// The flag list added (`+FLAGS`) to a processed message left in place.
    pub fn flags(self, disposition: Disposition) -> String {
        match (self, disposition) {
            (Scheme::Keywords, Disposition::Stored) => format!("(\\Seen {IMPORTED})"),
            (Scheme::Keywords, Disposition::Rejected) => format!("(\\Flagged {REJECTED})"),
            (Scheme::Seen, Disposition::Stored) => "(\\Seen)".to_string(),
            (Scheme::Seen, Disposition::Rejected) => "(\\Seen \\Flagged)".to_string(),
        }
    }
}

/// What to do with a processed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Add these flags (`UID STORE uid +FLAGS ...`) and leave it.
    Flag(String),
    /// Move it to the folder (wire name), stored reports only.
    Move(String),
}

/// Stored messages go to `move_to` when given; rejected ones stay, flagged.
pub fn action(scheme: Scheme, disposition: Disposition, move_to: Option<&str>) -> Action {
    match (disposition, move_to) {
        (Disposition::Stored, Some(folder)) => Action::Move(folder.to_string()),
        _ => Action::Flag(scheme.flags(disposition)),
    }
}

/// A UID set (RFC 3501 §9 "sequence-set") of sorted, distinct UIDs with
/// runs folded: `1:3,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.saturating_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_when_the_folder_allows_them_else_seen() {
        assert_eq!(Scheme::for_folder(true), Scheme::Keywords);
        assert_eq!(Scheme::for_folder(false), Scheme::Seen);
        assert_eq!(
            Scheme::Keywords.unprocessed(),
            "UNKEYWORD $MailwardenImported UNKEYWORD $MailwardenRejected"
        );
        assert_eq!(Scheme::Seen.unprocessed(), "UNSEEN");
    }

    #[test]
    fn stored_messages_move_rejected_ones_stay_flagged() {
        let s = Scheme::Keywords;
        assert_eq!(
            action(s, Disposition::Stored, Some("Done")),
            Action::Move("Done".into())
        );
        assert_eq!(
            action(s, Disposition::Rejected, Some("Done")),
            Action::Flag("(\\Flagged $MailwardenRejected)".into())
        );
        assert_eq!(
            action(s, Disposition::Stored, None),
            Action::Flag("(\\Seen $MailwardenImported)".into())
        );
        assert_eq!(
            action(Scheme::Seen, Disposition::Rejected, None),
            Action::Flag("(\\Seen \\Flagged)".into())
        );
    }

    #[test]
    fn every_mark_excludes_the_message_from_the_next_search() {
        // A marked message must not match `unprocessed()` again, or a run
        // would import it twice (harmless) and loop on rejects (not).
        for scheme in [Scheme::Keywords, Scheme::Seen] {
            for d in [Disposition::Stored, Disposition::Rejected] {
                let flags = scheme.flags(d);
                let excluded = match scheme {
                    Scheme::Keywords => flags.contains(IMPORTED) || flags.contains(REJECTED),
                    Scheme::Seen => flags.contains("\\Seen"),
                };
                assert!(excluded, "{scheme:?} {d:?}: {flags}");
            }
        }
    }

    #[test]
    fn uid_sets_fold_runs() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), "4294967294:4294967295");
    }
}
