//! `mailwarden reports fetch` against a real Dovecot from Debian
//! (tests/real-peers/dovecot.sh): IMAPS and STARTTLS, flags and moves, the
//! crash window between import and mark, kill -9 at any moment, and
//! `--watch` with IDLE and a reconnect. Each test reads its own folder.
//! Ignored unless asked for (`-- --ignored`): `.ci/run` starts the peer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mailwarden_ingest::{DirSink, Limits, Status, import};
use mailwarden_mailbox::{Mailbox, MailboxUrl, Options, Secret};
use mailwarden_roots::Roots;

use crate::support::{mailwarden, repo, run};

const CORPUS: &str = "testdata/reports/ingest";

struct Peer(HashMap<String, String>);

/// A folder name of this run: folders from earlier runs stay on the
/// server (removing a Maildir under a running Dovecot confuses its index).
fn fresh(base: &str) -> String {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{}-{}", std::process::id(), nanos % 1_000_000_000)
    });
    format!("{base}-{run}")
}

fn peer() -> Peer {
    let path = repo().join("target/real-peers/dovecot.env");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; start it with tests/real-peers/dovecot.sh start",
            path.display()
        )
    });
    Peer(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

impl Peer {
    fn get(&self, key: &str) -> &str {
        &self.0[key]
    }

    fn id(&self, key: &str) -> u32 {
        self.get(key).parse().unwrap()
    }

    /// The Maildir++ directory of `folder` of `user` ("a/b" is ".a.b"), created.
    fn folder(&self, user: &str, folder: &str) -> PathBuf {
        let dir = Path::new(self.get("MAIL_HOME"))
            .join(user)
            .join("Maildir")
            .join(format!(".{}", folder.replace('/', ".")));
        for sub in ["", "cur", "new", "tmp"] {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).unwrap();
            std::os::unix::fs::chown(&d, Some(self.id("MAIL_UID")), Some(self.id("MAIL_GID"))).unwrap();
        }
        dir
    }

    /// Deliver as a local delivery agent does: a file in new/.
    fn deliver(&self, dir: &Path, name: &str, message: &[u8]) {
        let tmp = dir.join("tmp").join(name);
        std::fs::write(&tmp, message).unwrap();
        std::os::unix::fs::chown(&tmp, Some(self.id("MAIL_UID")), Some(self.id("MAIL_GID"))).unwrap();
        std::fs::rename(&tmp, dir.join("new").join(name)).unwrap();
    }

    fn url(&self, folder: &str) -> String {
        format!("imaps://{}/{folder}", self.get("IMAPS"))
    }

    /// `reports fetch` with the peer's password and CA, storing into the
    /// directory store `store`.
    fn fetch(&self, user: &str, url: &str, store: &Path) -> Command {
        let mut c = self.fetch_to(user, url);
        c.arg("--store-dir").arg(store);
        c
    }

    /// `reports fetch` with the peer's password and CA; the caller says where to store.
    fn fetch_to(&self, user: &str, url: &str) -> Command {
        let mut c = mailwarden();
        c.args(["reports", "fetch", "--imap", url, "--user", user, "--format", "json"])
            .args([
                "--password-file",
                self.get("PASSWORD_FILE"),
                "--ca-file",
                self.get("CA_FILE"),
            ]);
        c
    }
}

/// The `reports-imported` events of source `fetch` in the database `db`:
/// (imported, duplicate, rejected) each.
fn fetch_events(db: &str) -> Vec<(u64, u64, u64)> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = mailwarden_store::Store::open(db).await.unwrap();
        let events = mailwarden_store::events::list_events(&store, None).await.unwrap();
        events
            .iter()
            .filter(|e| e.kind == "reports-imported")
            .map(|e| serde_json::from_str::<serde_json::Value>(e.content.as_deref().unwrap()).unwrap())
            .filter(|c| c["source"] == "fetch")
            .map(|c| {
                let n = |k: &str| c[k].as_u64().unwrap();
                (n("imported"), n("duplicate"), n("rejected"))
            })
            .collect()
    })
}

