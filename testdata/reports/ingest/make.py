#!/usr/bin/env python3
"""Regenerate the report test corpus (all reports here are made up by us;
IP addresses from documentation ranges, domains under example.*).
Run from this directory: python3 make.py. Output is deterministic."""
import gzip, io, os, zipfile, base64

def w(name, data):
    if isinstance(data, str):
        data = data.encode()
    os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
    with open(name, "wb") as f:
        f.write(data)

def gz(data):
    if isinstance(data, str):
        data = data.encode()
    return gzip.compress(data, 9, mtime=0)

def zipped(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 12, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()

DAY = 1796083200  # 2026-12-01T00:00:00Z

def record(ip, count, disp="none", dkim="pass", spf="pass", hfrom="example.com",
           dkim_auth=("example.com", "s1", "pass"), spf_auth=("example.com", "mfrom", "pass")):
    d = ""
    if dkim_auth:
        d = f"<dkim><domain>{dkim_auth[0]}</domain><selector>{dkim_auth[1]}</selector><result>{dkim_auth[2]}</result></dkim>"
    s = f"<spf><domain>{spf_auth[0]}</domain><scope>{spf_auth[1]}</scope><result>{spf_auth[2]}</result></spf>"
    return f"""  <record>
    <row>
      <source_ip>{ip}</source_ip>
      <count>{count}</count>
      <policy_evaluated><disposition>{disp}</disposition><dkim>{dkim}</dkim><spf>{spf}</spf></policy_evaluated>
    </row>
    <identifiers><envelope_from>{spf_auth[0]}</envelope_from><header_from>{hfrom}</header_from></identifiers>
    <auth_results>{d}{s}</auth_results>
  </record>
"""

def agg7489(org, rid, begin, end, records, ns=False, version="1.0"):
    xmlns = ' xmlns="http://dmarc.org/dmarc-xml/0.1"' if ns else ""
    v = f"<version>{version}</version>" if version else ""
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<feedback{xmlns}>
  {v}
  <report_metadata>
    <org_name>{org}</org_name>
    <email>noreply-dmarc-support@{org}</email>
    <report_id>{rid}</report_id>
    <date_range><begin>{begin}</begin><end>{end}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct><fo>0</fo>
  </policy_published>
{''.join(records)}</feedback>
"""

GOOGLE = agg7489("google.com", "11820977418447195735", DAY, DAY + 86399, [
    record("192.0.2.10", 12),
    record("198.51.100.7", 3, dkim="fail", spf="fail", dkim_auth=None, spf_auth=("bounce.example.net", "mfrom", "softfail")),
    record("2001:db8::25", 1),
])
w("agg-7489-google.xml", GOOGLE)
w("agg-7489-google.xml.gz", gz(GOOGLE))
w("agg-7489-ns-yahoo.zip", zipped([("yahoo.com!example.com!1796083200!1796169599.xml",
    agg7489("Yahoo", "1796083200.554433", DAY, DAY + 86399, [record("203.0.113.5", 40), record("203.0.113.6", 2)], ns=True))]))
w("agg-7489-same-id-other-range.xml",
  agg7489("google.com", "11820977418447195735", DAY + 86400, DAY + 2 * 86400 - 1, [record("192.0.2.10", 5)]))
w("agg-empty-records.xml", agg7489("mail.example.org", "empty-1", DAY, DAY + 86399, []))

GMX = f"""<?xml version="1.0" encoding="UTF-8"?>
<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">
  <version>1.0</version>
  <report_metadata>
    <org_name>GMX</org_name>
    <email>dmarc_agg@gmx.example</email>
    <report_id>a1b2c3d4e5</report_id>
    <date_range><begin>{DAY}</begin><end>{DAY + 86399}</end></date_range>
    <generator>GMX DMARC reporter 2.1</generator>
  </report_metadata>
  <policy_published>
    <domain>example.com</domain><p>quarantine</p><sp>reject</sp><np>reject</np>
    <adkim>s</adkim><aspf>r</aspf><testing>n</testing><discovery_method>treewalk</discovery_method>
  </policy_published>
  <extension><x:arrival xmlns:x="urn:example:ext">local</x:arrival></extension>
  <record>
    <row><source_ip>192.0.2.10</source_ip><count>7</count>
      <policy_evaluated><disposition>pass</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim>
      <spf><domain>example.com</domain><result>pass</result></spf></auth_results>
    <y:note xmlns:y="urn:example:ext2">ignored extension</y:note>
  </record>
  <record>
    <row><source_ip>198.51.100.99</source_ip><count>1</count>
      <policy_evaluated><disposition>quarantine</disposition><dkim>fail</dkim><spf>fail</spf>
        <reason><type>policy_test_mode</type><comment>testing</comment></reason></policy_evaluated></row>
    <identifiers><envelope_from>spoof.example</envelope_from><header_from>example.com</header_from></identifiers>
    <auth_results><spf><domain>spoof.example</domain><scope>mfrom</scope><result>fail</result></spf></auth_results>
  </record>
</feedback>
"""
w("agg-9990-gmx.xml", GMX)

QUIRKS = agg7489("Outlook.example", "quirk-7", f"{DAY}.0", f"{DAY + 86399}.0", [
    record("192.0.2.44", 2, disp="None", dkim="Pass", spf="Fail",
           spf_auth=("example.com", "mfrom", "SoftFail")),
], version=None)
w("agg-quirks-capitalised.xml", QUIRKS)

# Hostile and broken inputs.
w("hostile-doctype-xxe.xml", '<?xml version="1.0"?>\n<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>\n')
w("hostile-billion-laughs.xml", '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
  ''.join(f'<!ENTITY lol{i} "' + f'&lol{i-1};' * 10 + '">' for i in range(3, 10)) + ']>\n<feedback>&lol9;</feedback>\n')
w("hostile-undeclared-entity.xml", GOOGLE.replace("google.com</org_name>", "&ext;</org_name>"))
w("hostile-truncated.xml", GOOGLE[: len(GOOGLE) // 2])
w("hostile-wrong-namespace.xml", GOOGLE.replace("<feedback>", '<feedback xmlns="urn:example:not-dmarc">'))
w("hostile-huge-count.xml", GOOGLE.replace("<count>12</count>", "<count>184467440737095516160</count>"))
w("hostile-negative-date.xml", GOOGLE.replace(f"<begin>{DAY}</begin>", "<begin>-5</begin>"))
w("hostile-non-utf8.xml", GOOGLE.encode().replace(b"google.com</org_name>", b"g\xf6\xf6gle.com</org_name>"))
w("hostile-deep-nesting.xml", "<feedback>" + "<a>" * 100 + "</a>" * 100 + "</feedback>")
w("hostile-not-feedback.xml", "<html><body>hello</body></html>\n")
w("hostile-gzip-bomb.xml.gz.gz", gz(gz(b"<" + b"\0" * (200 << 20))))
w("hostile-zip-bomb.zip", zipped([("bomb.xml", b"<" + b" " * (200 << 20))]))
w("hostile-zip-two-members.zip", zipped([("a.xml", GOOGLE), ("b.xml", GOOGLE)]))
w("hostile-zip-traversal.zip", zipped([("../../../etc/cron.d/evil.xml",
    agg7489("traversal.example", "trav-1", DAY, DAY + 86399, [record("192.0.2.1", 1)]))]))
w("hostile-nested-gzip.gz", gz(gz(gz(gz(GOOGLE)))))
w("hostile-truncated.xml.gz", gz(GOOGLE)[:120])
w("empty.xml", b"")
w("empty-whitespace.json", b"  \n\t\n")
w("not-a-report.txt", b"Just some notes, no report here.\n")

# TLS-RPT (RFC 8460 §4).
TLS_GOOGLE = """{
  "organization-name": "Google Inc.",
  "date-range": {"start-datetime": "2026-12-01T00:00:00Z", "end-datetime": "2026-12-01T23:59:59Z"},
  "contact-info": "smtp-tls-reporting@google.example",
  "report-id": "2026-12-01T00:00:00Z_example.com",
  "policies": [
    {"policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: enforce", "mx: mx1.example.com", "max_age: 86400"],
                "policy-domain": "example.com", "mx-host": ["mx1.example.com"]},
     "summary": {"total-successful-session-count": 120, "total-failure-session-count": 2},
     "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.200",
                          "receiving-mx-hostname": "mx1.example.com", "receiving-ip": "198.51.100.25",
                          "failed-session-count": 2}]},
    {"policy": {"policy-type": "tlsa", "policy-string": ["3 1 1 0123456789abcdef"], "policy-domain": "example.com"},
     "summary": {"total-successful-session-count": 5, "total-failure-session-count": 0}}
  ]
}
"""
w("tlsrpt-google.json", TLS_GOOGLE)
w("tlsrpt-google.json.gz", gz(TLS_GOOGLE))
w("tlsrpt-microsoft-quirks.json", """{
  "organization-name": "Microsoft Corporation",
  "date-range": {"start-datetime": "2026-12-01T00:00:00", "end-datetime": "2026-12-01T23:59:59"},
  "contact-info": null,
  "report-id": "133456789012345678+example.com",
  "policies": [
    {"policy": {"policy-type": "STS", "policy-string": "version: STSv1\\nmode: testing", "policy-domain": "example.com",
                "mx-host-pattern": "*.example.com"},
     "summary": {"total-successful-session-count": "10", "total-failure-session-count": "1"},
     "failure-details": [{"result-type": "sts-policy-fetch-error", "failed-session-count": 1}]},
    {"policy": {"policy-type": "no-policy-found"},
     "summary": {"total-successful-session-count": 3, "total-failure-session-count": 0}}
  ]
}
""")
w("hostile-tlsrpt-huge-number.json", TLS_GOOGLE.replace('"failed-session-count": 2', '"failed-session-count": 1e400'))
w("hostile-tlsrpt-truncated.json", TLS_GOOGLE[:300])
w("hostile-tlsrpt-missing-report-id.json", TLS_GOOGLE.replace('"report-id"', '"report-identifier"'))

# E-mails.
def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))

GOOGLE2 = agg7489("google.com", "98765432109876543210", DAY, DAY + 86399, [record("192.0.2.10", 30), record("192.0.2.11", 4)])
w("mail-google-zip.eml", f"""Return-Path: <noreply-dmarc-support@google.com>
From: noreply-dmarc-support@google.com
To: dmarc@example.com
Subject: Report domain: example.com Submitter: google.com Report-ID: 98765432109876543210
Date: Tue, 01 Dec 2026 23:59:59 -0800
MIME-Version: 1.0
Content-Type: application/zip; name="google.com!example.com!{DAY}!{DAY + 86399}.zip"
Content-Disposition: attachment; filename="google.com!example.com!{DAY}!{DAY + 86399}.zip"
Content-Transfer-Encoding: base64

