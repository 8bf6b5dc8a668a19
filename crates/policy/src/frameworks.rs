//! Framework mappings, as data: which controls of which regulation or
//! standard each rule gives evidence for, with the exact citation and the
//! basis of the mapping. (Stub: the data files and loader are being built.)

use serde::{Deserialize, Serialize};

/// One control of one framework, e.g. GDPR Art. 32(1)(a).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// Framework id, e.g. `gdpr`, `hipaa`, `pci-dss-4`, `iso-27001`, `nis2`.
    pub framework: String,
    /// The control's identifier within the framework, e.g. `Art. 32(1)(a)`.
    pub id: String,
    pub title: String,
    /// Exact citation of the primary text (document, article/section).
    pub citation: String,
}

/// All frameworks and the rule → control mappings.
#[derive(Debug, Clone, Default)]
pub struct Frameworks {}

impl Frameworks {
    /// The mappings built into this binary.
    pub fn builtin() -> &'static Frameworks {
        static BUILTIN: Frameworks = Frameworks {};
        &BUILTIN
    }

    /// The controls a rule gives evidence for.
    pub fn controls_for(&self, _rule_id: &str) -> Vec<&Control> {
        Vec::new()
    }
}
