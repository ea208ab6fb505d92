//! Rule actions: splitting an action string (`"id:1,phase:2,t:none,msg:'a, b'"`) and
//! turning each `name[:value]` into a typed [`Action`].

use crate::ctl::Ctl;
use crate::macros::Macro;
use crate::setvar::{DeprecateVar, ExpireVar, SetVar};
use crate::transform::Transform;

/// How far `allow` reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowScope {
    /// `allow`: skip the rest of this and all later phases (except logging).
    All,
    /// `allow:phase`: skip the rest of the current phase.
    Phase,
    /// `allow:request`: skip the rest of the request phases.
    Request,
}

/// A disruptive action.
#[derive(Debug, Clone, PartialEq)]
pub enum Disruptive {
    /// `pass`.
    Pass,
    /// `deny`.
    Deny,
    /// `drop`.
    Drop,
    /// `allow[:scope]`.
    Allow(AllowScope),
    /// `redirect:URL`.
    Redirect(Macro),
    /// `block` — resolved through `SecDefaultAction` at compile time.
    Block,
}

/// One parsed action.
#[derive(Debug, Clone)]
pub enum Action {
    Id(u64),
    Phase(u8),
    Msg(Macro),
    LogData(Macro),
    Severity(u8),
    Tag(String),
    /// ver, rev, maturity, accuracy: kept as metadata only.
    Meta,
    /// `t:name`; `None` is `t:none`.
    Transform(Option<Transform>),
    Chain,
    Disruptive(Disruptive),
    Status(u16),
    Log,
    NoLog,
    AuditLog,
    NoAuditLog,
    Capture,
    MultiMatch,
    SetVar(SetVar),
    SkipAfter(String),
    Skip(u32),
    InitCol(String, Macro),
    ExpireVar(ExpireVar),
    DeprecateVar(DeprecateVar),
    Ctl(Ctl),
}

/// Splits an action list into `(name, value)` pairs; single-quoted values may hold commas
/// and `\'`.
pub fn split_actions(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && chars[i] != ':' && chars[i] != ',' {
            i += 1;
        }
        let name: String = chars[start..i]
            .iter()
            .collect::<String>()
            .trim()
            .to_string();
        if name.is_empty() {
            return Err(format!("empty action name in {text:?}"));
        }
        let mut value = None;
        if i < chars.len() && chars[i] == ':' {
            i += 1;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let mut v = String::new();
            if i < chars.len() && chars[i] == '\'' {
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    match chars[i] {
                        '\\' if i + 1 < chars.len() && chars[i + 1] == '\'' => {
                            v.push('\'');
                            i += 2;
                        }
                        '\'' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        c => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                if !closed {
                    return Err(format!("unterminated single quote in action {name}"));
                }
                while i < chars.len() && chars[i] != ',' {
                    if !chars[i].is_whitespace() {
                        return Err(format!("unexpected text after quoted value of {name}"));
                    }
                    i += 1;
                }
            } else {
                while i < chars.len() && chars[i] != ',' {
                    v.push(chars[i]);
                    i += 1;
                }
                v = v.trim().to_string();
            }
            value = Some(v);
        }
        out.push((name, value));
    }
    Ok(out)
}

fn need(name: &str, value: Option<String>) -> Result<String, String> {
    value.ok_or_else(|| format!("action {name} needs a value"))
}

fn severity(v: &str) -> Result<u8, String> {
    const NAMES: [&str; 8] = [
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG",
    ];
    if let Ok(n) = v.parse::<u8>() {
        if n <= 7 {
            return Ok(n);
        }
    }
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(v))
        .map(|p| p as u8)
        .ok_or_else(|| format!("invalid severity {v:?}"))
}

fn phase(v: &str) -> Result<u8, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" => Ok(1),
        "2" | "request" => Ok(2),
        "3" => Ok(3),
        "4" | "response" => Ok(4),
        "5" | "logging" => Ok(5),
        _ => Err(format!("invalid phase {v:?}")),
    }
}

fn macro_of(v: &str) -> Result<Macro, String> {
    Macro::parse(v)
}