{b64(zipped([(f"google.com!example.com!{DAY}!{DAY + 86399}.xml", GOOGLE2)]))}
""".replace("\n", "\r\n"))

SES = agg7489("Amazon SES", "ses-8f1e2d", DAY, DAY + 86399, [record("198.51.100.50", 9)])
w("mail-ses-octet-stream.eml", f"""From: Amazon SES <dmarc@ses.example>
To: dmarc@example.com
Subject: Dmarc Aggregate Report Domain: {{example.com}}  Submitter: {{Amazon SES}}
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

This is an aggregate report from Amazon SES.
--b1
Content-Type: application/octet-stream;
 name*0="amazonses.com!example.com!{DAY}!";
 name*1="{DAY + 86399}.xml.gz"
Content-Transfer-Encoding: base64

{b64(gz(SES))}
--b1--
""")

TLS_MAIL = TLS_GOOGLE.replace("Google Inc.", "Mail.Example").replace("2026-12-01T00:00:00Z_example.com", "mail-example-4711")
w("mail-tlsrpt.eml", f"""From: tlsrpt@mail.example
To: tls@example.com
Subject: Report Domain: example.com Submitter: mail.example Report-ID: <mail-example-4711>
TLS-Report-Domain: example.com
TLS-Report-Submitter: mail.example
MIME-Version: 1.0
Content-Type: multipart/report; report-type=tlsrpt; boundary="r"