/// The messages of a Maildir folder: (file name, Maildir flags after ":2,").
fn messages(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = ["new", "cur"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(dir.join(sub)).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .map(|name| {
            let flags = name.split_once(":2,").map(|(_, f)| f.to_string()).unwrap_or_default();
            (name, flags)
        })
        .collect();
    out.sort();
    out
}

/// The Maildir letter Dovecot gave `keyword` in this folder (dovecot-keywords).
fn keyword_letter(dir: &Path, keyword: &str) -> char {
    let text = std::fs::read_to_string(dir.join("dovecot-keywords")).unwrap_or_default();
    let index: u8 = text
        .lines()
        .find_map(|l| l.strip_suffix(keyword)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no keyword {keyword} in {text:?}"));
    char::from(b'a' + index)
}

fn lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn statuses(out: &str) -> Vec<String> {
    lines(out)
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

/// Reports in a DirSink store (one index line each).
fn stored(store: &Path) -> usize {
    std::fs::read_to_string(store.join("index.jsonl")).map_or(0, |t| t.lines().count())
}

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(repo().join(CORPUS).join(name)).unwrap()
}

/// A report e-mail with an aggregate report of its own (`id` makes it unique).
fn report_mail(id: &str) -> Vec<u8> {
    format!(
        "From: dmarc@reporter.test\r\nTo: rua@example.com\r\nSubject: Report Domain: example.com Report-ID: {id}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         An aggregate report.\r\n--b\r\nContent-Type: text/xml; name=\"r.xml\"\r\nContent-Disposition: attachment; filename=\"r.xml\"\r\n\r\n\
         <?xml version=\"1.0\"?><feedback><report_metadata><org_name>reporter.test</org_name><email>d@reporter.test</email>\
         <report_id>{id}</report_id><date_range><begin>1796083200</begin><end>1796169599</end></date_range></report_metadata>\
         <policy_published><domain>example.com</domain><p>none</p></policy_published><record><row><source_ip>192.0.2.1</source_ip>\
         <count>1</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>\
         <identifiers><header_from>example.com</header_from></identifiers><auth_results><spf><domain>example.com</domain>\
         <result>pass</result></spf></auth_results></record></feedback>\r\n--b--\r\n"
    )
    .into_bytes()
}

#[test]
#[ignore = "needs tests/real-peers/dovecot.sh start"]
fn fetch_over_imaps_imports_each_report_and_flags_each_message_after() {
    let p = peer();
    let folder = fresh("flagged");
    let dir = p.folder("reports", &folder);
    for name in [
        "mail-google-zip.eml",
        "mail-tlsrpt.eml",
        "mail-failure-arf.eml",
        "mail-no-report.eml",
    ] {
        p.deliver(&dir, name, &corpus(name));
    }
    let store = tempfile::tempdir().unwrap();
    let (code, out, err) = run(&mut p.fetch("reports", &p.url(&folder), store.path()));
    assert_eq!(code, 1, "a rejected message makes exit 1: {out}{err}");
    let rows = lines(&out);
    let mut seen: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["status"].as_str().unwrap(), r["kind"].as_str().unwrap_or("-")))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            ("imported", "aggregate"),
            ("imported", "failure"),
            ("imported", "tlsrpt"),
            ("rejected", "-")
        ],
        "{out}"
    );
    assert!(
        rows.iter()
            .all(|r| r["file"].as_str().unwrap().contains(&format!("/{folder};UID="))),
        "{out}"
    );
    assert_eq!(stored(store.path()), 3);
    // Stored: \Seen and the keyword; rejected: \Flagged and its keyword, left in place.
    let imported = keyword_letter(&dir, "$MailwardenImported");
    let rejected = keyword_letter(&dir, "$MailwardenRejected");
    let flags: Vec<String> = messages(&dir).into_iter().map(|(_, f)| f).collect();
    assert_eq!(flags.len(), 4);
    assert_eq!(
        flags.iter().filter(|f| f.contains('S') && f.contains(imported)).count(),
        3,
        "{flags:?}"
    );
    assert_eq!(
        flags.iter().filter(|f| f.contains('F') && f.contains(rejected)).count(),
        1,
        "{flags:?}"
    );
    // A second run finds nothing left to do.
    let (code, out, err) = run(&mut p.fetch("reports", &p.url(&folder), store.path()));
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
}

#[test]
#[ignore = "needs tests/real-peers/dovecot.sh start"]
fn starttls_with_move_to_into_the_database_moves_each_stored_message_and_creates_the_folder() {
    let p = peer();
    let folder = fresh("starttls");
    let dir = p.folder("reports", &folder);
    p.deliver(&dir, "ses", &corpus("mail-ses-octet-stream.eml"));
    p.deliver(&dir, "tlsrpt", &corpus("mail-tlsrpt.eml"));
    // The default sink: the database (SQLite here), which blocks in place per report.
    let db_dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", db_dir.path().join("mw.db").display());
    let url = format!("imap://{}/{folder}", p.get("IMAP"));
    let mut fetch = p.fetch_to("reports", &url);
    fetch
        .args(["--db", &db, "--move-to", &format!("{folder}/Über")])
        .env("MAILWARDEN_AUDIT_KEY", db_dir.path().join("audit.key"));
    let (code, out, err) = run(&mut fetch);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(statuses(&out), ["imported", "imported"], "{out}");
    assert_eq!(fetch_events(&db), [(2, 0, 0)], "one reports-imported event for the run");
    assert!(
        out.contains(&format!("\"file\":\"imap://127.0.63.1:10143/{folder};UID=")),
        "{out}"
    );
    assert!(messages(&dir).is_empty(), "left behind: {:?}", messages(&dir));
    // Dovecot keeps a modified-UTF-7 name on disk: "Über" is "&ANw-ber".
    let moved = Path::new(p.get("MAIL_HOME")).join(format!("reports/Maildir/.{folder}.&ANw-ber"));
    assert_eq!(messages(&moved).len(), 2);
    let (code, listed, err) = run(mailwarden().args(["--db", &db, "reports", "list", "--format", "json"]));
    assert_eq!((code, listed.lines().count()), (0, 2), "{listed}{err}");
    // The log shows the login happened after STARTTLS, on the plain port.
    let log = std::fs::read_to_string(p.get("LOG")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("Login: user=<reports>") && l.contains("lip=127.0.63.1") && l.contains("TLS")),
        "no TLS login in the Dovecot log"
    );
}

