//! Compiles one `SecRule`/`SecAction` directive into a [`Link`] plus rule-level properties,
//! applying the phase's `SecDefaultAction` (transformations, disruptive action for `block`,
//! log flags, tags, status).

use crate::action::{Action, Disruptive, parse_actions};
use crate::directive::Directive;
use crate::error::CompileResult;
use crate::operator::{DataFileLoader, Operator};
use crate::rule::{Link, Rule, Test};
use crate::transform::Transform;
use crate::variable::parse_targets;
use std::path::{Path, PathBuf};

/// Loads `@pmFromFile` data relative to the rule file's directory.
pub struct FileLoader {
    /// Directory of the rule file.
    pub base: PathBuf,
}

impl DataFileLoader for FileLoader {
    fn load(&self, name: &str) -> Result<String, String> {
        let p = Path::new(name);
        let path = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        };
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// A compiled directive: the link and, for chain starters, the rule-level fields.
pub struct Compiled {
    /// The link.
    pub link: Link,
    /// Set when the directive is a chain starter.
    pub rule: Option<Rule>,
    /// Whether the directive has `chain` (the next SecRule continues it).
    pub chained: bool,
}

/// Splits `"!@rx foo"` into (negated, name, argument).
pub fn split_operator(text: &str) -> (bool, String, String) {
    let t = text.trim_start();
    let (negated, t) = match t.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, t),
    };
    match t.strip_prefix('@') {
        Some(rest) => {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let arg = rest[end..].trim_start();
            (negated, rest[..end].to_string(), arg.to_string())
        }
        None => (negated, "rx".to_string(), t.to_string()),
    }
}

/// Applies `t:` actions in order to `chain` (`t:none` clears it).
pub fn apply_transforms(chain: &mut Vec<Transform>, actions: &[Action]) {
    for a in actions {
        if let Action::Transform(t) = a {
            match t {
                None => chain.clear(),
                Some(t) => chain.push(*t),
            }
        }
    }
}

