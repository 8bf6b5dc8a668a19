//! Why the nameserver judge could not read what it needed: typed, and
//! shown in the words `ns.lookup-failed` has always quoted.

use std::fmt;
use std::net::IpAddr;

use mailwarden_model::Status;

/// One reason the zone or its delegation could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Unread {
    /// A lookup through the resolver failed: `what` (`SOA record`, `NS
    /// records`) of `name`, answered with `status`.
    Lookup {
        what: &'static str,
        name: String,
        status: Status,
    },
    /// No name at or above `domain`, below the top-level domain, has an SOA.
    NoApex { domain: String },
    /// No zone above `domain` resolves.
    NoEnclosingZone { domain: String },
    /// No server of the `parent` zone has an address.
    NoParentAddress { parent: String },
    /// A `parent` server said `child` has no NS records (`status`).
    NothingDelegated {
        server: IpAddr,
        parent: String,
        child: String,
        status: Status,
    },
    /// The direct question `NS child` at `server` was not in the evidence.
    NotAsked {
        child: String,
        server: IpAddr,
        status: Status,
    },
    /// No `parent` server gave the delegation of `child`; each server
    /// tried and what it answered.
    NoServerAnswered {
        parent: String,
        child: String,
        failures: Vec<(IpAddr, Status)>,
    },
}

impl Unread {
    /// The SOA record of `name` could not be read.
    pub(super) fn soa(name: &str, status: &Status) -> Self {
        Self::lookup("SOA record", name, status)
    }

    /// The NS records of `name` could not be read.
    pub(super) fn ns(name: &str, status: &Status) -> Self {
        Self::lookup("NS records", name, status)
    }

    fn lookup(what: &'static str, name: &str, status: &Status) -> Self {
        Self::Lookup {
            what,
            name: name.to_string(),
            status: status.clone(),
        }
    }
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unread::Lookup { what, name, status } => write!(f, "the {what} of {name}: {}", status.describe()),
            Unread::NoApex { domain } => write!(
                f,
                "no zone apex (SOA record) found at or above {domain} below the top-level domain"
            ),
            Unread::NoEnclosingZone { domain } => write!(f, "no enclosing zone of {domain} resolves"),
            Unread::NoParentAddress { parent } => write!(f, "no server of {parent} has an address"),
            Unread::NothingDelegated {
                server,
                parent,
                child,
                status,
            } => write!(
                f,
                "{server}, a server of {parent}, answered that {child} has no NS records ({}): the parent delegates nothing there",
                status.describe()
            ),
            Unread::NotAsked { child, server, status } => write!(f, "NS {child} at {server}: {}", status.describe()),
            Unread::NoServerAnswered {
                parent,
                child,
                failures,
            } => {
                write!(f, "no server of {parent} gave the delegation of {child}: ")?;
                for (i, (server, status)) in failures.iter().enumerate() {
                    let sep = if i > 0 { "; " } else { "" };
                    write!(f, "{sep}{server}: {}", status.describe())?;
                }
                Ok(())
            }
        }
    }
}
