//! DKIM selectors remembered from messages, on every backend available
//! (SQLite always; PostgreSQL when MAILWARDEN_TEST_PG_URL is set).

mod common;

use mailwarden_store::selectors::{MAX_PER_DOMAIN, by_domain, for_domain, list, remember};

fn pair(d: &str, s: &str) -> (String, String) {
    (d.to_string(), s.to_string())
}

#[tokio::test]
async fn selectors_are_remembered_once_per_domain_with_first_and_last_seen() {
    for db in common::stores().await {
        let store = &db.store;
        let n = remember(store, &[pair("Example.ORG.", "S1"), pair("example.net", "mw")])
            .await
            .unwrap();
        assert_eq!(n, 2, "{}", db.label);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        remember(store, &[pair("example.org", "s1"), pair("example.org", "s2")])
            .await
            .unwrap();
        let all = list(store).await.unwrap();
        let rows: Vec<(&str, &str, i64)> = all
            .iter()
            .map(|r| (r.domain.as_str(), r.selector.as_str(), r.seen_count))
            .collect();
        assert_eq!(
            rows,
            [
                ("example.net", "mw", 1),
                ("example.org", "s1", 2),
                ("example.org", "s2", 1)
            ],
            "{}",
            db.label
        );
        let s1 = &all[1];
        assert!(s1.first_seen < s1.last_seen, "{}: {s1:?}", db.label);
        // Most recently seen first.
        let mut got = for_domain(store, "EXAMPLE.org").await.unwrap();
        got.sort();
        assert_eq!(got, ["s1", "s2"], "{}", db.label);
        assert!(for_domain(store, "example.com").await.unwrap().is_empty());
    }
}

/// A hostile message's selector must not reach a later scan's
/// `--dkim-selector` validation, which would refuse the whole scan.
#[tokio::test]
async fn malformed_selectors_from_hostile_messages_are_not_remembered() {
    for db in common::stores().await {
        let store = &db.store;
        let n = remember(
            store,
            &[
                pair("example.org", "a b"),
                pair("example.org", "x\u{1b}[2J"),
                pair("exa mple.org", "s1"),
                pair("example.org", ""),
                pair("example.org", "ok-1"),
            ],
        )
        .await
        .unwrap();
        assert_eq!(n, 1, "{}", db.label);
        assert_eq!(for_domain(store, "example.org").await.unwrap(), ["ok-1"]);
    }
}

#[tokio::test]
async fn a_scan_asks_at_most_the_most_recent_remembered_selectors() {
    for db in common::stores().await {
        let store = &db.store;
        let many: Vec<_> = (0..MAX_PER_DOMAIN + 4)
            .map(|i| pair("example.org", &format!("s{i}")))
            .collect();
        remember(store, &many).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        remember(store, &[pair("example.org", "zz-new")]).await.unwrap();
        let asked = for_domain(store, "example.org").await.unwrap();
        assert_eq!(asked.len() as i64, MAX_PER_DOMAIN, "{}", db.label);
        assert_eq!(asked[0], "zz-new", "the latest first: {}", db.label);
        // `monitor run` reads every domain's at once: the same lists.
        remember(store, &[pair("Other.example", "o1")]).await.unwrap();
        let all = by_domain(store).await.unwrap();
        assert_eq!(all.get("EXAMPLE.org."), asked, "{}", db.label);
        assert_eq!(all.get("other.example"), ["o1"], "{}", db.label);
        assert!(all.get("example.com").is_empty());
    }
}

/// Caught at the merge: `erase DOMAIN` left the selectors remembered from
/// the domain's messages behind (GDPR Art. 17 asks for every row).
#[tokio::test]
async fn erase_removes_the_selectors_remembered_for_the_domain_only() {
    for db in common::stores().await {
        let store = &db.store;
        remember(store, &[pair("erased.example", "s1"), pair("kept.example", "s1")])
            .await
            .unwrap();
        let receipt = mailwarden_store::retention::erase(store, "erased.example")
            .await
            .unwrap();
        assert_eq!(receipt.selectors, 1, "{}", db.label);
        assert!(
            for_domain(store, "erased.example").await.unwrap().is_empty(),
            "{}",
            db.label
        );
        assert_eq!(for_domain(store, "kept.example").await.unwrap(), ["s1"], "{}", db.label);
    }
}
