//! The IMAP conversation (the I/O edge of this crate): connect with TLS or
//! STARTTLS, log in, select the folder, list what is not yet processed,
//! fetch one message without setting `\Seen`, mark or move it, and wait
//! with IDLE (RFC 2177). Every command has a timeout.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_imap::imap_proto::{Response, Status};
use async_imap::types::{Flag, UnsolicitedResponse};
use async_imap::{Client, Session};
use futures::TryStreamExt;
use mailwarden_roots::Roots;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::marks::{Action, Disposition, Scheme, uid_set};
use crate::url::{MailboxUrl, Security};
use crate::utf7;

type Stream = TlsStream<TcpStream>;

/// A password that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Everything needed to open the mailbox.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: MailboxUrl,
    pub user: String,
    pub password: Secret,
    /// Trust anchors for the server certificate (`--ca-file`, else webpki-roots).
    pub roots: Roots,
    /// Processed messages with stored reports go here (created if missing).
    pub move_to: Option<String>,
    /// The limit for connecting and for each command.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: cannot connect: {1}")]
    Connect(String, std::io::Error),
    #[error("{0}: TLS: {1}")]
    Tls(String, String),
    #[error("{0}: {1}")]
    Refused(String, String),
    #[error("{0}: login as {1:?} failed: {2}")]
    Login(String, String, String),
    #[error("{0}: folder {1:?}: {2}")]
    Folder(String, String, String),
    #[error("{0}: {1} timed out after {2:?}")]
    Timeout(String, &'static str, Duration),
    #[error("{0}: {1}: {2}")]
    Imap(String, &'static str, async_imap::error::Error),
}

/// A message waiting to be processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub uid: u32,
    /// RFC822.SIZE: the message is not downloaded when over the cap.
    pub size: u64,
}

/// Capabilities this client uses when the server has them.
#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    /// RFC 6851 MOVE.
    moves: bool,
    /// RFC 4315 UIDPLUS (UID EXPUNGE of one message).
    uidplus: bool,
    /// RFC 2177 IDLE.
    idle: bool,
}

/// An open, selected mailbox.
pub struct Mailbox {
    session: Session<Stream>,
    conf: Conf,
}

/// What a session knows besides its connection (kept across IDLE).
#[derive(Debug, Clone)]
struct Conf {
    /// Where the messages are read, for error messages.
    place: String,
    scheme: Scheme,
    caps: Caps,
    /// The `--move-to` folder's wire name.
    move_to: Option<String>,
    timeout: Duration,
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("conf", &self.conf)
            .finish_non_exhaustive()
    }
}

/// How often a server without IDLE is asked for news (NOOP).
const POLL: Duration = Duration::from_secs(60);

/// What woke an IDLE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server said something changed (a new message, usually).
    Changed,
    /// Nothing in the period: re-issue IDLE (RFC 2177 "at least every 29 minutes").
    Quiet,
}

async fn within<T, E>(
    place: &str,
    what: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, E>>,
    wrap: impl FnOnce(E) -> Error,
) -> Result<T, Error> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(wrap),
        Err(_) => Err(Error::Timeout(place.to_string(), what, limit)),
    }
}

impl Mailbox {
    /// Connect, secure, log in, select `opts.url.folder` and make sure the
    /// `--move-to` folder exists.
    pub async fn open(opts: &Options) -> Result<Mailbox, Error> {
        let place = opts.url.to_string();
        let client = connect(opts, &place).await?;
        let t = opts.timeout;
        let login = tokio::time::timeout(t, client.login(&opts.user, &opts.password.0)).await;
        let mut session = match login {
            Err(_) => return Err(Error::Timeout(place, "login", t)),
            Ok(Err((e, _))) => return Err(Error::Login(place, opts.user.clone(), e.to_string())),
            Ok(Ok(s)) => s,
        };
        let caps = within(&place, "CAPABILITY", t, session.capabilities(), |e| {
            Error::Imap(place.clone(), "CAPABILITY", e)
        })
        .await?;
        let caps = Caps {
            moves: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
            idle: caps.has_str("IDLE"),
        };
        let folder = utf7::encode(&opts.url.folder);
        let selected = within(&place, "SELECT", t, session.select(&folder), |e| {
            Error::Folder(place.clone(), opts.url.folder.clone(), e.to_string())
        })
        .await?;
        let scheme = Scheme::for_folder(selected.permanent_flags.contains(&Flag::MayCreate));
        let conf = Conf {
            place,
            scheme,
            caps,
            move_to: opts.move_to.as_deref().map(utf7::encode),
            timeout: t,
        };
        let mut mailbox = Mailbox { session, conf };
        if let Some(target) = opts.move_to.as_deref() {
            mailbox.ensure_folder(target).await?;
        }
        Ok(mailbox)
    }

