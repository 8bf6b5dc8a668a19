#!/usr/bin/env python3
"""Zone generator for bench/lab.sh: N second-level zones under lab.

    bench/lab-zones.py N DIR KEYBASE...

Writes DIR/zones/dI.lab.zone (unsigned) for I in 0..N-1, the provider
zones provK.lab.zone, DIR/tld-body (delegations, glue and DS records for
lab.), DIR/signed (one origin and key base per zone to sign, one a line)
and DIR/domains (the list to scan). Deterministic: zone I's content depends
on I only, so a lab built twice gives the same findings (the keys differ;
reuse DIR to keep them).

Mix (by I): 60% signed (DS in lab.), SPF with includes into provider zones
(two levels), DMARC (reject / none / missing), DKIM keys under two or three
selectors, MTA-STS and TLS-RPT on half, TLSA on a third of the signed
zones' MX hosts, BIMI on a tenth, provider MX on a third.

The DNSSEC keys are a small pool (KEYBASE...) reused across zones with the
owner rewritten: generating one per zone costs more than the benchmark.
DS records are computed here (RFC 4034 §5.1.4: digest = SHA-256(owner name
| DNSKEY RDATA)), which saves a process per zone.
"""

import base64
import hashlib
import os
import sys

PROVIDERS = 4
# An Ed25519 DKIM public key (RFC 8463 appendix A.2).
DKIM_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
TTL = 3600


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.lower().encode()
    return out + b"\0"


def read_key(base):
    """(flags, protocol, algorithm, public key bytes) of a .key file."""
    with open(base + ".key") as f:
        for line in f:
            line = line.split(";")[0].split()
            if "DNSKEY" in line:
                i = line.index("DNSKEY")
                flags, proto, alg = (int(x) for x in line[i + 1 : i + 4])
                return flags, proto, alg, base64.b64decode("".join(line[i + 4 :]))
    raise SystemExit(f"{base}.key: no DNSKEY")


def key_tag(rdata):
    acc = 0
    for i, b in enumerate(rdata):
        acc += b if i & 1 else b << 8
    return (acc + (acc >> 16)) & 0xFFFF


def ds_line(owner, key):
    flags, proto, alg, pub = key
    rdata = flags.to_bytes(2, "big") + bytes([proto, alg]) + pub
    digest = hashlib.sha256(wire_name(owner) + rdata).hexdigest()
    return f"{owner} {TTL} IN DS {key_tag(rdata)} {alg} 2 {digest}\n"


def soa(zone):
    return f"$TTL {TTL}\n{zone} {TTL} IN SOA a.ns.lab. hostmaster.{zone} 2026010101 3600 600 86400 300\n"


def provider_zone(k):
    z = f"prov{k}.lab."
    return (
        soa(z)
        + f"{z} NS a.ns.lab.\n{z} NS b.ns.lab.\n"
        + f'{z} TXT "v=spf1 include:_spf.{z[:-1]} -all"\n'
        + f'_spf.{z} TXT "v=spf1 ip4:192.0.2.0/25 include:_spf2.{z[:-1]} ~all"\n'
        + f'_spf2.{z} TXT "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:{k}::/48 -all"\n'
        + f"mx.{z} A 127.0.62.{k + 1}\n"
        + f'_dmarc.{z} TXT "v=DMARC1; p=reject"\n'
    )


def child_zone(i):
    z = f"d{i}.lab."
    d = z[:-1]
    signed = i % 5 < 3
    out = [soa(z), f"{z} NS a.ns.lab.\n{z} NS b.ns.lab.\n"]
    out.append(f"{z} MX 10 mx1.{z}\nmx1.{z} A 127.0.61.{i % 250 + 1}\n")
    if i % 3 == 0:
        out.append(f"{z} MX 20 mx.prov{i % PROVIDERS}.lab.\n")
    if i % 11 != 0:
        qualifier = "~all" if i % 7 == 0 else "-all"
        out.append(f'{z} TXT "v=spf1 mx include:_spf.prov{i % PROVIDERS}.lab {qualifier}"\n')
    if i % 13 != 0:
        policy = "none" if i % 4 == 1 else "reject"
        out.append(f'_dmarc.{z} TXT "v=DMARC1; p={policy}; rua=mailto:dmarc@{d}"\n')
    out.append(f'default._domainkey.{z} TXT "v=DKIM1; k=ed25519; p={DKIM_KEY}"\n')
    out.append(f'selector1._domainkey.{z} TXT "v=DKIM1; k=ed25519; p={DKIM_KEY}"\n')
    if i % 4 == 2:
        out.append(f'google._domainkey.{z} TXT "v=DKIM1; k=ed25519; p={DKIM_KEY}"\n')
    if i % 2 == 0:
        out.append(f'_mta-sts.{z} TXT "v=STSv1; id=2026010101"\nmta-sts.{z} A 127.0.61.{i % 250 + 1}\n')
        out.append(f'_smtp._tls.{z} TXT "v=TLSRPTv1; rua=mailto:tls@{d}"\n')
    if signed and i % 3 == 1:
        digest = hashlib.sha256(f"mx1.{d}".encode()).hexdigest()
        out.append(f"_25._tcp.mx1.{z} TLSA 3 1 1 {digest}\n")
    if i % 10 == 0:
        out.append(f'default._bimi.{z} TXT "v=BIMI1; l=https://{d}/logo.svg"\n')
    return "".join(out), signed


def zone_key(root, zone, base):
    """A copy of the pool key `base` owned by `zone` (ldns-signzone wants
    the key's owner to be the zone's origin); its path without suffix."""
    out = os.path.join(root, "keys", zone.rstrip("."))
    with open(base + ".key") as f:
        text = f.read()
    owner = text.split(None, 1)[0]
    with open(out + ".key", "w") as f:
        f.write(zone + text[len(owner) :])
    with open(base + ".private") as src, open(out + ".private", "w") as dst:
        dst.write(src.read())
    return out


def main():
    n, root = int(sys.argv[1]), sys.argv[2]
    bases = sys.argv[3:]
    keys = [read_key(b) for b in bases]
    zones = os.path.join(root, "zones")
    os.makedirs(zones, exist_ok=True)
    os.makedirs(os.path.join(root, "keys"), exist_ok=True)
    tld = [
        "a.ns.lab. A 127.0.60.3\n",
        "b.ns.lab. A 127.0.60.4\n",
    ]
    to_sign = []
    entries = [(f"prov{k}.lab.", provider_zone(k), True) for k in range(PROVIDERS)]
    with open(os.path.join(root, "domains"), "w") as domains:
        for i in range(n):
            text, signed = child_zone(i)
            entries.append((f"d{i}.lab.", text, signed))
            domains.write(f"d{i}.lab\n")
    for idx, (zone, text, signed) in enumerate(entries):
        with open(os.path.join(zones, zone + "zone"), "w") as f:
            f.write(text)
        tld.append(f"{zone} NS a.ns.lab.\n{zone} NS b.ns.lab.\n")
        if signed:
            k = idx % len(keys)
            tld.append(ds_line(zone, keys[k]))
            to_sign.append(f"{zone} {zone_key(root, zone, bases[k])}\n")
    with open(os.path.join(root, "tld-body"), "w") as f:
        f.writelines(tld)
    with open(os.path.join(root, "signed"), "w") as f:
        f.writelines(to_sign)
    with open(os.path.join(root, "children"), "w") as f:
        f.writelines(f"{zone}\n" for zone, _, _ in entries)


if __name__ == "__main__":
    main()
