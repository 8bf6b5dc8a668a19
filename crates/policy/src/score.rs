//! Scores per area and overall. (Stub: the formula is being built.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Area;

/// The score of one area, 0-100, and what cost the points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaScore {
    pub score: u8,
    /// `rule-id subject` of the failing findings that cost points.
    pub lost: Vec<String>,
    /// Indeterminate checks, excluded from the score.
    pub excluded: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub overall: u8,
    pub areas: BTreeMap<Area, AreaScore>,
}
