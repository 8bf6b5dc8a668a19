//! `sqlx::migrate!` reads `migrations/` while compiling, but cargo does not
//! know it: without this a new migration file left a stale binary on an
//! incremental build (seen: 0510 missing from `target/release/mailwarden`).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