#[test]
#[ignore = "needs tests/real-peers/dovecot.sh start"]
fn an_untrusted_certificate_or_a_wrong_password_fails_with_exit_2_and_marks_nothing() {
    let p = peer();
    let folder = fresh("refused");
    let dir = p.folder("reports", &folder);
    p.deliver(&dir, "one", &corpus("mail-tlsrpt.eml"));
    let store = tempfile::tempdir().unwrap();
    let url = p.url(&folder);
    // The webpki roots do not include the test CA.
    let mut untrusted = mailwarden();
    untrusted
        .args(["reports", "fetch", "--imap", &url, "--user", "reports"])
        .args(["--password-file", p.get("PASSWORD_FILE")])
        .arg("--store")
        .arg(store.path());
    let (code, _, err) = run(&mut untrusted);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("TLS") && err.contains("UnknownIssuer"), "{err}");
    let wrong = store.path().join("wrong-password");
    std::fs::write(&wrong, "not the password\n").unwrap();
    let mut bad_login = mailwarden();
    bad_login
        .args([
            "reports",
            "fetch",
            "--imap",
            &url,
            "--user",
            "reports",
            "--ca-file",
            p.get("CA_FILE"),
        ])
        .arg("--password-file")
        .arg(&wrong)
        .arg("--store")
        .arg(store.path());
    let (code, _, err) = run(&mut bad_login);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("login as \"reports\" failed"), "{err}");
    assert_eq!(stored(store.path()), 0);
    assert_eq!(messages(&dir).iter().filter(|(_, f)| !f.is_empty()).count(), 0);
}

#[test]
#[ignore = "needs tests/real-peers/dovecot.sh start"]
fn a_message_over_max_size_is_not_downloaded_and_stays_flagged_as_rejected() {
    let p = peer();
    let folder = fresh("too-large");
    let dir = p.folder("reports", &folder);
    p.deliver(&dir, "big", &corpus("mail-google-zip.eml"));
    let store = tempfile::tempdir().unwrap();
    let mut fetch = p.fetch("reports", &p.url(&folder), store.path());
    fetch.args(["--max-size", "200"]);
    let (code, out, err) = run(&mut fetch);
    assert_eq!(code, 1, "{out}{err}");
    let rows = lines(&out);
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["reason"], "size-limit", "{out}");
    // Judged on RFC822.SIZE before any download ("a message of N bytes").
    assert!(
        rows[0]["detail"].as_str().unwrap().starts_with("a message of "),
        "{out}"
    );
    assert_eq!(stored(store.path()), 0);
    let rejected = keyword_letter(&dir, "$MailwardenRejected");
    let flags: Vec<String> = messages(&dir).into_iter().map(|(_, f)| f).collect();
    assert_eq!(flags.len(), 1);
    assert!(flags[0].contains('F') && flags[0].contains(rejected), "{flags:?}");
}

