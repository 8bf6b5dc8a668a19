//! Being written (issue 4).

use mailwarden_model::{DnsView, Finding};

use crate::Context;

pub fn judge(_ctx: &Context<'_>, _view: &DnsView<'_>) -> Vec<Finding> {
    Vec::new()
}
