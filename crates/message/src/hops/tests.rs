use super::*;
use crate::header;

fn hop(value: &str) -> Hop {
    parse_received(1, 0, value)
}

#[test]
fn postfix_with_tls_comment() {
    let h = hop(
        "from mail.example.org (mail.example.org [192.0.2.10]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519) (No client certificate requested) by mx.example.net (Postfix) with ESMTPS id 4ABC for <a@example.net>; Mon, 1 Jan 2024 10:00:05 +0000 (UTC)",
    );
    assert_eq!(h.from.as_deref(), Some("mail.example.org"));
    assert_eq!(h.from_rdns.as_deref(), Some("mail.example.org"));
    assert_eq!(h.from_ip, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(h.by.as_deref(), Some("mx.example.net"));
    assert_eq!(h.with.as_deref(), Some("ESMTPS"));
    assert_eq!(h.transport, Transport::Tls);
    assert_eq!(h.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(h.tls_cipher.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(h.time.as_deref(), Some("2024-01-01T10:00:05Z"));
}

#[test]
fn plain_esmtp_from_a_remote_address_is_plain() {
    let h = hop(
        "from relay.example (relay.example [198.51.100.7]) by mx.example.net (Postfix) with ESMTP id 1; Tue, 2 Jan 2024 08:00:00 -0500",
    );
    assert_eq!(h.transport, Transport::Plain);
    assert_eq!(h.tls_version, None);
    assert_eq!(h.time.as_deref(), Some("2024-01-02T13:00:00Z"));
}

#[test]
fn exim_records_tls_version_and_cipher_and_envelope_sender() {
    let h = hop(
        "from [203.0.113.5] (helo=client.example) by mx.example with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <bounce@example.org>) id 1rA-000 for x@example; Wed, 03 Jan 2024 12:00:00 +0100",
    );
    assert_eq!(h.from.as_deref(), Some("client.example"));
    assert_eq!(h.from_ip, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(h.transport, Transport::Tls);
    assert_eq!(h.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(h.tls_cipher.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(h.envelope_from.as_deref(), Some("bounce@example.org"));
}

#[test]
fn sendmail_and_microsoft_tls_comments() {
    let s = hop(
        "from c.example (c.example [192.0.2.1]) by m.example (8.15.2/8.15.2) with ESMTP id x (version=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 verify=NOT) for <a@b>; Thu, 4 Jan 2024 00:00:00 GMT",
    );
    assert_eq!(s.transport, Transport::Tls, "the TLS comment wins over plain ESMTP");
    assert_eq!(s.tls_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(s.tls_cipher.as_deref(), Some("ECDHE-RSA-AES256-GCM-SHA384"));
    assert!(s.time.is_some(), "GMT zone parses");
    let m = hop(
        "from AM0PR01.eurprd01.prod.outlook.com (2603:10a6:208:1::10) by AM0PR02.eurprd01.prod.outlook.com (2603:10a6:208:2::20) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.1; Fri, 5 Jan 2024 09:00:00 +0000",
    );
    assert_eq!(m.from_ip, Some("2603:10a6:208:1::10".parse().unwrap()));
    assert_eq!(m.tls_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(m.transport, Transport::Tls);
}

#[test]
fn loopback_and_local_hops_are_local() {
    let amavis = hop(
        "from localhost (localhost [127.0.0.1]) by mx.example (Postfix) with ESMTP id 2; Mon, 1 Jan 2024 10:00:00 +0000",
    );
    assert_eq!(amavis.transport, Transport::Local);
    let pickup = hop("by mail.example (Postfix, from userid 1000) id 3; Mon, 1 Jan 2024 10:00:00 +0000");
    assert_eq!(pickup.transport, Transport::Local);
    let http = hop("from 10.1.2.3 by smtp.example with HTTP; Mon, 1 Jan 2024 10:00:00 +0000");
    assert_eq!(http.transport, Transport::Unknown);
    // amavis: the original client recorded, but handed over on one machine.
    let filter = hop(
        "from mail.ietf.org ([50.223.129.194]) by localhost (ietfa.amsl.com [127.0.0.1]) (amavisd-new, port 10024) with ESMTP id C2B for <a@b>; Mon,  7 Nov 2022 23:51:05 -0800 (PST)",
    );
    assert_eq!(filter.from_ip, Some("50.223.129.194".parse().unwrap()));
    assert_eq!(filter.transport, Transport::Local);
    // A provider's internal stage: no client at all.
    let internal = hop("by 2002:adf:b343:0:0:0:0:0 with SMTP id k3csp2230702wrd; Mon, 7 Nov 2022 23:51:18 -0800 (PST)");
    assert_eq!(internal.transport, Transport::Local);
}

#[test]
fn path_orders_first_hop_first_and_computes_delays() {
    let raw = b"Received: from b (b [192.0.2.2]) by c with ESMTP; Mon, 1 Jan 2024 10:02:00 +0000\r\n\
Received: from a (a [192.0.2.1]) by b with ESMTPS; Mon, 1 Jan 2024 10:00:30 +0000\r\n\
Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n";
    let p = path(&header::parse(raw));
    assert_eq!(p.hops.len(), 2);
    assert_eq!(p.hops[0].by.as_deref(), Some("b"));
    assert_eq!(p.hops[0].delay_secs, Some(30), "from the Date header");
    assert_eq!(p.hops[1].delay_secs, Some(90));
    assert_eq!(p.hops[1].number, 2);
}

#[test]
fn ten_thousand_received_fields_are_bounded() {
    let mut raw = Vec::new();
    for i in 0..10_000 {
        raw.extend(
            format!(
                "Received: from h{i} by h{} with ESMTP; Mon, 1 Jan 2024 10:00:00 +0000\r\n",
                i + 1
            )
            .into_bytes(),
        );
    }
    raw.extend(b"\r\nbody");
    let p = path(&header::parse(&raw));
    assert_eq!(p.received_fields, 10_000);
    assert_eq!(p.hops.len(), MAX_HOPS);
    assert_eq!(p.dropped, 10_000 - MAX_HOPS);
}

#[test]
fn garbage_received_values_do_not_panic() {
    for v in [
        "",
        ";",
        "(((",
        ")))",
        "from",
        "from (",
        "by [",
        "with ((a) b",
        "from [IPv6:::1",
        "\u{202e}; x",
        "; Mon, 99 Foo 2024",
    ] {
        let h = hop(v);
        assert_eq!(h.raw, v);
    }
}

#[test]
fn dates_with_single_digit_days_and_comments_parse() {
    assert!(parse_date("Mon, 1 Jan 2024 10:00:00 +0000 (UTC)").is_some());
    assert!(parse_date("1 Jan 2024 10:00:00 -0800").is_some());
    assert!(parse_date("not a date").is_none());
}
