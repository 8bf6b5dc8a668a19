//! The options every command shares, from the environment and a settings
//! file, under the command line: a flag wins over a `MAILWARDEN_*`
//! variable, which wins over `mailwarden.toml` (or `--config FILE`).
//!
//! | key (file)              | variable                           | flag                      | commands                    |
//! | ----------------------- | ---------------------------------- | ------------------------- | --------------------------- |
//! | `resolver`              | `MAILWARDEN_RESOLVER`              | `--resolver`              | scan, spf check, generate, message |
//! | `trust-anchor`          | `MAILWARDEN_TRUST_ANCHOR`          | `--trust-anchor`          | scan, spf check, generate, message |
//! | `ca-file`               | `MAILWARDEN_CA_FILE`               | `--ca-file`               | scan                        |
//! | `allow-private-targets` | `MAILWARDEN_ALLOW_PRIVATE_TARGETS` | `--allow-private-targets` | scan, generate              |
//! | `dkim-selector`         | `MAILWARDEN_DKIM_SELECTOR`         | `--dkim-selector`         | scan                        |
//! | `profile`               | `MAILWARDEN_PROFILE`               | `--profile`               | scan, judge, message        |
//! | `format`                | `MAILWARDEN_FORMAT`                | `--format`                | scan, judge, message        |
//! | `waivers`               | `MAILWARDEN_WAIVERS`               | `--waivers`               | scan, judge                 |
//! | `db`                    | `MAILWARDEN_DB`                    | `--db`                    | monitor, history, diff, baseline, retention, erase |
//! | `[serve]` `listen`      | `MAILWARDEN_LISTEN`                | `--listen`                | serve                       |
//! | `[serve]` `secure-cookies` | `MAILWARDEN_SECURE_COOKIES`     | `--secure-cookies`        | serve                       |
//! | `[serve]` `monitor`     |                                    | `--no-monitor` (= false)  | serve                       |
//! | `[serve]` `log-format`  | `MAILWARDEN_LOG_FORMAT`            | `--log-format`            | serve                       |
//!
//! Lists are TOML arrays in the file and comma-separated in variables.
//! Paths in the file are relative to the file's directory. A configured
//! resolver or trust anchor is not used with `--zone-file` (offline) or
//! `--no-dnssec`; a command uses the keys that apply to it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ArgMatches;
use clap::ValueEnum;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::args::{Cli, Command, DnsArgs, OutputArgs, ReportFormat, SpfCommand};

/// The settings file looked for in the working directory.
pub const DEFAULT_FILE: &str = "mailwarden.toml";
/// Largest settings file read.
const FILE_LIMIT: u64 = 1 << 20;

/// One layer of settings (the environment, or the file); `None`: not set.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Layer {
    resolver: Option<OneOrMany>,
    trust_anchor: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    allow_private_targets: Option<bool>,
    dkim_selector: Option<OneOrMany>,
    profile: Option<OneOrMany>,
    format: Option<String>,
    waivers: Option<PathBuf>,
    db: Option<String>,
    /// web-ops: `mailwarden serve`'s settings (file only; the variables are clap's).
    serve: Option<crate::serve::ServeFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Where a setting came from, for error messages.
#[derive(Debug, Default, Clone)]
struct Origins {
    /// The settings file, if one was read.
    file: Option<String>,
}

/// The settings in force: each field from the environment if set there,
/// else from the file.
#[derive(Debug, Default)]
pub struct Settings {
    env: Layer,
    file: Layer,
    origins: Origins,
}