--r
Content-Type: text/plain

This is an aggregate TLS report from mail.example
--r
Content-Type: application/tlsrpt+gzip
Content-Disposition: attachment; filename="mail.example!example.com!{DAY}!{DAY + 86399}!4711.json.gz"
Content-Transfer-Encoding: base64

{b64(gz(TLS_MAIL))}
--r--
""")

ARF = """From: dmarc-failure@receiver.example
To: ruf@example.com
Subject: FW: Invoice 12345
Date: Tue, 01 Dec 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="f"

--f
Content-Type: text/plain; charset="US-ASCII"

This is an authentication failure report for an email message received from IP 198.51.100.66.
--f
Content-Type: message/feedback-report

Feedback-Type: auth-failure
User-Agent: Receiver/1.0
Version: 1
Original-Mail-From: <billing@spoof.example>
Original-Rcpt-To: <alice.private@example.com>
Arrival-Date: Tue, 01 Dec 2026 09:59:58 +0000
Reporting-MTA: dns; mx.receiver.example
Source-IP: 198.51.100.66
Authentication-Results: mx.receiver.example; dmarc=fail header.from=example.com;
  spf=fail smtp.mailfrom=spoof.example
Reported-Domain: example.com
Auth-Failure: dmarc
Identity-Alignment: none
Delivery-Result: reject