    /// How this folder marks processed messages.
    pub fn scheme(&self) -> Scheme {
        self.conf.scheme
    }

    async fn ensure_folder(&mut self, name: &str) -> Result<(), Error> {
        let wire = utf7::encode(name);
        let (place, t) = (self.conf.place.clone(), self.conf.timeout);
        let listed: Vec<_> = within(
            &place,
            "LIST",
            t,
            async { self.session.list(Some(""), Some(&wire)).await?.try_collect().await },
            |e| Error::Imap(place.clone(), "LIST", e),
        )
        .await?;
        if listed.is_empty() {
            within(&place, "CREATE", t, self.session.create(&wire), |e| {
                Error::Folder(place.clone(), name.to_string(), format!("cannot create it: {e}"))
            })
            .await?;
        }
        Ok(())
    }

    /// The messages not yet processed, oldest UID first.
    pub async fn pending(&mut self) -> Result<Vec<Pending>, Error> {
        let (place, t) = (self.conf.place.clone(), self.conf.timeout);
        let criteria = self.conf.scheme.unprocessed();
        let found = within(&place, "UID SEARCH", t, self.session.uid_search(&criteria), |e| {
            Error::Imap(place.clone(), "UID SEARCH", e)
        })
        .await?;
        let mut uids: Vec<u32> = found.into_iter().collect();
        uids.sort_unstable();
        let mut pending = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(500) {
            let set = uid_set(chunk);
            let fetches: Vec<_> = within(
                &place,
                "UID FETCH RFC822.SIZE",
                t,
                async {
                    self.session
                        .uid_fetch(&set, "(UID RFC822.SIZE)")
                        .await?
                        .try_collect()
                        .await
                },
                |e| Error::Imap(place.clone(), "UID FETCH", e),
            )
            .await?;
            for f in fetches {
                if let (Some(uid), Some(size)) = (f.uid, f.size) {
                    pending.push(Pending {
                        uid,
                        size: u64::from(size),
                    });
                }
            }
        }
        pending.sort_unstable_by_key(|p| p.uid);
        pending.dedup_by_key(|p| p.uid);
        Ok(pending)
    }