impl Settings {
    /// Read the environment and the settings file (`explicit` from
    /// `--config`, else `./mailwarden.toml` when it exists).
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let env = Layer::from_env(|k| std::env::var(k).ok())?;
        let (file, origin) = match explicit {
            Some(path) => (Layer::from_file(path)?, Some(path.display().to_string())),
            None if Path::new(DEFAULT_FILE).is_file() => (
                Layer::from_file(Path::new(DEFAULT_FILE))?,
                Some(DEFAULT_FILE.to_string()),
            ),
            None => (Layer::default(), None),
        };
        Ok(Self {
            env,
            file,
            origins: Origins { file: origin },
        })
    }

    /// Fill every option of `cli`'s command that the command line did not set.
    pub fn apply(&self, cli: &mut Cli, matches: &ArgMatches) -> Result<()> {
        let leaf = leaf_matches(matches);
        let set = |id: &str| leaf.try_get_raw(id).is_ok() && leaf.value_source(id) == Some(ValueSource::CommandLine);
        // --db is global: a flag given anywhere on the line is in `cli.db` already.
        if cli.db.is_none() {
            cli.db = self.pick(|l| l.db.clone());
        }
        match &mut cli.command {
            Command::Scan(args) => {
                self.dns(&mut args.dns, &set);
                if !set("allow_private_targets") {
                    args.probe.allow_private_targets |= self.allow_private_targets();
                }
                if !set("dkim_selectors")
                    && let Some(v) = self.pick(|l| l.dkim_selector.clone())
                {
                    args.dkim_selectors = v.into_vec();
                }
                if !set("ca_file") && args.ca_file.is_none() {
                    args.ca_file = self.path(|l| l.ca_file.clone());
                }
                self.output(&mut args.output, &set)?;
            }
            Command::Judge(args) => self.output(&mut args.output, &set)?,
            Command::Message(args) => {
                self.dns(&mut args.dns, &set);
                self.output(&mut args.output, &set)?;
            }
            Command::Spf(SpfCommand::Check(args)) => self.dns(&mut args.dns, &set),
            Command::Domain(crate::domain::DomainCommand::Verify(args)) => self.dns(&mut args.dns, &set),
            Command::Serve(args) => {
                self.dns(&mut args.dns, &set);
                if let Some(file) = &self.file.serve {
                    // A flag or its environment variable wins over the file.
                    let given = |id: &str| {
                        leaf.try_get_raw(id).is_ok()
                            && matches!(
                                leaf.value_source(id),
                                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                            )
                    };
                    let label = self.origins.file.as_deref().unwrap_or(DEFAULT_FILE);
                    file.apply(args, &given, label)?;
                }
            }
            Command::Generate(args) => {
                self.dns(&mut args.dns, &set);
                if !set("allow_private_targets") {
                    args.probe.allow_private_targets |= self.allow_private_targets();
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dns(&self, dns: &mut DnsArgs, set: &dyn Fn(&str) -> bool) {
        // Zone files answer offline: a configured resolver or anchor does not apply.
        if !dns.zone_files.is_empty() {
            return;
        }
        if !set("resolvers")
            && let Some(v) = self.pick(|l| l.resolver.clone())
        {
            dns.resolvers = v.into_vec();
        }
        if !set("trust_anchor") && !dns.no_dnssec && dns.trust_anchor.is_none() {
            dns.trust_anchor = self.path(|l| l.trust_anchor.clone());
        }
    }

    fn output(&self, output: &mut OutputArgs, set: &dyn Fn(&str) -> bool) -> Result<()> {
        if !set("profiles")
            && let Some(v) = self.pick(|l| l.profile.clone())
        {
            output.profiles = v.into_vec();
        }
        if !set("waivers") && output.waivers.is_none() {
            output.waivers = self.path(|l| l.waivers.clone());
        }
        if !set("format") {
            if let Some(f) = self.env.format.as_deref() {
                output.format = format(f).context("MAILWARDEN_FORMAT")?;
            } else if let Some(f) = self.file.format.as_deref() {
                let file = self.origins.file.as_deref().unwrap_or(DEFAULT_FILE);
                output.format = format(f).with_context(|| format!("{file}: format"))?;
            }
        }
        Ok(())
    }

    fn pick<T>(&self, get: impl Fn(&Layer) -> Option<T>) -> Option<T> {
        get(&self.env).or_else(|| get(&self.file))
    }

    /// A path setting; one from the file is relative to the file's directory.
    fn path(&self, get: impl Fn(&Layer) -> Option<PathBuf>) -> Option<PathBuf> {
        if let Some(p) = get(&self.env) {
            return Some(p);
        }
        let p = get(&self.file)?;
        let base = self.origins.file.as_deref().map(Path::new).and_then(Path::parent);
        Some(match base {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        })
    }

    fn allow_private_targets(&self) -> bool {
        self.pick(|l| l.allow_private_targets).unwrap_or(false)
    }
}

impl Layer {
    /// The `MAILWARDEN_*` variables (an empty one counts as unset).
    fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let list = |k: &str| {
            get(k).map(|v| {
                OneOrMany::Many(
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                )
            })
        };
        let allow_private_targets = match get("MAILWARDEN_ALLOW_PRIVATE_TARGETS") {
            None => None,
            Some(v) => Some(match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => bail!("MAILWARDEN_ALLOW_PRIVATE_TARGETS {v:?}: expected true or false (1/0, yes/no, on/off)"),
            }),
        };
        Ok(Self {
            resolver: list("MAILWARDEN_RESOLVER"),
            trust_anchor: get("MAILWARDEN_TRUST_ANCHOR").map(PathBuf::from),
            ca_file: get("MAILWARDEN_CA_FILE").map(PathBuf::from),
            allow_private_targets,
            dkim_selector: list("MAILWARDEN_DKIM_SELECTOR"),
            profile: list("MAILWARDEN_PROFILE"),
            format: get("MAILWARDEN_FORMAT"),
            waivers: get("MAILWARDEN_WAIVERS").map(PathBuf::from),
            db: get("MAILWARDEN_DB"),
            serve: None,
        })
    }

    /// A settings file; errors name the file and the line.
    fn from_file(path: &Path) -> Result<Self> {
        let label = path.display();
        let bytes = mailwarden_dns::bounded::read_capped(path, FILE_LIMIT)
            .with_context(|| format!("--config {label}: cannot read"))?;
        let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{label}: not UTF-8 text"))?;
        Self::parse(&text, &label.to_string())
    }

    fn parse(text: &str, label: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(String::new(), |s| {
                format!(":{}", text[..s.start.min(text.len())].matches('\n').count() + 1)
            });
            anyhow::anyhow!("{label}{line}: {}", e.message().trim_end())
        })
    }
}

