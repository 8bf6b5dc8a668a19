//! Verdicts an audit is staked on, through the binary: a name that does
//! not exist is said once, and RFC 7208 §4.3's "none" for a malformed
//! domain is a result, not an error.

use crate::support::{findings, json, only_domain, run_args};

const EXAMPLE_ZONE: &str = "testdata/zones/example.com.zone";

/// `doesnotexist.test` got a full audit: advice to publish MX, SPF, DMARC
/// and DKIM, and "selectors tried: ." (an empty list).
#[test]
fn scan_of_a_nonexistent_domain_says_nxdomain_once_and_audits_nothing() {
    let (code, out, err) = run_args(&[
        "scan",
        "doesnotexist.example.com",
        "--zone-file",
        EXAMPLE_ZONE,
        "--format",
        "json",
    ]);
    assert_eq!(
        code, 1,
        "a high failure under the default --fail-on high; stderr: {err}"
    );
    let doc = json(&out);
    let all = findings(only_domain(&doc));
    assert_eq!(all.len(), 1, "{all:#?}");
    let f = &all[0];
    assert_eq!(f["id"], "dns.nxdomain");
    assert_eq!(f["outcome"], "fail");
    assert_eq!(f["severity"], "high");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("NXDOMAIN: the domain does not exist (typo?)"),
        "{f:#}"
    );
    let (_, text, _) = run_args(&["scan", "doesnotexist.example.com", "--zone-file", EXAMPLE_ZONE]);
    assert_eq!(text.matches("does not exist").count(), 1, "{text}");
    for advice in ["selectors tried", "IN MX", "v=spf1", "v=DMARC1", "v=DKIM1"] {
        assert!(!text.contains(advice), "{advice:?} in {text}");
    }
}

/// `spf check` exited 2 ("invalid domain name") where RFC 7208 §4.3
/// gives the result "none".
#[test]
fn spf_check_of_a_malformed_domain_or_domain_literal_is_none_with_the_reason() {
    let long_label = format!("{}.example.com", "a".repeat(64));
    let cases = [
        ("a..example.com", "has an empty label"),
        (long_label.as_str(), "has a label longer than 63 octets"),
        ("[1.2.3.5]", "is a domain literal"),
    ];
    for (domain, why) in cases {
        let (code, out, err) = spf_check(domain);
        assert_eq!(code, 0, "{domain}: exits as `none` does; stderr: {err}");
        let doc = json(&out);
        assert_eq!(doc["result"], "none", "{domain}: {doc:#}");
        assert_eq!(doc["queries"], 0, "{domain}: nothing to ask");
        let trace = doc["trace"].to_string();
        assert!(
            trace.contains(why) && trace.contains("RFC 7208 §4.3"),
            "{domain}: {trace}"
        );
    }
    // A well-formed name still goes to DNS.
    let (code, out, _) = spf_check("nothere.example.com");
    assert_eq!((code, json(&out)["queries"].as_u64()), (0, Some(1)));
}

/// `spf check DOMAIN --ip 1.2.3.5 --format json` over the example zone.
fn spf_check(domain: &str) -> (i32, String, String) {
    run_args(&[
        "spf",
        "check",
        domain,
        "--ip",
        "1.2.3.5",
        "--zone-file",
        EXAMPLE_ZONE,
        "--format",
        "json",
    ])
}
