//! `verify` names the first entry that was altered, deleted, inserted or
//! reordered, and a truncation or fork against a checkpoint; erasure and
//! expiry of contents keep it green.

use mailwarden_audit::{
    Checkpoint, Frontier, LogKey, NewEntry, StoredEntry, Tamper, append, canonical_json, content_digest, verify,
};
use serde_json::json;

fn key() -> LogKey {
    LogKey::from_seed([42; 32])
}

/// A log of `n` events as the store would keep it.
fn log(key: &LogKey, n: u64) -> Vec<StoredEntry> {
    let mut frontier = Frontier::default();
    (1..=n)
        .map(|i| stored(key, &mut frontier, i, &json!({"snapshot": i, "records": ["a", "b"]})))
        .collect()
}

fn stored(key: &LogKey, frontier: &mut Frontier, i: u64, content: &serde_json::Value) -> StoredEntry {
    let at = format!("2026-12-06T03:{:02}:00Z", i % 60);
    let domain = format!("d{}.example", i % 3);
    let salt = [i as u8; 16];
    let new = NewEntry {
        at: &at,
        kind: "snapshot-stored",
        domain: Some(&domain),
        content,
        salt,
    };
    let a = append(frontier, key, &new, 1_700_000_000_000 + i);
    StoredEntry {
        seq: a.seq,
        at,
        kind: "snapshot-stored".into(),
        domain: Some(domain),
        content: Some(a.content_text),
        salt: Some(salt.to_vec()),
        domain_digest: a.domain_digest.to_vec(),
        content_digest: a.content_digest.to_vec(),
        leaf_hash: a.leaf_hash.to_vec(),
        head_timestamp_ms: a.sth.head.timestamp_ms,
        head_signature: a.sth.signature.to_vec(),
    }
}

fn checkpoint(key: &LogKey, entries: &[StoredEntry]) -> Checkpoint {
    let verified = verify(entries, &key.public(), None).unwrap();
    Checkpoint {
        sth: verified.latest.unwrap(),
        public_key: key.public(),
    }
}

fn problem(key: &LogKey, entries: &[StoredEntry]) -> Tamper {
    verify(entries, &key.public(), None).unwrap_err()
}

fn frontier_of(entries: &[StoredEntry]) -> Frontier {
    let mut frontier = Frontier::default();
    for e in entries {
        frontier.push(e.leaf_hash.clone().try_into().unwrap());
    }
    frontier
}

fn renumber(entries: &mut [StoredEntry]) {
    for (i, e) in entries.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
    }
}

#[test]
fn an_untouched_log_verifies_and_every_content_is_checked() {
    let k = key();
    let entries = log(&k, 20);
    let v = verify(&entries, &k.public(), None).unwrap();
    assert_eq!((v.size, v.contents_checked), (20, 20));
    assert_eq!(v.latest.unwrap().head.tree_size, 20);
    assert_eq!(
        v.root,
        mailwarden_audit::root(
            &entries
                .iter()
                .map(|e| e.leaf_hash.clone().try_into().unwrap())
                .collect::<Vec<_>>()
        )
    );
    assert!(verify(&[], &k.public(), None).is_ok());
}