fn format(value: &str) -> Result<ReportFormat> {
    ReportFormat::from_str(value, true).map_err(|_| {
        let known: Vec<String> = ReportFormat::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        anyhow::anyhow!("{value:?}: expected one of {}", known.join(", "))
    })
}

/// The matches of the subcommand that runs (`spf check` is two deep).
fn leaf_matches(matches: &ArgMatches) -> &ArgMatches {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    m
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    fn layered(args: &[&str], env: &[(&str, &str)], file: &str) -> Result<Cli> {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let settings = Settings {
            env: Layer::from_env(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))?,
            file: Layer::parse(file, "mailwarden.toml")?,
            origins: Origins {
                file: Some("conf/mailwarden.toml".into()),
            },
        };
        settings.apply(&mut cli, &matches)?;
        Ok(cli)
    }

    fn scan(cli: Cli) -> crate::args::ScanArgs {
        match cli.command {
            Command::Scan(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flag_beats_environment_beats_file() {
        let file = "resolver = \"192.0.2.3\"\nformat = \"html\"\nprofile = [\"baseline\"]\n";
        let env = [("MAILWARDEN_RESOLVER", "192.0.2.2"), ("MAILWARDEN_FORMAT", "json")];
        let s = scan(
            layered(
                &["mailwarden", "scan", "x.example", "--resolver", "192.0.2.1"],
                &env,
                file,
            )
            .unwrap(),
        );
        assert_eq!(s.dns.resolvers, ["192.0.2.1"]);
        assert_eq!(s.output.format, ReportFormat::Json);
        assert_eq!(s.output.profiles, ["baseline"]);
        let s = scan(layered(&["mailwarden", "scan", "x.example"], &env, file).unwrap());
        assert_eq!(s.dns.resolvers, ["192.0.2.2"]);
        let s = scan(layered(&["mailwarden", "scan", "x.example", "--format", "csv"], &[], file).unwrap());
        assert_eq!(s.dns.resolvers, ["192.0.2.3"]);
        assert_eq!(s.output.format, ReportFormat::Csv);
        let s = scan(layered(&["mailwarden", "scan", "x.example"], &[], file).unwrap());
        assert_eq!(s.output.format, ReportFormat::Html);
    }

    #[test]
    fn lists_come_from_commas_in_variables_and_arrays_in_the_file() {
        let env = [
            ("MAILWARDEN_DKIM_SELECTOR", "s1, s2"),
            ("MAILWARDEN_ALLOW_PRIVATE_TARGETS", "yes"),
        ];
        let s = scan(layered(&["mailwarden", "scan", "x.example"], &env, "dkim-selector = [\"f\"]\n").unwrap());
        assert_eq!(s.dkim_selectors, ["s1", "s2"]);
        assert!(s.probe.allow_private_targets);
        let s = scan(
            layered(
                &["mailwarden", "scan", "x.example", "--dkim-selector", "a,b,c"],
                &env,
                "",
            )
            .unwrap(),
        );
        assert_eq!(s.dkim_selectors, ["a", "b", "c"]);
    }

    #[test]
    fn file_paths_are_relative_to_the_file_and_zone_files_ignore_resolvers() {
        let file = "trust-anchor = \"root.key\"\nca-file = \"/etc/ca.pem\"\nresolver = [\"192.0.2.3\"]\n";
        let s = scan(layered(&["mailwarden", "scan", "x.example"], &[], file).unwrap());
        assert_eq!(s.dns.trust_anchor, Some(PathBuf::from("conf/root.key")));
        assert_eq!(s.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        let s = scan(layered(&["mailwarden", "scan", "x.example", "--zone-file", "z"], &[], file).unwrap());
        assert!(s.dns.resolvers.is_empty() && s.dns.trust_anchor.is_none());
        let s = scan(layered(&["mailwarden", "scan", "x.example", "--no-dnssec"], &[], file).unwrap());
        assert!(s.dns.trust_anchor.is_none());
    }

    #[test]
    fn settings_apply_to_judge_spf_check_and_generate_too() {
        let file = "resolver = \"192.0.2.3\"\nformat = \"sarif\"\nallow-private-targets = true\n";
        match layered(&["mailwarden", "judge", "e.jsonl"], &[], file).unwrap().command {
            Command::Judge(j) => assert_eq!(j.output.format, ReportFormat::Sarif),
            other => panic!("{other:?}"),
        }
        match layered(
            &["mailwarden", "spf", "check", "x.example", "--ip", "192.0.2.1"],
            &[],
            file,
        )
        .unwrap()
        .command
        {
            Command::Spf(SpfCommand::Check(c)) => assert_eq!(c.dns.resolvers, ["192.0.2.3"]),
            other => panic!("{other:?}"),
        }
        match layered(&["mailwarden", "generate", "spf", "x.example"], &[], file)
            .unwrap()
            .command
        {
            Command::Generate(g) => {
                assert_eq!(g.dns.resolvers, ["192.0.2.3"]);
                assert!(g.probe.allow_private_targets);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn waivers_come_from_flag_then_environment_then_file() {
        let file = "waivers = \"accepted.toml\"\n";
        let env = [("MAILWARDEN_WAIVERS", "/etc/mailwarden/waivers.toml")];
        let waivers = |args: &[&str], env: &[(&str, &str)]| match layered(args, env, file).unwrap().command {
            Command::Scan(s) => s.output.waivers,
            Command::Judge(j) => j.output.waivers,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            waivers(&["mailwarden", "scan", "x.example", "--waivers", "mine.toml"], &env),
            Some(PathBuf::from("mine.toml"))
        );
        assert_eq!(
            waivers(&["mailwarden", "judge", "e.jsonl"], &env),
            Some(PathBuf::from("/etc/mailwarden/waivers.toml"))
        );
        // From the file: relative to the file's directory.
        assert_eq!(
            waivers(&["mailwarden", "scan", "x.example"], &[]),
            Some(PathBuf::from("conf/accepted.toml"))
        );
    }

    #[test]
    fn db_comes_from_the_flag_then_mailwarden_db_then_the_file() {
        let env = [("MAILWARDEN_DB", "sqlite:/env.db")];
        let file = "db = \"sqlite:/file.db\"\n";
        let db = |args: &[&str], env: &[(&str, &str)]| layered(args, env, file).unwrap().db;
        assert_eq!(
            db(&["mailwarden", "--db", "sqlite:/flag.db", "history", "x"], &env).as_deref(),
            Some("sqlite:/flag.db")
        );
        assert_eq!(
            db(&["mailwarden", "history", "x", "--db", "sqlite:/flag.db"], &env).as_deref(),
            Some("sqlite:/flag.db")
        );
        assert_eq!(
            db(&["mailwarden", "monitor", "list"], &env).as_deref(),
            Some("sqlite:/env.db")
        );
        assert_eq!(
            db(&["mailwarden", "monitor", "list"], &[]).as_deref(),
            Some("sqlite:/file.db")
        );
    }

    #[test]
    fn settings_apply_to_message() {
        let file = "resolver = \"192.0.2.3\"\nformat = \"sarif\"\n";
        match layered(&["mailwarden", "message", "m.eml"], &[], file).unwrap().command {
            Command::Message(m) => {
                assert_eq!(m.dns.resolvers, ["192.0.2.3"]);
                assert_eq!(m.output.format, ReportFormat::Sarif);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_example_settings_file_parses() {
        let example = include_str!("../../../examples/mailwarden.toml");
        let layer = Layer::parse(example, "examples/mailwarden.toml").unwrap();
        assert_eq!(layer.format.as_deref(), Some("text"));
        assert!(layer.resolver.is_some() && layer.dkim_selector.is_some());
    }

    #[test]
    fn unknown_key_in_the_settings_file_is_an_error_naming_key_and_line() {
        let err = Layer::parse("format = \"json\"\n\nresolvers = \"192.0.2.1\"\n", "mailwarden.toml").unwrap_err();
        let err = err.to_string();
        assert!(err.starts_with("mailwarden.toml:3: unknown field `resolvers`"), "{err}");
    }

    #[test]
    fn bad_values_name_where_they_came_from() {
        let err = layered(&["mailwarden", "scan", "x"], &[("MAILWARDEN_FORMAT", "pdf")], "").unwrap_err();
        assert!(
            format!("{err:#}").starts_with("MAILWARDEN_FORMAT: \"pdf\": expected one of text, json"),
            "{err:#}"
        );
        let err = layered(&["mailwarden", "scan", "x"], &[], "format = \"pdf\"\n").unwrap_err();
        assert!(
            format!("{err:#}").starts_with("conf/mailwarden.toml: format: \"pdf\""),
            "{err:#}"
        );
        let err = layered(
            &["mailwarden", "scan", "x"],
            &[("MAILWARDEN_ALLOW_PRIVATE_TARGETS", "maybe")],
            "",
        );
        assert!(err.unwrap_err().to_string().contains("expected true or false"));
    }

    fn serve(cli: Cli) -> crate::serve::ServeArgs {
        match cli.command {
            Command::Serve(s) => s,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_serve_table_fills_what_flags_leave_and_bad_keys_name_the_file() {
        let file =
            "[serve]\nlisten = \"127.0.0.1:9999\"\nmonitor = false\nlog-format = \"json\"\nsecure-cookies = true\n";
        let s = serve(layered(&["mailwarden", "serve"], &[], file).unwrap());
        assert_eq!(s.listen.to_string(), "127.0.0.1:9999");
        assert!(s.no_monitor && s.secure_cookies);
        assert_eq!(s.log_format, mailwarden_server::logging::LogFormat::Json);
        // A flag wins over the file.
        let s = serve(
            layered(
                &["mailwarden", "serve", "--listen", "127.0.0.1:1", "--log-format", "text"],
                &[],
                file,
            )
            .unwrap(),
        );
        assert_eq!(s.listen.to_string(), "127.0.0.1:1");
        assert_eq!(s.log_format, mailwarden_server::logging::LogFormat::Text);
        // Unknown keys and bad values name the file and the key.
        let err = layered(&["mailwarden", "serve"], &[], "[serve]\nlisen = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mailwarden.toml:2") && err.contains("lisen"), "{err}");
        let err = layered(&["mailwarden", "serve"], &[], "[serve]\nlisten = \"nowhere\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("conf/mailwarden.toml: [serve] listen = \"nowhere\""),
            "{err}"
        );
        let err = layered(&["mailwarden", "serve"], &[], "[serve]\nlog-format = \"xml\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("log-format") && err.contains("expected text or json"),
            "{err}"
        );
    }
}