/// Compiles `d`. `defaults` are the SecDefaultAction actions for the rule's phase (looked up
/// through `defaults_for`); `parent_phase` is set for chain children.
pub fn compile_directive(
    d: &Directive,
    defaults_for: &dyn Fn(u8) -> Vec<Action>,
    parent_phase: Option<u8>,
    base_dir: &Path,
) -> CompileResult<Compiled> {
    let is_action = d.name.eq_ignore_ascii_case("SecAction");
    let (targets_text, op_text, actions_text) = if is_action {
        match d.args.as_slice() {
            [a] => (None, None, a.as_str()),
            _ => return Err(d.origin.error("SecAction takes exactly one argument")),
        }
    } else {
        match d.args.as_slice() {
            [v, o] => (Some(v.as_str()), Some(o.as_str()), ""),
            [v, o, a] => (Some(v.as_str()), Some(o.as_str()), a.as_str()),
            _ => return Err(d.origin.error("SecRule takes 2 or 3 arguments")),
        }
    };
    let err = |e: String| d.origin.error(e);
    let actions = parse_actions(actions_text).map_err(err)?;

    let (mut targets, mut exclusions) = (Vec::new(), Vec::new());
    if let Some(t) = targets_text {
        for target in parse_targets(t).map_err(err)? {
            if target.exclude {
                exclusions.push(target);
            } else {
                targets.push(target);
            }
        }
    }
    let test = match op_text {
        None => Test::Always,
        Some(o) => {
            let (negated, name, arg) = split_operator(o);
            let loader = FileLoader {
                base: base_dir.to_path_buf(),
            };
            let op = Operator::compile(&name, &arg, negated, &loader)
                .map_err(|e| d.origin.error(e.to_string()))?;
            Test::Operator(op)
        }
    };

    let mut id = None;
    let mut phase = None;
    let mut chained = false;
    for a in &actions {
        match a {
            Action::Id(n) => id = Some(*n),
            Action::Phase(p) => phase = Some(*p),
            Action::Chain => chained = true,
            _ => {}
        }
    }
    if let Some(pp) = parent_phase {
        for a in &actions {
            let bad = match a {
                Action::Id(_) => Some("id"),
                Action::Phase(_) => Some("phase"),
                Action::Disruptive(_) => Some("a disruptive action"),
                Action::SkipAfter(_) | Action::Skip(_) => Some("skip/skipAfter"),
                _ => None,
            };
            if let Some(what) = bad {
                return Err(d
                    .origin
                    .error(format!("{what} is only allowed in the chain starter")));
            }
        }
        let mut chain = Vec::new();
        apply_transforms(&mut chain, &defaults_for(pp));
        apply_transforms(&mut chain, &actions);
        let link = make_link(d, targets, exclusions, test, chain, &actions, &[]);
        return Ok(Compiled {
            link,
            rule: None,
            chained,
        });
    }

    let id = id.ok_or_else(|| {
        d.origin
            .error(format!("{} is missing an id action", d.name))
    })?;
    let phase = phase.unwrap_or(2);
    let defaults = defaults_for(phase);
    let mut chain = Vec::new();
    apply_transforms(&mut chain, &defaults);
    apply_transforms(&mut chain, &actions);

    let mut rule = Rule {
        id,
        phase,
        links: Vec::new(),
        tags: Vec::new(),
        severity: None,
        disruptive: Disruptive::Pass,
        status: None,
        log: true,
        skip_after: None,
        skip: 0,
    };
    let (mut own, mut default_dis, mut block) = (None, None, false);
    for (list, is_default) in [(&defaults, true), (&actions, false)] {
        for a in list.iter() {
            match a {
                Action::Tag(t) => rule.tags.push(t.clone()),
                Action::Severity(s) => rule.severity = Some(*s),
                Action::Status(s) => rule.status = Some(*s),
                Action::Log => rule.log = true,
                Action::NoLog => rule.log = false,
                Action::SkipAfter(m) if !is_default => rule.skip_after = Some(m.clone()),
                Action::Skip(n) if !is_default => rule.skip = *n,
                Action::Disruptive(Disruptive::Block) => block = true,
                Action::Disruptive(dis) if is_default => default_dis = Some(dis.clone()),
                Action::Disruptive(dis) => own = Some(dis.clone()),
                _ => {}
            }
        }
    }
    rule.disruptive = match (own, block, default_dis) {
        (Some(d), _, _) => d,
        (None, true, Some(d)) => d,
        _ => Disruptive::Pass,
    };
    let link = make_link(d, targets, exclusions, test, chain, &actions, &defaults);
    Ok(Compiled {
        link,
        rule: Some(rule),
        chained,
    })
}

fn make_link(
    d: &Directive,
    targets: Vec<crate::variable::Target>,
    exclusions: Vec<crate::variable::Target>,
    test: Test,
    transforms: Vec<Transform>,
    actions: &[Action],
    defaults: &[Action],
) -> Link {
    let mut link = Link {
        targets,
        exclusions,
        test,
        transforms,
        chain_id: 0,
        chain_trigger: None,
        prefilter: None,
        live_slot: None,
        memoised: false,
        direct_tx: None,
        target_set: None,
        group: None,
        group_bit: None,
        setvars: Vec::new(),
        actions: Vec::new(),
        capture: false,
        multi_match: false,
        msg: None,
        logdata: None,
        origin: d.origin.clone(),
    };
    for a in defaults.iter().chain(actions) {
        match a {
            Action::SetVar(s) => link.setvars.push(s.clone()),
            Action::Capture => link.capture = true,
            Action::MultiMatch => link.multi_match = true,
            Action::Msg(m) => link.msg = Some(m.clone()),
            Action::LogData(m) => link.logdata = Some(m.clone()),
            Action::Ctl(_)
            | Action::InitCol(..)
            | Action::ExpireVar(_)
            | Action::DeprecateVar(_) => link.actions.push(a.clone()),
            _ => {}
        }
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_operators() {
        assert_eq!(
            split_operator("!@rx ^a b"),
            (true, "rx".into(), "^a b".into())
        );
        assert_eq!(
            split_operator("@unconditionalMatch"),
            (false, "unconditionalMatch".into(), "".into())
        );
        assert_eq!(split_operator("^foo"), (false, "rx".into(), "^foo".into()));
    }
}