fn options(p: &Peer, folder: &str) -> Options {
    Options {
        url: MailboxUrl::parse(&p.url(folder), false).unwrap(),
        user: "reports".into(),
        password: Secret(
            std::fs::read_to_string(p.get("PASSWORD_FILE"))
                .unwrap()
                .trim()
                .to_string(),
        ),
        roots: Roots::from_pem(&std::fs::read(p.get("CA_FILE")).unwrap()).unwrap(),
        move_to: None,
        timeout: Duration::from_secs(20),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs tests/real-peers/dovecot.sh start"]
async fn a_crash_between_import_and_mark_reads_the_message_again_and_stores_it_once() {
    let p = peer();
    let folder = fresh("crash-window");
    let dir = p.folder("reports", &folder);
    p.deliver(&dir, "a", &report_mail("crash-window-a"));
    p.deliver(&dir, "b", &report_mail("crash-window-b"));
    let store = tempfile::tempdir().unwrap();
    // The first half of a run that dies: message a fetched and its report
    // committed to the store, then the connection gone before the mark.
    let mut mailbox = Mailbox::open(&options(&p, &folder)).await.unwrap();
    let pending = mailbox.pending().await.unwrap();
    assert_eq!(pending.len(), 2);
    let message = mailbox.fetch(pending[0].uid).await.unwrap().unwrap();
    let mut sink = DirSink::open(store.path()).unwrap();
    let outcomes = import("a", &message, &Limits::default(), &mut sink).unwrap();
    assert_eq!(outcomes[0].status, Status::Imported);
    drop(mailbox);
    assert!(
        messages(&dir).iter().all(|(_, f)| !f.contains('S')),
        "nothing is marked yet"
    );
    // The next run: a is read again and is a duplicate, b is new; both marked.
    let (code, out, err) =
        tokio::task::spawn_blocking(move || run(&mut p.fetch("reports", &p.url(&folder), store.path())))
            .await
            .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(statuses(&out), ["duplicate", "imported"], "{out}");
    assert!(
        messages(&dir).iter().all(|(_, f)| f.contains('S')),
        "{:?}",
        messages(&dir)
    );
}

#[test]
#[ignore = "needs tests/real-peers/dovecot.sh start"]
fn kill_9_at_any_moment_never_loses_a_report_nor_leaves_a_message_behind() {
    const N: usize = 12;
    let p = peer();
    let folder = fresh("killed");
    let dir = p.folder("reports", &folder);
    for i in 0..N {
        p.deliver(&dir, &format!("m{i:02}"), &report_mail(&format!("killed-{i}")));
    }
    let store = tempfile::tempdir().unwrap();
    let url = p.url(&folder);
    let target = format!("{folder}-done");
    let mut imported = 0;
    let mut killed = 0;
    // Kill after 30 ms, 60 ms, ...: early runs die while connecting, later
    // ones in the middle of the folder, wherever that is on this machine.
    for attempt in 1..=60u64 {
        let mut child = p
            .fetch("reports", &url, store.path())
            .args(["--move-to", &target])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30 * attempt));
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // A killed run may have printed half a line: count whole ones.
        imported += text
            .lines()
            .filter(|l| l.ends_with('}') && l.contains("\"imported\""))
            .count();
        if finished && out.status.success() {
            break;
        }
    }
    assert!(killed > 0, "no run was killed: the test proved nothing");
    assert_eq!(stored(store.path()), N, "every report stored exactly once");
    assert!(imported <= N);
    assert!(messages(&dir).is_empty(), "left behind: {:?}", messages(&dir));
    // RFC 6851 §3.3: the server "MUST leave each message in a state where
    // it is in at least one of the source or target mailboxes" but only
    // "SHOULD NOT leave any message in both": Dovecot's Maildir MOVE is a
    // link then an expunge, and a client killed in between finds the
    // message again, stores nothing new (a duplicate) and moves it again.
    // So every message arrives, and a killed MOVE may leave one extra copy.
    let done = Path::new(p.get("MAIL_HOME")).join(format!("reports/Maildir/.{target}"));
    let mut ids: Vec<String> = messages(&done)
        .iter()
        .map(|(name, _)| {
            let path = ["new", "cur"]
                .iter()
                .map(|d| done.join(d).join(name))
                .find(|f| f.exists())
                .unwrap();
            let text = std::fs::read_to_string(path).unwrap();
            text.split("Report-ID: ")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(ids.len() <= N + killed, "{} copies after {killed} kills", ids.len());
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "every message arrived in --move-to");
}

#[test]
#[ignore = "needs tests/real-peers/dovecot.sh start"]
fn watch_imports_new_mail_while_idling_and_after_the_server_drops_the_session() {
    let p = peer();
    let folder = fresh("watched");
    let dir = p.folder("watcher", &folder);
    let store = tempfile::tempdir().unwrap();
    let mut child = p
        .fetch("watcher", &p.url(&folder), store.path())
        .arg("--watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for_line = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no output line with {needle:?} within 30 s");
    };
    std::thread::sleep(Duration::from_secs(2)); // connected and idling
    p.deliver(&dir, "w1", &report_mail("watch-1"));
    let first = wait_for_line("\"imported\"");
    assert!(first.contains(&format!("{folder};UID=1")), "{first}");
    // The server ends every session of the user; --watch reconnects.
    let kicked = Command::new("doveadm")
        .args(["-c", p.get("CONFIG"), "kick", "watcher"])
        .output()
        .unwrap();
    assert!(kicked.status.success(), "{}", String::from_utf8_lossy(&kicked.stderr));
    std::thread::sleep(Duration::from_millis(500));
    p.deliver(&dir, "w2", &report_mail("watch-2"));
    let second = wait_for_line("\"imported\"");
    assert!(second.contains(&format!("{folder};UID=2")), "{second}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reconnecting in 1s"), "{err}");
    assert_eq!(stored(store.path()), 2);
}
