//! Quirks read anyway: each one is said, so a user can tell a reporter.

use serde::Serialize;

use crate::rejection::Position;

/// Past this many, further warnings are only counted (a hostile report
/// must not grow memory through warnings).
const MAX_WARNINGS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Warnings {
    pub items: Vec<Warning>,
    /// Warnings beyond the cap, counted only.
    pub more: usize,
}

impl Warnings {
    pub fn push(&mut self, message: impl Into<String>, position: Option<Position>) {
        if self.items.len() < MAX_WARNINGS {
            self.items.push(Warning {
                message: message.into(),
                position,
            });
        } else {
            self.more += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len() + self.more
    }
}
