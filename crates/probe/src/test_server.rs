//! A fake SMTP server with STARTTLS on `127.0.0.1:0`, for tests (this
//! crate's, and other crates' through the `test-server` feature).
//!
//! It plays a scripted conversation ([`Behaviour`]) with a certificate
//! chain made by rcgen (a test CA and a leaf for the host name), records
//! the commands it received and the SNI it saw, and answers every
//! connection until dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PublicKeyData};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the fake server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Multi-line greeting and EHLO reply, STARTTLS, TLS, 221 to QUIT.
    Good,
    /// EHLO does not advertise STARTTLS.
    NoStartTls,
    /// `454 4.7.0 TLS not available` to STARTTLS.
    StartTlsRefused,
    /// A second reply injected right after the 220 to STARTTLS, then TLS.
    Inject,
    /// Closes the connection after reading EHLO, without replying.
    CloseAfterEhlo,
    /// Accepts and never says anything.
    Silent,
    /// Answers like a web server.
    NotSmtp,
    /// Like `Good`, but speaks only TLS 1.2.
    Tls12Only,
    /// Reads the ClientHello and answers with a fatal `handshake_failure` alert.
    TlsAlert,
}

/// What the server saw, shared with the test.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every command line received, plaintext and over TLS, in order.
    pub commands: Vec<String>,
    /// The SNI of each TLS handshake.
    pub sni: Vec<Option<String>>,
}

/// A running fake server; it stops when dropped.
pub struct FakeSmtp {
    /// Where it listens (127.0.0.1, an OS-assigned port).
    pub addr: SocketAddr,
    /// The chain it presents, DER: leaf, then the test CA.
    pub chain: Vec<Vec<u8>>,
    /// The leaf's SubjectPublicKeyInfo, DER, straight from its key pair.
    pub leaf_spki: Vec<u8>,
    /// What it has seen so far.
    pub seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSmtp {
    /// Start a server presenting a certificate for `host`, on 127.0.0.1
    /// with an OS-assigned port.
    pub async fn start(behaviour: Behaviour, host: &str) -> FakeSmtp {
        FakeSmtp::start_at(behaviour, host, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// Start a server on `addr` (a loopback address; port 0 for an
    /// OS-assigned one), with its own test CA and leaf for `host`.
    pub async fn start_at(behaviour: Behaviour, host: &str, addr: SocketAddr) -> std::io::Result<FakeSmtp> {
        assert!(addr.ip().is_loopback(), "test servers listen on loopback only");
        let (chain, key, leaf_spki) = test_chain(host);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = if behaviour == Behaviour::Tls12Only {
            &[&rustls::version::TLS12]
        } else {
            rustls::DEFAULT_VERSIONS
        };
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain.iter().map(|c| CertificateDer::from(c.clone())).collect(), key)
            .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (host, shared) = (host.to_string(), seen.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, host, seen) = (acceptor.clone(), host.clone(), shared.clone());
                tokio::spawn(async move {
                    let _ = converse(stream, behaviour, &host, acceptor, seen).await;
                });
            }
        });
        Ok(FakeSmtp {
            addr,
            chain,
            leaf_spki,
            seen,
            task,
        })
    }

    /// The commands received so far.
    pub fn commands(&self) -> Vec<String> {
        self.seen.lock().expect("lock").commands.clone()
    }
}

/// A test CA and a leaf for `host` signed by it: (chain DER leaf first,
/// the leaf's private key, the leaf's SPKI DER).
pub fn test_chain(host: &str) -> (Vec<Vec<u8>>, PrivateKeyDer<'static>, Vec<u8>) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mailwarden test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params = CertificateParams::new(vec![host.to_string()]).expect("leaf params");
    leaf_params.distinguished_name.push(DnType::CommonName, host);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (
        vec![leaf.der().to_vec(), ca.der().to_vec()],
        key,
        leaf_key.subject_public_key_info(),
    )
}

async fn converse(
    stream: TcpStream,
    behaviour: Behaviour,
    host: &str,
    acceptor: tokio_rustls::TlsAcceptor,
    seen: Arc<Mutex<Seen>>,
) -> std::io::Result<()> {
    let mut io = BufReader::new(stream);
    match behaviour {
        Behaviour::Silent => {
            // Hold the connection open until the client gives up.
            let mut line = String::new();
            let _ = io.read_line(&mut line).await;
            return Ok(());
        }
        Behaviour::NotSmtp => {
            io.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await?;
            return Ok(());
        }
        _ => {}
    }
    io.write_all(format!("220-{host} ESMTP fake\r\n220 no UCE\r\n").as_bytes())
        .await?;
    loop {
        let Some(cmd) = read_command(&mut io, &seen).await? else {
            return Ok(());
        };
        let verb = cmd.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" if behaviour == Behaviour::CloseAfterEhlo => return Ok(()),
            "EHLO" => {
                let tls = if behaviour == Behaviour::NoStartTls {
                    ""
                } else {
                    "250-STARTTLS\r\n"
                };
                io.write_all(format!("250-{host} hello\r\n250-PIPELINING\r\n{tls}250 8BITMIME\r\n").as_bytes())
                    .await?;
            }
            "STARTTLS" if behaviour == Behaviour::StartTlsRefused => {
                io.write_all(b"454 4.7.0 TLS not available due to local problem\r\n")
                    .await?;
            }
            "STARTTLS" => {
                if behaviour == Behaviour::Inject {
                    io.write_all(b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n")
                        .await?;
                } else {
                    io.write_all(b"220 2.0.0 Ready to start TLS\r\n").await?;
                }
                if behaviour == Behaviour::TlsAlert {
                    let mut hello = [0u8; 512];
                    let _ = io.read(&mut hello).await?;
                    // A TLS 1.2 record: alert, fatal (2), handshake_failure (40).
                    return io.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]).await;
                }
                let tls = acceptor.accept(io.into_inner()).await?;
                let sni = tls.get_ref().1.server_name().map(str::to_string);
                seen.lock().expect("lock").sni.push(sni);
                return after_tls(BufReader::new(tls), &seen).await;
            }
            "QUIT" => {
                io.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => io.write_all(b"502 5.5.1 Not implemented here\r\n").await?,
        }
    }
}

async fn after_tls<S: AsyncRead + AsyncWrite + Unpin>(mut io: BufReader<S>, seen: &Mutex<Seen>) -> std::io::Result<()> {
    while let Some(cmd) = read_command(&mut io, seen).await? {
        if cmd.eq_ignore_ascii_case("QUIT") {
            io.write_all(b"221 2.0.0 Bye\r\n").await?;
            io.flush().await?;
            return io.into_inner().shutdown().await;
        }
        io.write_all(b"502 5.5.1 Not implemented here\r\n").await?;
        io.flush().await?;
    }
    Ok(())
}

async fn read_command<S: AsyncRead + Unpin>(
    io: &mut BufReader<S>,
    seen: &Mutex<Seen>,
) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if io.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let cmd = line.trim_end_matches(['\r', '\n']).to_string();
    seen.lock().expect("lock").commands.push(cmd.clone());
    Ok(Some(cmd))
}
