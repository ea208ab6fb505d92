//! [`EngineBuilder`]: reads SecLang files and text (following `Include`), applies rule
//! directives in order (chains, defaults, markers, target updates, removals) and builds an
//! immutable [`Engine`].

use crate::action::{Action, parse_actions};
use crate::compile::compile_directive;
use crate::config::EngineConfig;
use crate::directive::{Directive, parse_directives};
use crate::engine::Engine;
use crate::error::{CompileError, CompileResult};
use crate::rule::Rule;
use crate::variable::parse_targets;
use std::path::{Path, PathBuf};

const MAX_INCLUDE_DEPTH: usize = 16;

/// An item in file order, before phases are split.
#[derive(Debug)]
pub(crate) enum Item {
    Rule(Rule),
    Marker(String),
}

/// Collects rules and settings; see the crate docs for the supported directives.
#[derive(Debug)]
pub struct EngineBuilder {
    pub(crate) config: EngineConfig,
    pub(crate) items: Vec<Item>,
    pub(crate) prefilter: bool,
    pub(crate) memo: bool,
    pub(crate) clock: std::sync::Arc<dyn crate::store::Clock>,
    defaults: [Vec<Action>; 6],
    open_chain: Option<usize>,
    depth: usize,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            config: EngineConfig::default(),
            items: Vec::new(),
            prefilter: true,
            memo: true,
            clock: std::sync::Arc::new(crate::store::SystemClock),
            defaults: Default::default(),
            open_chain: None,
            depth: 0,
        }
    }
}

fn id_ranges(d: &Directive) -> CompileResult<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for arg in &d.args {
        for part in arg.split([' ', ',']).filter(|p| !p.is_empty()) {
            let parse = |s: &str| {
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| d.origin.error(format!("invalid rule id {s:?}")))
            };
            out.push(match part.split_once('-') {
                Some((a, b)) => (parse(a)?, parse(b)?),
                None => (parse(part)?, parse(part)?),
            });
        }
    }
    if out.is_empty() {
        return Err(d.origin.error(format!("{} needs at least one id", d.name)));
    }
    Ok(out)
}

impl EngineBuilder {
    /// Turns prefilters on (default) or off, and with them the other fast paths (phase 1's
    /// prologue, plain TX hits taken at the gate); results are identical either way.
    pub fn prefilter(&mut self, on: bool) -> &mut Self {
        self.prefilter = on;
        self
    }

    /// Turns the value memo on (default) or off; results are identical either way (see
    /// `memo.rs`).
    pub fn memo(&mut self, on: bool) -> &mut Self {
        self.memo = on;
        self
    }

    /// The clock of the engine's persistent collections (`expirevar`, collection timeouts);
    /// the system clock by default. Tests use a [`ManualClock`](crate::ManualClock).
    pub fn clock(&mut self, clock: std::sync::Arc<dyn crate::store::Clock>) -> &mut Self {
        self.clock = clock;
        self
    }

    /// Mutable access to the settings (e.g. to force DetectionOnly from code).
    pub fn config_mut(&mut self) -> &mut EngineConfig {
        &mut self.config
    }

