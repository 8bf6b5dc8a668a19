//! Integration tests of the `mailwarden` binary: one test binary, split by
//! subject. Tests run the real binary; DNS comes from zone files under
//! `examples/` and `testdata/`, or from in-process servers on loopback.

mod alert_peers;
mod audit_alert;
mod cli;
mod compliance;
mod evidence;
mod formats;
mod generate_live;
mod generate_rules;
mod hostile_dns;
mod html_chromium;
mod inventory;
mod live_scan;
mod message;
mod monitor;
mod outcomes;
mod reports;
mod reports_fetch_peers;
mod reports_serve;
mod robust;
mod schema_v1;
mod support;
mod text_report;
mod transport_scan;
mod verdicts;
mod waivers;
mod web;
mod workers;
mod zone_scan;