/// Parses one action.
pub fn parse_action(name: &str, value: Option<String>) -> Result<Action, String> {
    let lname = name.to_ascii_lowercase();
    let a = match lname.as_str() {
        "id" => {
            let v = need(name, value)?;
            Action::Id(v.trim().parse().map_err(|_| format!("invalid id {v:?}"))?)
        }
        "phase" => Action::Phase(phase(&need(name, value)?)?),
        "msg" => Action::Msg(macro_of(&need(name, value)?)?),
        "logdata" => Action::LogData(macro_of(&need(name, value)?)?),
        "severity" => Action::Severity(severity(&need(name, value)?)?),
        "tag" => Action::Tag(need(name, value)?),
        "ver" | "rev" | "maturity" | "accuracy" => {
            need(name, value)?;
            Action::Meta
        }
        "t" => {
            let v = need(name, value)?;
            if v.eq_ignore_ascii_case("none") {
                Action::Transform(None)
            } else {
                let t = Transform::from_name(&v)
                    .ok_or_else(|| format!("unknown transformation t:{v}"))?;
                Action::Transform(Some(t))
            }
        }
        "chain" => Action::Chain,
        "pass" => Action::Disruptive(Disruptive::Pass),
        "deny" => Action::Disruptive(Disruptive::Deny),
        "drop" => Action::Disruptive(Disruptive::Drop),
        "block" => Action::Disruptive(Disruptive::Block),
        "allow" => {
            let scope = match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("") => AllowScope::All,
                Some("phase") => AllowScope::Phase,
                Some("request") => AllowScope::Request,
                Some(o) => return Err(format!("invalid allow scope {o:?}")),
            };
            Action::Disruptive(Disruptive::Allow(scope))
        }
        "redirect" => Action::Disruptive(Disruptive::Redirect(macro_of(&need(name, value)?)?)),
        "status" => {
            let v = need(name, value)?;
            let s: u16 = v
                .trim()
                .parse()
                .map_err(|_| format!("invalid status {v:?}"))?;
            if !(100..=999).contains(&s) {
                return Err(format!("invalid status {v:?}"));
            }
            Action::Status(s)
        }
        "log" => Action::Log,
        "nolog" => Action::NoLog,
        "auditlog" => Action::AuditLog,
        "noauditlog" => Action::NoAuditLog,
        "capture" => Action::Capture,
        "multimatch" => Action::MultiMatch,
        "setvar" => Action::SetVar(SetVar::parse(&need(name, value)?)?),
        "skipafter" => Action::SkipAfter(need(name, value)?),
        "skip" => {
            let v = need(name, value)?;
            let n: u32 = v
                .trim()
                .parse()
                .map_err(|_| format!("invalid skip count {v:?}"))?;
            if n == 0 {
                return Err("skip needs a count of at least 1".into());
            }
            Action::Skip(n)
        }
        "initcol" => {
            let v = need(name, value)?;
            let (coll, key) = v
                .split_once('=')
                .ok_or_else(|| format!("initcol needs collection=key: {v:?}"))?;
            let coll = coll.trim().to_ascii_lowercase();
            if !matches!(
                coll.as_str(),
                "ip" | "global" | "session" | "user" | "resource"
            ) {
                return Err(format!("initcol: unsupported collection {coll:?}"));
            }
            Action::InitCol(coll, macro_of(key)?)
        }
        "expirevar" => Action::ExpireVar(ExpireVar::parse(&need(name, value)?)?),
        "deprecatevar" => Action::DeprecateVar(DeprecateVar::parse(&need(name, value)?)?),
        "ctl" => Action::Ctl(Ctl::parse(&need(name, value)?)?),
        _ => return Err(format!("unsupported action {name:?}")),
    };
    Ok(a)
}

/// Splits and parses a whole action list.
pub fn parse_actions(text: &str) -> Result<Vec<Action>, String> {
    split_actions(text)?
        .into_iter()
        .map(|(n, v)| parse_action(&n, v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_values() {
        let a = split_actions("id:1, msg:'a, b \\'c\\'',t:none,  setvar:'tx.x=+1',chain").unwrap();
        assert_eq!(a[1], ("msg".to_string(), Some("a, b 'c'".to_string())));
        assert_eq!(a[3], ("setvar".to_string(), Some("tx.x=+1".to_string())));
        assert_eq!(a[4], ("chain".to_string(), None));
        assert!(parse_actions("id:1,bogus").is_err());
        assert!(parse_actions("phase:9").is_err());
    }
}