--f
Content-Type: text/rfc822-headers

From: "Billing" <billing@example.com>
To: alice.private@example.com
Subject: Invoice 12345 (personal)
Message-ID: <secret-123@spoof.example>

--f--
"""
w("mail-failure-arf.eml", ARF)
w("mail-no-report.eml", "From: someone@example.org\nTo: dmarc@example.com\nSubject: hello\n\nJust a question about DMARC.\n")

YAHOO2 = agg7489("Yahoo", "1796169600.998877", DAY + 86400, DAY + 2 * 86400 - 1, [record("203.0.113.5", 11)])
MBOX_AGG = f"""From: dmarc@yahoo.example
To: dmarc@example.com
Subject: Report Domain: example.com Submitter: yahoo.com Report-ID: <1796169600.998877>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="y"

--y
Content-Type: application/gzip
Content-Disposition: attachment; filename="yahoo.com!example.com!{DAY + 86400}!{DAY + 2 * 86400 - 1}.xml.gz"
Content-Transfer-Encoding: base64

{b64(gz(YAHOO2))}
--y--
"""
w("reports.mbox", "From dmarc@yahoo.example Wed Dec  2 00:00:00 2026\n" + MBOX_AGG +
  "\nFrom dmarc-failure@receiver.example Wed Dec  2 00:00:01 2026\n" + ARF +
  "\nFrom someone@example.org Wed Dec  2 00:00:02 2026\nFrom: someone@example.org\nSubject: hi\n\nNo report.\n")

FASTMAIL = agg7489("fastmail.example", "fm-0001", DAY, DAY + 86399, [record("192.0.2.10", 6)])
w("maildir/new/1796083200.M1P1.host", f"""From: dmarc@fastmail.example
To: dmarc@example.com
Subject: Report Domain: example.com Submitter: fastmail.example Report-ID: fm-0001
MIME-Version: 1.0
Content-Type: text/xml; name="fastmail.example!example.com!{DAY}!{DAY + 86399}.xml"
Content-Disposition: attachment

{FASTMAIL}""")
os.makedirs("maildir/cur", exist_ok=True)
os.makedirs("maildir/tmp", exist_ok=True)
