use super::*;
use crate::{header, hops};

fn leaks_of(raw: &str) -> Vec<Leak> {
    let h = header::parse(raw.as_bytes());
    let p = hops::path(&h);
    let trusted = p.hops.len().checked_sub(1);
    find(&h, &p.hops, trusted)
}

fn rules(leaks: &[Leak]) -> Vec<&str> {
    leaks.iter().map(|l| l.rule).collect()
}

const BOUNDARY: &str = "Received: from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.net with ESMTPS; Mon, 1 Jan 2024 10:00:05 +0000\n";

#[test]
fn private_address_in_an_inner_received_is_a_leak() {
    let raw = format!(
        "{BOUNDARY}Received: from ws17.corp.example.org (ws17 [10.1.2.3]) by mail.example.org with ESMTPSA; Mon, 1 Jan 2024 10:00:00 +0000\n\n"
    );
    let l = leaks_of(&raw);
    assert!(
        l.iter()
            .any(|l| l.rule == "message.received-private-address" && l.value == "10.1.2.3" && l.hop == Some(1)),
        "{l:?}"
    );
}

#[test]
fn public_addresses_and_loopback_are_not_leaks() {
    let raw = format!(
        "{BOUNDARY}Received: from localhost (localhost [127.0.0.1]) by mail.example.org with ESMTP; Mon, 1 Jan 2024 10:00:00 +0000\nReceived: from client.example.com (client.example.com [198.51.100.9]) by mail.example.org with ESMTPSA; Mon, 1 Jan 2024 09:59:00 +0000\n\n"
    );
    assert!(leaks_of(&raw).is_empty(), "{:?}", leaks_of(&raw));
}

#[test]
fn the_receivers_own_received_fields_are_not_the_senders_leaks() {
    // Above the boundary: the receiving side's internal hop.
    let raw = format!(
        "Received: from int (int [10.9.9.9]) by store.example.net with LMTP; Mon, 1 Jan 2024 10:00:06 +0000\n{BOUNDARY}\n"
    );
    let h = header::parse(raw.as_bytes());
    let p = hops::path(&h);
    // Trust the hop written by mx.example.net (hop 1 of 2).
    assert!(find(&h, &p.hops, Some(0)).is_empty());
    // Trusting the topmost instead, the boundary hop's EHLO name is checked but its address not.
    assert!(rules(&find(&h, &p.hops, Some(1))).contains(&"message.received-internal-name"));
}

#[test]
fn internal_host_names_in_received() {
    let raw = format!(
        "{BOUNDARY}Received: from exch01.ad.corp by mail.example.org with ESMTP; Mon, 1 Jan 2024 10:00:00 +0000\n\n"
    );
    assert!(rules(&leaks_of(&raw)).contains(&"message.received-internal-name"));
    assert!(internal_name("fileserver").is_some());
    assert!(internal_name("mx1.example.lan").is_some());
    assert!(internal_name("mail.example.org").is_none());
    assert!(internal_name("localhost").is_none());
    assert!(internal_name("[10.0.0.1]").is_none());
}

#[test]
fn originating_ip_is_a_leak_and_its_absence_is_not() {
    let raw = format!("{BOUNDARY}X-Originating-IP: [198.51.100.23]\n\n");
    let l = leaks_of(&raw);
    assert_eq!(rules(&l), ["message.originating-ip"]);
    assert!(l[0].why.contains("client address"), "{}", l[0].why);
    assert!(leaks_of(&format!("{BOUNDARY}X-Originating-IP: none\n\n")).is_empty());
}

#[test]
fn client_software_with_a_version_is_a_leak_without_one_not() {
    let with = format!(
        "{BOUNDARY}User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0\n\n"
    );
    assert_eq!(rules(&leaks_of(&with)), ["message.client-software"]);
    let mailer = format!("{BOUNDARY}X-Mailer: PHPMailer 6.8.0 (https://github.com/PHPMailer/PHPMailer)\n\n");
    assert_eq!(rules(&leaks_of(&mailer)), ["message.client-software"]);
    let without = format!("{BOUNDARY}X-Mailer: Webmail\n\n");
    assert!(leaks_of(&without).is_empty());
}

#[test]
fn message_id_with_an_internal_host() {
    let bad = format!("{BOUNDARY}Message-ID: <20240101.1234@laptop-jdoe.local>\n\n");
    assert_eq!(rules(&leaks_of(&bad)), ["message.message-id-host"]);
    let literal = format!("{BOUNDARY}Message-ID: <abc@[192.168.1.5]>\n\n");
    assert_eq!(rules(&leaks_of(&literal)), ["message.message-id-host"]);
    let good = format!("{BOUNDARY}Message-ID: <20240101.1234@mail.example.org>\n\n");
    assert!(leaks_of(&good).is_empty());
}

#[test]
fn internal_headers_from_the_data_file() {
    let raw = format!("{BOUNDARY}X-PHP-Originating-Script: 1000:contact.php\n\n");
    assert_eq!(rules(&leaks_of(&raw)), ["message.internal-header"]);
    assert!(leaky_headers().len() >= 8);
}

#[test]
fn address_classes() {
    for (ip, internal) in [
        ("10.0.0.1", true),
        ("172.31.255.1", true),
        ("172.32.0.1", false),
        ("100.64.0.1", true),
        ("169.254.1.1", true),
        ("fd00::1", true),
        ("fe80::1", true),
        ("::ffff:192.168.0.1", true),
        ("127.0.0.1", false),
        ("192.0.2.1", false),
        ("2001:db8::1", false),
    ] {
        assert_eq!(internal_address(ip.parse().unwrap()).is_some(), internal, "{ip}");
    }
}
