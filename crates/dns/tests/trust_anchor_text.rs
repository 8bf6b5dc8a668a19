//! `check_trust_anchor_text`: the `--trust-anchor` parser without a
//! resolver (what the trust_anchor fuzz target drives).

use mailwarden_dns::live::{LiveError, check_trust_anchor_text};

/// KSK-2017's DS, as IANA publishes it.
const ROOT_DS: &str = ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";

#[test]
fn counts_the_anchors_of_valid_text() {
    assert_eq!(check_trust_anchor_text(ROOT_DS).unwrap(), 1);
    let two = format!("; comment\n{ROOT_DS}{ROOT_DS}");
    assert_eq!(check_trust_anchor_text(&two).unwrap(), 2);
}

#[test]
fn refuses_text_without_anchors_and_names_the_bad_line() {
    assert!(matches!(
        check_trust_anchor_text("; nothing\n"),
        Err(LiveError::EmptyAnchor { .. })
    ));
    let err = check_trust_anchor_text(&format!("{ROOT_DS}. IN DNSKEY 257 3 8 !!!\n")).unwrap_err();
    assert!(matches!(err, LiveError::AnchorSyntax { line: 2, .. }), "{err}");
}
