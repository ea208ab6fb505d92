//! Engine-wide settings set by SecLang engine directives (`SecRuleEngine`,
//! `SecRequestBodyAccess`, limits, ...). Defaults follow ModSecurity's recommended
//! configuration so that a rule set alone gives a working, blocking engine.

use crate::ctl::RuleEngineMode;
use crate::directive::Directive;
use crate::error::CompileResult;

/// What to do when a body exceeds its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimitAction {
    /// Deny the request (413 for request bodies) when the engine is On.
    Reject,
    /// Inspect only the first `limit` bytes.
    ProcessPartial,
}

/// Engine settings shared by all transactions.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `SecRuleEngine` (default On).
    pub rule_engine: RuleEngineMode,
    /// `SecRequestBodyAccess` (default On).
    pub request_body_access: bool,
    /// `SecRequestBodyLimit` (default 13 MiB).
    pub request_body_limit: usize,
    /// `SecRequestBodyNoFilesLimit` (default 128 KiB).
    pub request_body_no_files_limit: usize,
    /// `SecRequestBodyLimitAction` (default Reject).
    pub request_body_limit_action: BodyLimitAction,
    /// `SecResponseBodyAccess` (default Off).
    pub response_body_access: bool,
    /// `SecResponseBodyMimeType` (default text/plain text/html text/xml).
    pub response_body_mime_types: Vec<String>,
    /// `SecResponseBodyLimit` (default 512 KiB).
    pub response_body_limit: usize,
    /// `SecResponseBodyLimitAction` (default ProcessPartial).
    pub response_body_limit_action: BodyLimitAction,
    /// `SecArgumentSeparator` (default `&`).
    pub argument_separator: u8,
    /// `SecArgumentsLimit` (default 1000).
    pub arguments_limit: usize,
    /// `SecRequestBodyJsonDepthLimit` (default 512).
    pub json_depth_limit: usize,
    /// `SecComponentSignature` values.
    pub component_signatures: Vec<String>,
    /// `SecCollectionTimeout`: seconds after which a persistent collection (IP, GLOBAL,
    /// ...) that no transaction wrote back is dropped (default 3600, as ModSecurity).
    pub collection_timeout: u64,
    /// `SecCollectionMaxCount` (ours): the most persistent collections kept in memory; the
    /// expired ones, then those closest to timing out, make room for new ones (default
    /// 100,000).
    pub max_collections: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            rule_engine: RuleEngineMode::On,
            request_body_access: true,
            request_body_limit: 13_107_200,
            request_body_no_files_limit: 131_072,
            request_body_limit_action: BodyLimitAction::Reject,
            response_body_access: false,
            response_body_mime_types: vec![
                "text/plain".into(),
                "text/html".into(),
                "text/xml".into(),
            ],
            response_body_limit: 524_288,
            response_body_limit_action: BodyLimitAction::ProcessPartial,
            argument_separator: b'&',
            arguments_limit: 1000,
            json_depth_limit: 512,
            component_signatures: Vec::new(),
            collection_timeout: 3600,
            max_collections: 100_000,
        }
    }
}

fn on_off(d: &Directive, v: &str) -> CompileResult<bool> {
    match v.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(d
            .origin
            .error(format!("{}: expected On or Off, got {v:?}", d.name))),
    }
}

fn number(d: &Directive, v: &str) -> CompileResult<usize> {
    v.parse().map_err(|_| {
        d.origin
            .error(format!("{}: expected a number, got {v:?}", d.name))
    })
}

fn positive(d: &Directive, v: &str) -> CompileResult<usize> {
    match number(d, v)? {
        0 => Err(d.origin.error(format!("{}: must be at least 1", d.name))),
        n => Ok(n),
    }
}

fn limit_action(d: &Directive, v: &str) -> CompileResult<BodyLimitAction> {
    match v.to_ascii_lowercase().as_str() {
        "reject" => Ok(BodyLimitAction::Reject),
        "processpartial" => Ok(BodyLimitAction::ProcessPartial),
        _ => Err(d
            .origin
            .error(format!("{}: expected Reject or ProcessPartial", d.name))),
    }
}

/// Directives accepted and ignored because we have no audit/debug log of our own; the proxy
/// logs matched rules itself.
const LOG_DIRECTIVES: &[&str] = &[
    "secauditengine",
    "secauditlog",
    "secauditlog2",
    "secauditlogparts",
    "secauditlogrelevantstatus",
    "secauditlogtype",
    "secauditlogformat",
    "secauditlogstoragedir",
    "secauditlogdirmode",
    "secauditlogfilemode",
    "secdebuglog",
    "secdebugloglevel",
    "sectmpdir",
    "secdatadir",
    "secuploaddir",
    "secuploadkeepfiles",
    "secuploadfilemode",
    "secuploadfilelimit",
    "secpcrematchlimit",
    "secpcrematchlimitrecursion",
    "secrequestbodyinmemorylimit",
    "secstatusengine",
    "secunicodemapfile",
    "sectmpsaverequestbody",
    "secconnengine",
];

impl EngineConfig {
    /// Applies an engine directive. Returns `Ok(false)` when `d` is not an engine directive.
    pub fn apply(&mut self, d: &Directive) -> CompileResult<bool> {
        let lname = d.name.to_ascii_lowercase();
        if LOG_DIRECTIVES.contains(&lname.as_str()) {
            return Ok(true);
        }
        let one = || -> CompileResult<&str> {
            match d.args.as_slice() {
                [v] => Ok(v.as_str()),
                _ => Err(d
                    .origin
                    .error(format!("{} takes exactly one argument", d.name))),
            }
        };
        match lname.as_str() {
            "secruleengine" => {
                self.rule_engine = RuleEngineMode::parse(one()?).map_err(|e| d.origin.error(e))?
            }
            "secrequestbodyaccess" => self.request_body_access = on_off(d, one()?)?,
            "secrequestbodylimit" => self.request_body_limit = number(d, one()?)?,
            "secrequestbodynofileslimit" => self.request_body_no_files_limit = number(d, one()?)?,
            "secrequestbodylimitaction" => {
                self.request_body_limit_action = limit_action(d, one()?)?
            }
            "secresponsebodyaccess" => self.response_body_access = on_off(d, one()?)?,
            "secresponsebodylimit" => self.response_body_limit = number(d, one()?)?,
            "secresponsebodylimitaction" => {
                self.response_body_limit_action = limit_action(d, one()?)?
            }
            "secresponsebodymimetype" => {
                self.response_body_mime_types = d
                    .args
                    .iter()
                    .flat_map(|a| a.split_whitespace())
                    .map(str::to_string)
                    .collect()
            }
            "secresponsebodymimetypesclear" => self.response_body_mime_types.clear(),
            "secargumentseparator" => {
                let v = one()?;
                if v.len() != 1 {
                    return Err(d
                        .origin
                        .error("SecArgumentSeparator takes a single character"));
                }
                self.argument_separator = v.as_bytes()[0];
            }
            "secargumentslimit" => self.arguments_limit = number(d, one()?)?,
            "secrequestbodyjsondepthlimit" => self.json_depth_limit = number(d, one()?)?,
            "seccollectiontimeout" => self.collection_timeout = positive(d, one()?)? as u64,
            "seccollectionmaxcount" => self.max_collections = positive(d, one()?)?,
            "seccomponentsignature" => self.component_signatures.push(one()?.to_string()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}
