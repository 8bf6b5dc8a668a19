//! Rule ids from the catalogue (`rules/*.toml`) as constants, so a judge
//! that names a rule the catalogue lacks does not compile: `crate::rule`
//! holds one `&str` constant per `[[rule]]` id, `mx.present` as
//! `rule::MX_PRESENT`. Read line by line (`id = "..."`, `title = "..."`,
//! as every catalogue file writes them); `mailwarden-policy` parses the
//! same files fully and checks them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    println!("cargo:rerun-if-changed={}", rules.display());
    let mut files: Vec<_> = std::fs::read_dir(&rules)
        .expect("rules/ is readable")
        .map(|e| e.expect("rules/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut consts: BTreeMap<String, (String, String)> = BTreeMap::new();
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
        let text = std::fs::read_to_string(&file).expect("a catalogue file is readable");
        let mut id: Option<String> = None;
        for line in text.lines() {
            if let Some(value) = quoted(line, "id") {
                id = Some(value.to_string());
            } else if let Some(value) = quoted(line, "title")
                && let Some(rule) = id.take()
            {
                let name = rule.to_ascii_uppercase().replace(['.', '-'], "_");
                if let Some((other, _)) = consts.insert(name.clone(), (rule.clone(), value.to_string())) {
                    panic!(
                        "{}: rule ids {other:?} and {rule:?} both make the constant {name}",
                        file.display()
                    );
                }
            }
        }
    }
    let mut out = String::new();
    for (name, (id, title)) in &consts {
        writeln!(out, "/// `{id}`: {}", title.replace('\\', "")).unwrap();
        writeln!(out, "pub const {name}: &str = \"{id}\";").unwrap();
    }
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set")).join("rule_ids.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// The string value of `key = "value"` on `line`, if that is what it holds.
fn quoted<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(key)?.trim_start().strip_prefix('=')?.trim();
    rest.strip_prefix('"')?.strip_suffix('"')
}