    /// The whole message, fetched with BODY.PEEK[] so that reading it does
    /// not set `\Seen` (RFC 3501 §6.4.5); `None` when it was expunged meanwhile.
    pub async fn fetch(&mut self, uid: u32) -> Result<Option<Vec<u8>>, Error> {
        let (place, t) = (self.conf.place.clone(), self.conf.timeout);
        let fetches: Vec<_> = within(
            &place,
            "UID FETCH BODY.PEEK[]",
            t,
            async {
                self.session
                    .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                    .await?
                    .try_collect()
                    .await
            },
            |e| Error::Imap(place.clone(), "UID FETCH", e),
        )
        .await?;
        Ok(fetches
            .iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.body())
            .map(<[u8]>::to_vec))
    }

    /// Mark or move a processed message. Call only once its reports are stored.
    pub async fn finish(&mut self, uid: u32, disposition: Disposition) -> Result<(), Error> {
        let (place, t) = (self.conf.place.clone(), self.conf.timeout);
        let set = uid.to_string();
        match crate::marks::action(self.conf.scheme, disposition, self.conf.move_to.as_deref()) {
            Action::Flag(flags) => {
                self.store(&set, &format!("+FLAGS.SILENT {flags}")).await?;
            }
            Action::Move(folder) if self.conf.caps.moves => {
                within(&place, "UID MOVE", t, self.session.uid_mv(&set, &folder), |e| {
                    Error::Imap(place.clone(), "UID MOVE", e)
                })
                .await?;
            }
            Action::Move(folder) => {
                // RFC 6851 §1: without MOVE, "COPY, STORE +FLAGS.SILENT
                // \Deleted and EXPUNGE"; the copy is made first, so a crash
                // leaves two copies, never none. The processed mark goes on
                // with \Deleted, so the original is not read again.
                within(&place, "UID COPY", t, self.session.uid_copy(&set, &folder), |e| {
                    Error::Imap(place.clone(), "UID COPY", e)
                })
                .await?;
                let flags = self.conf.scheme.flags(Disposition::Stored);
                let inner = flags.trim_start_matches('(').trim_end_matches(')');
                self.store(&set, &format!("+FLAGS.SILENT (\\Deleted {inner})")).await?;
                if self.conf.caps.uidplus {
                    let expunged = async { self.session.uid_expunge(&set).await?.try_collect::<Vec<_>>().await };
                    within(&place, "UID EXPUNGE", t, expunged, |e| {
                        Error::Imap(place.clone(), "UID EXPUNGE", e)
                    })
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn store(&mut self, set: &str, query: &str) -> Result<(), Error> {
        let (place, t) = (self.conf.place.clone(), self.conf.timeout);
        within(
            &place,
            "UID STORE",
            t,
            async { self.session.uid_store(set, query).await?.try_collect::<Vec<_>>().await },
            |e| Error::Imap(place.clone(), "UID STORE", e),
        )
        .await?;
        Ok(())
    }

    /// Whether the server announced a change since the last command
    /// (EXISTS or RECENT arrive with any response), draining the notes.
    fn heard_of_news(&self) -> bool {
        let mut news = false;
        while let Ok(note) = self.session.unsolicited_responses.try_recv() {
            news |= matches!(note, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_));
        }
        news
    }

    /// Wait until the folder changes or `period` passes: IDLE (RFC 2177)
    /// when the server has it, else a NOOP after a minute at most.
    pub async fn wait(self, period: Duration) -> Result<(Mailbox, Wake), Error> {
        if self.heard_of_news() {
            return Ok((self, Wake::Changed));
        }
        if !self.conf.caps.idle {
            let mut me = self;
            tokio::time::sleep(period.min(POLL)).await;
            let (place, t) = (me.conf.place.clone(), me.conf.timeout);
            within(&place, "NOOP", t, me.session.noop(), |e| {
                Error::Imap(place.clone(), "NOOP", e)
            })
            .await?;
            let wake = if me.heard_of_news() { Wake::Changed } else { Wake::Quiet };
            return Ok((me, wake));
        }
        let Mailbox { session, conf } = self;
        let (place, timeout) = (conf.place.clone(), conf.timeout);
        let mut idle = session.idle();
        within(&place, "IDLE", timeout, idle.init(), |e| {
            Error::Imap(place.clone(), "IDLE", e)
        })
        .await?;
        let woke = {
            // The server's "* OK Still here" keeps the inner wait alive; the
            // outer limit re-issues IDLE within RFC 2177's 29 minutes.
            let (wait, _stop) = idle.wait_with_timeout(period);
            tokio::time::timeout(period, wait).await
        };
        let wake = match woke {
            Ok(Ok(async_imap::extensions::idle::IdleResponse::NewData(data))) => match data.parsed() {
                Response::Data {
                    status: Status::Bye,
                    outcome,
                    ..
                } => {
                    let why = outcome.information.as_deref().unwrap_or("BYE").to_string();
                    return Err(Error::Refused(place, format!("the server closed the session: {why}")));
                }
                _ => Wake::Changed,
            },
            Ok(Ok(_)) | Err(_) => Wake::Quiet,
            Ok(Err(e)) => return Err(Error::Imap(place, "IDLE", e)),
        };
        let session = within(&place, "DONE", timeout, idle.done(), |e| {
            Error::Imap(place.clone(), "DONE", e)
        })
        .await?;
        let me = Mailbox { session, conf };
        let wake = if me.heard_of_news() { Wake::Changed } else { wake };
        Ok((me, wake))
    }

    /// Say goodbye (errors ignored: the work is done either way).
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(self.conf.timeout, self.session.logout()).await;
    }
}

/// TCP, then TLS at once or after STARTTLS; returns a client past the greeting.
async fn connect(opts: &Options, place: &str) -> Result<Client<Stream>, Error> {
    let url = &opts.url;
    let t = opts.timeout;
    let tcp = within(
        place,
        "connect",
        t,
        TcpStream::connect((url.host.as_str(), url.port)),
        |e| Error::Connect(place.to_string(), e),
    )
    .await?;
    let tcp = match url.security {
        Security::Tls => tcp,
        Security::StartTls => {
            let mut plain = Client::new(tcp);
            greeting(&mut plain, place, t).await?;
            // RFC 3501 §6.2.1: after the tagged OK, "the client MUST
            // discard cached information about server capabilities" and
            // start TLS; nothing is sent in the clear but this command.
            within(
                place,
                "STARTTLS",
                t,
                plain.run_command_and_check_ok("STARTTLS", None),
                |e| Error::Refused(place.to_string(), format!("STARTTLS refused: {e}")),
            )
            .await?;
            plain.into_inner()
        }
    };
    let tls = handshake(tcp, opts, place).await?;
    let mut client = Client::new(tls);
    if url.security == Security::Tls {
        greeting(&mut client, place, t).await?;
    }
    Ok(client)
}

async fn handshake(tcp: TcpStream, opts: &Options, place: &str) -> Result<Stream, Error> {
    let name = server_name(&opts.url.host).map_err(|why| Error::Tls(place.to_string(), why.to_string()))?;
    let connector = TlsConnector::from(client_config(&opts.roots));
    within(
        place,
        "TLS handshake",
        opts.timeout,
        connector.connect(name, tcp),
        |e| Error::Tls(place.to_string(), e.to_string()),
    )
    .await
}

/// The server's first line must be `* OK` (RFC 3501 §7.1.1); `* BYE` says why not.
async fn greeting<T>(client: &mut Client<T>, place: &str, t: Duration) -> Result<(), Error>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + fmt::Debug + Send,
{
    let read = within(place, "greeting", t, client.read_response(), |e| {
        Error::Connect(place.to_string(), e)
    })
    .await?;
    let Some(line) = read else {
        return Err(Error::Refused(place.to_string(), "closed before greeting".into()));
    };
    match line.parsed() {
        Response::Data { status: Status::Ok, .. } => Ok(()),
        Response::Data { status, outcome, .. } => Err(Error::Refused(
            place.to_string(),
            format!("greeting {status:?}: {}", outcome.information.as_deref().unwrap_or("")),
        )),
        other => Err(Error::Refused(
            place.to_string(),
            format!("unexpected greeting {other:?}"),
        )),
    }
}

/// A host that can name no certificate: neither an IP address nor a DNS name.
#[derive(Debug, thiserror::Error)]
#[error("{host:?} is not a valid host name: {reason}")]
pub struct InvalidHostName {
    pub host: String,
    pub reason: String,
}

/// The name the certificate must carry: an IP address or a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, InvalidHostName> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(host.to_string()).map_err(|e| InvalidHostName {
        host: host.to_string(),
        reason: e.to_string(),
    })
}

/// rustls with ring (the workspace's provider), verifying against `roots`.
pub fn client_config(roots: &Roots) -> Arc<rustls::ClientConfig> {
    let store = rustls::RootCertStore {
        roots: roots.anchors().to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(store).with_no_client_auth());
    // ring supports the default versions; `expect` would only fire on a
    // rustls built without TLS 1.2 and 1.3.
    Arc::new(config.unwrap_or_else(|e| unreachable!("ring has the default TLS versions: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_hosts_are_checked_as_ip_addresses_and_names_as_names() {
        assert!(matches!(server_name("127.0.63.1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("::1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("mail.example.com"), Ok(ServerName::DnsName(_))));
        let err = server_name("bad name!").unwrap_err();
        assert_eq!(err.host, "bad name!");
        assert!(
            err.to_string().starts_with("\"bad name!\" is not a valid host name: "),
            "{err}"
        );
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let opts = Options {
            url: MailboxUrl::parse("imaps://h/INBOX", false).unwrap(),
            user: "u".into(),
            password: Secret("hunter2-secret".into()),
            roots: Roots::webpki(),
            move_to: None,
            timeout: Duration::from_secs(1),
        };
        let shown = format!("{opts:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Secret(..)"));
    }
}
