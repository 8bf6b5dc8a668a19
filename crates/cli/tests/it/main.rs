//! Integration tests of the `mailwarden` binary: one test binary, split by
//! subject. Tests run the real binary; DNS comes from zone files under
//! `examples/` and `testdata/`, or from in-process servers on loopback.

mod cli;
mod compliance;
mod formats;
mod generate_live;
mod hostile_dns;
mod live_scan;
mod outcomes;
mod support;
mod transport_scan;
mod zone_scan;