    /// Loads a file (and the files it includes).
    pub fn add_file(&mut self, path: &Path) -> Result<&mut Self, CompileError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CompileError::new(
                &path.display().to_string(),
                0,
                format!("cannot read file: {e}"),
            )
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        self.add_text(&text, &path.display().to_string(), &base)
    }

    /// Loads SecLang text; `origin` names it in errors, `base_dir` resolves relative paths.
    pub fn add_text(
        &mut self,
        text: &str,
        origin: &str,
        base_dir: &Path,
    ) -> Result<&mut Self, CompileError> {
        for d in parse_directives(text, origin)? {
            self.directive(&d, base_dir)?;
        }
        Ok(self)
    }

    fn directive(&mut self, d: &Directive, base: &Path) -> CompileResult<()> {
        let lname = d.name.to_ascii_lowercase();
        if self.open_chain.is_some() && !matches!(lname.as_str(), "secrule") {
            return Err(d.origin.error(format!(
                "{} found where a chained SecRule was expected",
                d.name
            )));
        }
        match lname.as_str() {
            "secrule" | "secaction" => self.rule(d, base),
            "secmarker" => match d.args.as_slice() {
                [m] => {
                    self.items.push(Item::Marker(m.clone()));
                    Ok(())
                }
                _ => Err(d.origin.error("SecMarker takes exactly one argument")),
            },
            "secdefaultaction" => self.default_action(d),
            "include" | "includeoptional" => self.include(d, base, lname == "includeoptional"),
            "secruleremovebyid" => {
                let ranges = id_ranges(d)?;
                self.items.retain(|i| match i {
                    Item::Rule(r) => !ranges.iter().any(|(a, b)| (*a..=*b).contains(&r.id)),
                    Item::Marker(_) => true,
                });
                Ok(())
            }
            "secruleremovebytag" => {
                let [tag] = d.args.as_slice() else {
                    return Err(d
                        .origin
                        .error("SecRuleRemoveByTag takes exactly one argument"));
                };
                self.items.retain(|i| match i {
                    Item::Rule(r) => !r.tags.iter().any(|t| t == tag),
                    Item::Marker(_) => true,
                });
                Ok(())
            }
            "secruleupdatetargetbyid" => self.update_target(d),
            _ => {
                if self.config.apply(d)? {
                    Ok(())
                } else {
                    Err(d.origin.error(format!("unsupported directive {}", d.name)))
                }
            }
        }
    }

    fn rule(&mut self, d: &Directive, base: &Path) -> CompileResult<()> {
        let defaults = self.defaults.clone();
        let defaults_for = move |p: u8| defaults[p as usize].clone();
        let parent_phase = self.open_chain.and_then(|i| match &self.items[i] {
            Item::Rule(r) => Some(r.phase),
            Item::Marker(_) => None,
        });
        let compiled = compile_directive(d, &defaults_for, parent_phase, base)?;
        match (compiled.rule, self.open_chain) {
            (Some(mut rule), None) => {
                rule.links.push(compiled.link);
                self.items.push(Item::Rule(rule));
                self.open_chain = compiled.chained.then(|| self.items.len() - 1);
            }
            (None, Some(idx)) => {
                if let Item::Rule(r) = &mut self.items[idx] {
                    r.links.push(compiled.link);
                }
                if !compiled.chained {
                    self.open_chain = None;
                }
            }
            _ => return Err(d.origin.error("internal: chain state mismatch")),
        }
        if d.name.eq_ignore_ascii_case("SecAction") && compiled.chained {
            return Err(d.origin.error("SecAction cannot start a chain"));
        }
        Ok(())
    }

    fn default_action(&mut self, d: &Directive) -> CompileResult<()> {
        let [text] = d.args.as_slice() else {
            return Err(d
                .origin
                .error("SecDefaultAction takes exactly one argument"));
        };
        let actions = parse_actions(text).map_err(|e| d.origin.error(e))?;
        let mut phase = 2u8;
        let mut kept = Vec::new();
        for a in actions {
            match a {
                Action::Phase(p) => phase = p,
                Action::Id(_) | Action::Chain | Action::SkipAfter(_) | Action::Skip(_) => {
                    return Err(d
                        .origin
                        .error("SecDefaultAction cannot hold id, chain or skip"));
                }
                other => kept.push(other),
            }
        }
        if !kept.iter().any(|a| matches!(a, Action::Disruptive(_))) {
            return Err(d
                .origin
                .error("SecDefaultAction must name a disruptive action"));
        }
        self.defaults[phase as usize] = kept;
        Ok(())
    }

    fn include(&mut self, d: &Directive, base: &Path, optional: bool) -> CompileResult<()> {
        let [pattern] = d.args.as_slice() else {
            return Err(d.origin.error("Include takes exactly one argument"));
        };
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(d.origin.error("Include nested too deeply (loop?)"));
        }
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        let full_s = full.display().to_string();
        let mut paths: Vec<PathBuf> = glob::glob(&full_s)
            .map_err(|e| {
                d.origin
                    .error(format!("invalid Include pattern {pattern:?}: {e}"))
            })?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        if paths.is_empty() && !optional {
            return Err(d.origin.error(format!("Include {pattern:?}: no such file")));
        }
        self.depth += 1;
        let result = paths.iter().try_for_each(|p| self.add_file(p).map(|_| ()));
        self.depth -= 1;
        result
    }

    fn update_target(&mut self, d: &Directive) -> CompileResult<()> {
        let (ids, targets) = match d.args.as_slice() {
            [id, t] => (id, t),
            [id, t, _replace] => (id, t),
            _ => {
                return Err(d
                    .origin
                    .error("SecRuleUpdateTargetById takes 2 or 3 arguments"));
            }
        };
        let ranges = id_ranges(&Directive {
            name: d.name.clone(),
            args: vec![ids.clone()],
            origin: d.origin.clone(),
        })?;
        let parsed = parse_targets(targets).map_err(|e| d.origin.error(e))?;
        let mut found = false;
        for item in &mut self.items {
            let Item::Rule(r) = item else { continue };
            if !ranges.iter().any(|(a, b)| (*a..=*b).contains(&r.id)) {
                continue;
            }
            found = true;
            let link = &mut r.links[0];
            for t in &parsed {
                if t.exclude {
                    link.exclusions.push(t.clone());
                } else {
                    link.targets.push(t.clone());
                }
            }
        }
        if !found {
            return Err(d
                .origin
                .error(format!("SecRuleUpdateTargetById: no rule with id {ids}")));
        }
        Ok(())
    }

    /// Compiles everything into an [`Engine`].
    pub fn build(&mut self) -> Result<Engine, CompileError> {
        if self.open_chain.is_some() {
            let line = match self.items.last() {
                Some(Item::Rule(r)) => r.origin().clone(),
                _ => return Err(CompileError::new("", 0, "unterminated chain")),
            };
            return Err(line.error("rule has chain but no following SecRule"));
        }
        Engine::from_builder(self)
    }
}
