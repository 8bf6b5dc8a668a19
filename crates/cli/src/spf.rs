//! `mailwarden spf check`.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::args::SpfCheckArgs;

pub async fn check(_args: SpfCheckArgs) -> Result<ExitCode> {
    bail!("spf check: not built yet")
}