#[test]
fn edited_content_is_named() {
    let k = key();
    let mut entries = log(&k, 10);
    entries[6].content = Some(r#"{"records":["a","b"],"snapshot":99}"#.into());
    let err = problem(&k, &entries);
    assert!(matches!(err, Tamper::Altered { seq: 7, .. }), "{err}");
    assert!(err.to_string().contains("entry 7 was altered"), "{err}");
}

#[test]
fn edited_content_with_recomputed_digest_and_leaf_fails_on_the_signature() {
    let k = key();
    let mut entries = log(&k, 10);
    let e = &mut entries[4];
    let forged = json!({"snapshot": 0});
    let salt: [u8; 16] = e.salt.clone().unwrap().try_into().unwrap();
    e.content = Some(canonical_json(&forged));
    e.content_digest = content_digest(&salt, &forged).to_vec();
    let fields = mailwarden_audit::LeafFields {
        seq: 5,
        at: &e.at,
        kind: &e.kind,
        domain_digest: e.domain_digest.clone().try_into().unwrap(),
        content_digest: e.content_digest.clone().try_into().unwrap(),
    };
    e.leaf_hash = fields.leaf_hash().to_vec();
    let err = problem(&k, &entries);
    assert!(matches!(err, Tamper::Altered { seq: 5, .. }), "{err}");
}

#[test]
fn edited_time_or_kind_is_named() {
    let k = key();
    let mut entries = log(&k, 6);
    entries[2].at = "2020-01-01T00:00:00Z".into();
    assert!(matches!(problem(&k, &entries), Tamper::Altered { seq: 3, .. }));
    let mut entries = log(&k, 6);
    entries[3].kind = "baseline-approved".into();
    assert!(matches!(problem(&k, &entries), Tamper::Altered { seq: 4, .. }));
}

#[test]
fn a_deleted_row_is_named_with_or_without_renumbering() {
    let k = key();
    let mut entries = log(&k, 10);
    entries.remove(3);
    let err = problem(&k, &entries);
    assert!(matches!(err, Tamper::Deleted { seq: 4, .. }), "{err}");
    renumber(&mut entries);
    let err = problem(&k, &entries);
    assert!(matches!(err, Tamper::Deleted { seq: 4, .. }), "{err}");
    let mut entries = log(&k, 10);
    entries.remove(0);
    assert!(matches!(problem(&k, &entries), Tamper::Deleted { seq: 1, .. }));
}

#[test]
fn swapped_rows_are_named_as_reordered() {
    let k = key();
    let mut entries = log(&k, 10);
    entries.swap(4, 5);
    renumber(&mut entries);
    let err = problem(&k, &entries);
    assert!(matches!(err, Tamper::Reordered { seq: 5, .. }), "{err}");
    assert!(err.to_string().contains("signed as entry 6"), "{err}");
}

#[test]
fn a_forged_row_inserted_in_the_middle_is_named() {
    let k = key();
    let mut entries = log(&k, 10);
    // The forger has no key: a self-consistent row signed by another one.
    let mut other_frontier = frontier_of(&entries[..3]);
    let forged = stored(
        &LogKey::from_seed([7; 32]),
        &mut other_frontier,
        4,
        &json!({"forged": true}),
    );
    entries.insert(3, forged);
    renumber(&mut entries);
    let err = problem(&k, &entries);
    assert!(matches!(err, Tamper::Inserted { seq: 4, .. }), "{err}");
}

#[test]
fn a_forged_row_appended_at_the_end_is_named() {
    let k = key();
    let mut entries = log(&k, 5);
    let mut frontier = frontier_of(&entries);
    entries.push(stored(&LogKey::from_seed([7; 32]), &mut frontier, 6, &json!({})));
    let err = problem(&k, &entries);
    assert_eq!(err.seq(), Some(6), "{err}");
}

#[test]
fn erasure_and_expiry_keep_the_log_green() {
    let k = key();
    let mut entries = log(&k, 12);
    // Erasure (GDPR Art. 17): domain, content and salt gone.
    for e in entries.iter_mut().filter(|e| e.domain.as_deref() == Some("d1.example")) {
        (e.domain, e.content, e.salt) = (None, None, None);
    }
    // Retention: content expired, domain kept.
    entries[0].content = None;
    let v = verify(&entries, &k.public(), None).unwrap();
    assert_eq!(v.size, 12);
    assert!(v.contents_checked < 12);
}

#[test]
fn content_kept_without_its_salt_is_refused() {
    let k = key();
    let mut entries = log(&k, 4);
    entries[1].salt = None;
    assert!(matches!(problem(&k, &entries), Tamper::Altered { seq: 2, .. }));
}

#[test]
fn a_domain_edited_after_its_content_expired_is_still_caught() {
    let k = key();
    let mut entries = log(&k, 4);
    entries[2].content = None;
    entries[2].domain = Some("elsewhere.example".into());
    assert!(matches!(problem(&k, &entries), Tamper::Altered { seq: 3, .. }));
}

#[test]
fn reordered_json_keys_are_not_tampering() {
    // PostgreSQL jsonb returns keys in its own order.
    let k = key();
    let mut entries = log(&k, 3);
    entries[1].content = Some(r#"{ "snapshot": 2, "records": ["a","b"] }"#.into());
    assert!(verify(&entries, &k.public(), None).is_ok());
}

#[test]
fn truncation_since_a_checkpoint_is_named() {
    let k = key();
    let entries = log(&k, 10);
    let cp = checkpoint(&k, &entries);
    assert!(verify(&entries, &k.public(), Some(&cp)).is_ok());
    let err = verify(&entries[..7], &k.public(), Some(&cp)).unwrap_err();
    assert_eq!(
        err,
        Tamper::Truncated {
            log_size: 7,
            checkpoint_size: 10
        }
    );
    assert!(err.to_string().contains("entries 8 to 10 were deleted"), "{err}");
}

#[test]
fn a_log_that_grew_since_the_checkpoint_verifies() {
    let k = key();
    let entries = log(&k, 10);
    let cp = checkpoint(&k, &entries[..6]);
    assert!(verify(&entries, &k.public(), Some(&cp)).is_ok());
}

#[test]
fn a_fork_since_the_checkpoint_is_named() {
    // The whole log rebuilt with the key (e.g. an old backup restored and
    // extended): every head verifies, but not the checkpointed tree.
    let k = key();
    let cp = checkpoint(&k, &log(&k, 8));
    let mut frontier = Frontier::default();
    let rebuilt: Vec<StoredEntry> = (1..=9)
        .map(|i| stored(&k, &mut frontier, i, &json!({"other": i})))
        .collect();
    assert_eq!(
        verify(&rebuilt, &k.public(), Some(&cp)).unwrap_err(),
        Tamper::Forked { size: 8 }
    );
}

#[test]
fn a_checkpoint_of_another_log_key_is_refused() {
    let k = key();
    let other = LogKey::from_seed([9; 32]);
    let cp = checkpoint(&other, &log(&other, 3));
    assert_eq!(
        verify(&log(&k, 3), &k.public(), Some(&cp)).unwrap_err(),
        Tamper::ForeignCheckpoint
    );
}

#[test]
fn the_first_of_several_problems_is_the_one_named() {
    let k = key();
    let mut entries = log(&k, 10);
    entries[8].content = Some("{}".into());
    entries[2].kind = "erasure".into();
    assert_eq!(verify(&entries, &k.public(), None).unwrap_err().seq(), Some(3));
}
