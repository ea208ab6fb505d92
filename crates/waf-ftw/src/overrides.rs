//! Tests that cannot pass for a reason outside the engine (the HTTP front end answers first,
//! the suite needs a different configuration, ...), each with its reason.
//!
//! File format (YAML list): `- {rule_id: 920100, test_ids: [4], reason: "..."}`; an empty
//! or missing `test_ids` covers every test of the rule.

use std::path::Path;

use serde::Deserialize;

/// One override entry.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Override {
    pub rule_id: u64,
    #[serde(default)]
    pub test_ids: Vec<u64>,
    pub reason: String,
}

/// A list of overrides.
#[derive(Debug, Clone, Default)]
pub struct Overrides(pub Vec<Override>);

/// Why the overrides file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OverridesError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Yaml {
        path: String,
        source: serde_yaml::Error,
    },
    #[error("{path}: override for rule {rule_id} has an empty reason")]
    NoReason { path: String, rule_id: u64 },
}

impl Overrides {
    /// Loads and validates an overrides file.
    pub fn load(path: &Path) -> Result<Overrides, OverridesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| OverridesError::Io {
            path: shown.clone(),
            source,
        })?;
        Overrides::parse(&text, &shown)
    }

    /// Parses overrides text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Overrides, OverridesError> {
        let list: Vec<Override> =
            serde_yaml::from_str(text).map_err(|source| OverridesError::Yaml {
                path: origin.to_string(),
                source,
            })?;
        if let Some(bad) = list.iter().find(|o| o.reason.trim().is_empty()) {
            return Err(OverridesError::NoReason {
                path: origin.to_string(),
                rule_id: bad.rule_id,
            });
        }
        Ok(Overrides(list))
    }

    /// The reason a test is overridden, if it is.
    pub fn reason(&self, rule_id: u64, test_id: u64) -> Option<&str> {
        self.0
            .iter()
            .find(|o| {
                o.rule_id == rule_id && (o.test_ids.is_empty() || o.test_ids.contains(&test_id))
            })
            .map(|o| o.reason.as_str())
    }
}

/// The overrides shipped with this crate (`overrides.yaml`).
pub fn bundled() -> Overrides {
    Overrides::parse(include_str!("../overrides.yaml"), "overrides.yaml").unwrap_or_default()
}
