//! [`Transaction`]: the per-request side of the engine. The caller feeds the request line,
//! headers and body chunks, then the response, and calls one `process_*` method per phase;
//! each returns the [`Outcome`] so far. Rule evaluation lives in `eval.rs`, request data
//! handling in `request.rs`.

use crate::ctl::{BodyProcessor, RuleEngineMode};
use crate::engine::Engine;
use crate::interner::{FxMap, Interner};
use crate::rule::Rule;
use crate::setvar::{INT_BYTES, int_bytes};
use crate::state::State;
use crate::transform::Transform;
use crate::variable::Target;
use crate::variable::Var;
use std::net::IpAddr;
use std::sync::Arc;

/// The connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// `UNIQUE_ID`.
    pub unique_id: String,
}

/// The verdict of a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Continue.
    Pass,
    /// Answer with `status` (403 unless the rule set `status`).
    Deny { status: u16 },
    /// Redirect.
    Redirect { status: u16, location: String },
    /// Close the connection without answering.
    Drop,
}

/// A rule that matched, for logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    pub id: u64,
    pub phase: u8,
    /// `msg`, expanded when the rule matched (empty for `nolog` rules).
    pub msg: String,
    /// `logdata`, expanded when the rule matched (empty for `nolog` rules).
    pub data: String,
    pub severity: Option<u8>,
    pub tags: Vec<String>,
    pub file: String,
    pub line: usize,
    pub matched_var_name: String,
    pub matched_var: Vec<u8>,
    /// False for rules with `nolog` (they are listed but flagged).
    pub log: bool,
    /// Whether the rule's action was disruptive (deny/drop/redirect), applied or not.
    pub disruptive: bool,
}

/// A match of a rule that logs, borrowed from its transaction and engine
/// ([`Transaction::logged_matches`]): a [`MatchedRule`] without copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedMatch<'a> {
    pub id: u64,
    pub phase: u8,
    /// `msg`, expanded when the rule matched.
    pub msg: &'a str,
    /// `logdata`, expanded when the rule matched.
    pub data: &'a str,
    pub severity: Option<u8>,
    pub tags: &'a [String],
    pub file: &'a str,
    pub line: usize,
    /// The matched variable (`ARGS`; empty when none) and its key (`q` of `ARGS:q`), raw:
    /// [`MatchedRule::matched_var_name`] is `name:key` with the key read as UTF-8 (lossy).
    pub var_name: &'static str,
    pub var_key: Option<&'a [u8]>,
    pub matched_var: &'a [u8],
    /// Whether the rule's action was disruptive (deny/drop/redirect), applied or not.
    pub disruptive: bool,
}

impl LoggedMatch<'_> {
    /// `ARGS:q`: the matched variable's name and key, the key read as UTF-8 (lossy), as
    /// [`MatchedRule::matched_var_name`].
    pub fn matched_var_name(&self) -> String {
        match self.var_key {
            Some(key) => format!("{}:{}", self.var_name, String::from_utf8_lossy(key)),
            None => self.var_name.to_string(),
        }
    }

    /// The owned [`MatchedRule`] (`log`: whether the rule logs).
    pub fn to_matched_rule(&self, log: bool) -> MatchedRule {
        MatchedRule {
            id: self.id,
            phase: self.phase,
            msg: self.msg.to_string(),
            data: self.data.to_string(),
            severity: self.severity,
            tags: self.tags.to_vec(),
            file: self.file.to_string(),
            line: self.line,
            matched_var_name: self.matched_var_name(),
            matched_var: self.matched_var.to_vec(),
            log,
            disruptive: self.disruptive,
        }
    }
}

/// A match as recorded while rules run; `msg`/`logdata` are expanded at match time. Small
/// (a CRS request records ~100, nearly all `nolog` bookkeeping): the texts are boxed and
/// absent when empty, and what the log writer asks of every match is copied from the rule.
#[derive(Debug)]
pub(crate) struct RawMatch {
    pub rule: u32,
    pub var_value: u32,
    /// The matched item; its display name is built when the match is read.
    pub var_item: Option<crate::state::Item>,
    /// The expanded `msg` and `logdata`, unless both are empty.
    pub texts: Option<Box<(String, String)>>,
    /// The rule logs (not `nolog`).
    pub log: bool,
    /// The rule's action is disruptive ([`Rule::is_disruptive`]).
    pub disruptive: bool,
}

// A CRS request writes ~100 of them: keep them to well under a cache line each.
const _: () = assert!(std::mem::size_of::<RawMatch>() <= 40);

impl RawMatch {
    /// A match of rule `rule` (index) with no message or log data.
    pub(crate) fn new(
        rule: usize,
        r: &Rule,
        var_item: Option<crate::state::Item>,
        var_value: u32,
    ) -> RawMatch {
        RawMatch {
            rule: rule as u32,
            var_value,
            var_item,
            texts: None,
            log: r.log,
            disruptive: r.is_disruptive(),
        }
    }
}

/// Per-transaction changes made by `ctl:`.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub engine: Option<RuleEngineMode>,
    /// Rules removed by `ctl:ruleRemoveById`/`ByTag` (or the `remove_rules_*` calls), as a
    /// bitset over rule indices; empty while nothing was removed.
    pub removed: Vec<u64>,
    /// Targets removed from rules by `ctl:ruleRemoveTargetById`/`ByTag`: (rule index,
    /// index in `removed_lists`), resolved when the `ctl` ran; empty in most transactions.
    pub removed_targets: Vec<(u32, u32)>,
    /// The target lists of those `ctl`s, one per `ctl` run however many rules it concerns
    /// (CRS's 941010 removes REQUEST_FILENAME from 33 XSS rules on nearly every request: one
    /// reference count taken on the engine's shared list instead of 33 — an atomic the
    /// proxy's worker threads would pass back and forth).
    pub removed_lists: Vec<Arc<[Target]>>,
    /// The rules that have entries in `removed_targets`, as a bitset over rule indices.
    pub removed_target_rules: Vec<u64>,
    pub body_processor: Option<BodyProcessor>,
    pub force_body_variable: bool,
    pub body_access: Option<bool>,
}

/// One request/response pair being inspected.
#[derive(Debug)]
pub struct Transaction {
    pub(crate) engine: Arc<Engine>,
    pub(crate) state: State,
    pub(crate) overrides: Overrides,
    /// Transformation cache: (value id, transformation) → result id.
    pub(crate) tcache: FxMap<(u32, Transform), u32>,
    /// Chain cache: (value id, chain id) → result id.
    pub(crate) chain_cache: FxMap<(u32, u32), u32>,
    /// Live bits of values (prefilter scans, memo bits), as bitsets stored back to back.
    pub(crate) scan_words: Vec<u64>,
    /// Per value id: offset of its scan in `scan_words`, or `u32::MAX` when not scanned yet.
    pub(crate) scan_of: Vec<u32>,
    /// The target groups' unions and entries (see `groups.rs`).
    pub(crate) groups: crate::groups::GroupBuffers,
    /// Per target set of the engine: its cached list of extracted items.
    pub(crate) target_sets: Vec<crate::groups::Cached>,
    /// Per atom of the engine (a target with its exclusions): its cached items.
    pub(crate) atoms: Vec<crate::groups::Cached>,
    /// The items of the cached target sets and atoms, back to back.
    pub(crate) set_items: Vec<crate::state::Item>,
    /// The thread's value memo, borrowed while a phase runs (see `memo.rs`).
    pub(crate) memo: Option<Box<crate::memo::Memo>>,
    /// Per value id: its entry in the memo of generation `memo_generation`, or
    /// `memo::UNKNOWN` / `memo::NOT_MEMOISED`.
    pub(crate) memo_of: Vec<u32>,
    /// The inverse of `memo_of`: memo entry → value id in this transaction.
    pub(crate) value_of_memo: crate::memo::EntryValues,
    pub(crate) memo_generation: u64,
    /// Reused vectors of evaluation (see [`Scratch`]).
    pub(crate) scratch: Scratch,
    /// Matches as recorded during evaluation (cheap); turned into [`MatchedRule`]s on demand.
    pub(crate) matched: Vec<RawMatch>,
    pub(crate) matched_view: std::cell::OnceCell<Vec<MatchedRule>>,
    pub(crate) interrupted: Option<Outcome>,
    /// Set by `allow`: phases up to and including this one are skipped.
    pub(crate) allowed_through: u8,
    /// Evaluates phase 1 from its first rule even when the engine has a prologue (set for
    /// the transactions that compute it).
    pub(crate) no_prologue: bool,
    pub(crate) request_body: Vec<u8>,
    pub(crate) request_body_over_limit: bool,
    pub(crate) response_body: Vec<u8>,
    pub(crate) request_content_type: Option<Vec<u8>>,
    pub(crate) response_inspectable: bool,
    pub(crate) logged: bool,
    pub(crate) body_processed: bool,
}

/// `ip` as text (`192.0.2.1`, `2001:db8::1`) appended to `out`; IPv4 without the formatter,
/// which costs more than the rest of setting up a transaction's connection variables.
fn ip_text(ip: IpAddr, out: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(v4) => {
            let mut digits = [0; INT_BYTES];
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(int_bytes(i64::from(octet), &mut digits));
            }
        }
        IpAddr::V6(v6) => out.extend_from_slice(v6.to_string().as_bytes()),
    }
}

impl Transaction {
    pub(crate) fn new(engine: Arc<Engine>, conn: ConnectionInfo) -> Transaction {
        let mut buffers = Buffers::take();
        buffers
            .groups
            .reset(engine.group_slots.len(), engine.atoms.len());
        buffers
            .target_sets
            .resize(engine.target_sets, crate::groups::Cached::default());
        buffers
            .atoms
            .resize(engine.atoms.len(), crate::groups::Cached::default());
        let mut state = State {
            vals: buffers.vals,
            tx: buffers.tx,
            singles: buffers.singles,
            colls: buffers.colls,
            matched_all: buffers.matched_all,
            ..State::default()
        };
        state.tx.set_names(&engine.tx_names);
        let mut text = std::mem::take(&mut buffers.scratch.setvar_buf);
        ip_text(conn.client_ip, &mut text);
        state.set_single(Var::REMOTE_ADDR, &text);
        state.set_single(Var::REMOTE_HOST, &text);
        let mut digits = [0; INT_BYTES];
        let port = int_bytes(i64::from(conn.client_port), &mut digits);
        state.set_single(Var::REMOTE_PORT, port);
        text.clear();
        ip_text(conn.server_ip, &mut text);
        state.set_single(Var::SERVER_ADDR, &text);
        text.clear();
        buffers.scratch.setvar_buf = text;
        let port = int_bytes(i64::from(conn.server_port), &mut digits);
        state.set_single(Var::SERVER_PORT, port);
        state.set_single(Var::UNIQUE_ID, conn.unique_id.as_bytes());
        state.set_single(Var::REQBODY_ERROR, b"0");
        state.set_single(Var::REQBODY_PROCESSOR_ERROR, b"0");
        state.set_single(Var::INBOUND_DATA_ERROR, b"0");
        Transaction {
            engine,
            state,
            overrides: buffers.overrides,
            tcache: buffers.tcache,
            chain_cache: buffers.chain_cache,
            scan_words: buffers.scan_words,
            scan_of: buffers.scan_of,
            groups: buffers.groups,
            target_sets: buffers.target_sets,
            atoms: buffers.atoms,
            set_items: buffers.set_items,
            memo: None,
            memo_of: buffers.memo_of,
            value_of_memo: buffers.value_of_memo,
            memo_generation: 0,
            scratch: buffers.scratch,
            matched: buffers.matched,
            matched_view: std::cell::OnceCell::new(),
            interrupted: None,
            allowed_through: 0,
            no_prologue: false,
            request_body: Vec::new(),
            request_body_over_limit: false,
            response_body: Vec::new(),
            request_content_type: None,
            response_inspectable: true,
            logged: false,
            body_processed: false,
        }
    }

    /// Effective rule engine mode (SecRuleEngine, possibly changed by `ctl:ruleEngine`).
    pub fn rule_engine(&self) -> RuleEngineMode {
        self.overrides
            .engine
            .unwrap_or(self.engine.config.rule_engine)
    }

    /// Every rule that matched so far (logged ones and `nolog` ones, flagged).
    pub fn matched_rules(&self) -> &[MatchedRule] {
        self.matched_view
            .get_or_init(|| self.matched.iter().map(|m| self.matched_rule(m)).collect())
    }

    /// The matches of rules that log (not `nolog`), in match order, built now: what a
    /// log writer needs — [`Self::matched_rules`] less the bookkeeping matches (CRS: ~130
    /// paranoia-level skips per request), whose names, tags and values it would copy.
    pub fn logged_rules(&self) -> Vec<MatchedRule> {
        self.matched
            .iter()
            .filter(|m| m.log)
            .map(|m| self.matched_rule(m))
            .collect()
    }

    /// [`Self::logged_rules`] without copies: each match borrows its texts from the
    /// transaction and the rule's from the engine (a log writer escapes them straight into
    /// its line; an attack's half-dozen [`MatchedRule`]s cost ~80 allocations).
    pub fn logged_matches(&self) -> impl Iterator<Item = LoggedMatch<'_>> {
        self.matched
            .iter()
            .filter(|m| m.log)
            .map(|m| self.borrowed_match(m))
    }

    fn borrowed_match<'a>(&'a self, m: &'a RawMatch) -> LoggedMatch<'a> {
        let rule = &self.engine.rules[m.rule as usize];
        let origin = rule.origin();
        let (msg, data) = m
            .texts
            .as_deref()
            .map_or(("", ""), |(msg, data)| (msg.as_str(), data.as_str()));
        LoggedMatch {
            id: rule.id,
            phase: rule.phase,
            msg,
            data,
            severity: rule.severity,
            tags: &rule.tags,
            file: &origin.file,
            line: origin.line,
            var_name: m.var_item.map_or("", |it| it.var.name()),
            var_key: m
                .var_item
                .and_then(|it| it.key)
                .map(|k| self.state.vals.get(k)),
            matched_var: self.state.vals.get(m.var_value),
            disruptive: m.disruptive,
        }
    }

    fn matched_rule(&self, m: &RawMatch) -> MatchedRule {
        self.borrowed_match(m).to_matched_rule(m.log)
    }

    /// Whether a matched rule is logged (not `nolog`), without building the
    /// [`MatchedRule`] list: most benign CRS transactions match only `nolog` bookkeeping.
    pub fn has_logged_match(&self) -> bool {
        self.matched.iter().any(|m| m.log)
    }

    /// Id of the last matched rule whose action is disruptive (applied or not, as
    /// [`MatchedRule::disruptive`]), without building the [`MatchedRule`] list.
    pub fn last_disruptive_rule(&self) -> Option<u64> {
        self.matched
            .iter()
            .rev()
            .find(|m| m.disruptive)
            .map(|m| self.engine.rules[m.rule as usize].id)
    }

    /// The disruptive outcome reached so far (Pass when none or in DetectionOnly).
    pub fn outcome(&self) -> Outcome {
        self.interrupted.clone().unwrap_or(Outcome::Pass)
    }

    /// Value of a TX variable (lower-cased name), for tests and logging.
    pub fn tx_var(&self, name: &str) -> Option<&[u8]> {
        self.state.tx.get(&name.to_ascii_lowercase())
    }

    /// Phase 1: request headers.
    pub fn process_request_headers(&mut self) -> Outcome {
        self.run_phase(1)
    }

    /// Phase 2: request body (call it also when there is no body).
    pub fn process_request_body(&mut self) -> Outcome {
        if self.interrupted.is_none()
            && self.rule_engine() != RuleEngineMode::Off
            && !self.body_processed
        {
            self.body_processed = true;
            self.process_body();
        }
        self.run_phase(2)
    }

    /// Phase 3: response headers.
    pub fn process_response_headers(&mut self) -> Outcome {
        self.run_phase(3)
    }

    /// Phase 4: response body.
    pub fn process_response_body(&mut self) -> Outcome {
        if self.engine.config.response_body_access && self.response_inspectable {
            let body = std::mem::take(&mut self.response_body);
            self.state.set_single(Var::RESPONSE_BODY, &body);
            self.state.set_single(
                Var::RESPONSE_CONTENT_LENGTH,
                crate::setvar::size_bytes(body.len(), &mut [0; INT_BYTES]),
            );
            self.response_body = body;
        }
        self.run_phase(4)
    }

    /// Phase 5: logging (always runs its rules; writes persistent collections back).
    pub fn process_logging(&mut self) {
        if self.logged {
            return;
        }
        self.logged = true;
        let _ = self.run_phase(5);
        for (_, open) in std::mem::take(&mut self.state.persistent) {
            self.engine.store.save(open);
        }
    }

    /// Sets this transaction's rule engine mode, as `SecRuleEngine` does for the whole
    /// engine; a rule's `ctl:ruleEngine` still changes it later. Call it before phase 1.
    pub fn set_rule_engine(&mut self, mode: RuleEngineMode) {
        self.overrides.engine = Some(mode);
    }

    /// Removes the rules whose id is in one of these inclusive ranges from this transaction:
    /// they never run, in any phase (as `ctl:ruleRemoveById`, or `SecRuleRemoveById` after
    /// the rules). Call it before phase 1.
    pub fn remove_rules_by_id(&mut self, ranges: &[(u64, u64)]) {
        let n = self.engine.rules.len();
        for &(a, b) in ranges {
            self.overrides.remove_rules(n, self.engine.rules_in(a, b));
        }
    }

    /// Removes the rules carrying one of these tags (exact match) from this transaction, as
    /// `ctl:ruleRemoveByTag` or `SecRuleRemoveByTag` after the rules. Call it before phase 1.
    pub fn remove_rules_by_tag(&mut self, tags: &[String]) {
        let n = self.engine.rules.len();
        for tag in tags {
            self.overrides
                .remove_rules(n, self.engine.rules_tagged(tag));
        }
    }
}

impl Overrides {
    /// Back to no override, keeping the vectors' allocations.
    fn reset(&mut self) {
        let Overrides {
            engine,
            removed,
            removed_targets,
            removed_lists,
            removed_target_rules,
            body_processor,
            force_body_variable,
            body_access,
        } = self;
        *engine = None;
        removed.clear();
        removed_targets.clear();
        removed_lists.clear();
        removed_target_rules.clear();
        *body_processor = None;
        *force_body_variable = false;
        *body_access = None;
    }

    fn heap_size(&self) -> usize {
        use std::mem::size_of;
        (self.removed.capacity() + self.removed_target_rules.capacity()) * size_of::<u64>()
            + self.removed_targets.capacity() * size_of::<(u32, u32)>()
            + self.removed_lists.capacity() * size_of::<Arc<[Target]>>()
    }

    /// Marks `rules` (indices among the engine's `n` rules) as removed.
    pub(crate) fn remove_rules(&mut self, n: usize, rules: impl Iterator<Item = u32>) {
        for ri in rules {
            set_bit(&mut self.removed, n, ri);
        }
    }

    /// Removes `targets` from `rules` (indices among the engine's `n` rules).
    pub(crate) fn remove_targets(
        &mut self,
        n: usize,
        rules: impl Iterator<Item = u32>,
        targets: &Arc<[Target]>,
    ) {
        let list = self.removed_lists.len() as u32;
        let before = self.removed_targets.len();
        for ri in rules {
            set_bit(&mut self.removed_target_rules, n, ri);
            self.removed_targets.push((ri, list));
        }
        if self.removed_targets.len() > before {
            self.removed_lists.push(targets.clone());
        }
    }
}

/// Sets bit `i` of a bitset over `len` bits, allocated on first use.
fn set_bit(bits: &mut Vec<u64>, len: usize, i: u32) {
    if bits.is_empty() {
        bits.resize(len.div_ceil(64), 0);
    }
    bits[i as usize / 64] |= 1 << (i % 64);
}

/// Whether bit `i` is set in a bitset (empty: no bit set).
pub(crate) fn has_bit(bits: &[u64], i: usize) -> bool {
    !bits.is_empty() && bits[i / 64] & (1 << (i % 64)) != 0
}

/// The per-transaction caches, kept per thread between transactions so that a transaction
/// does not allocate (and regrow) them anew; cleared before reuse.
struct Buffers {
    vals: Interner,
    tx: crate::txvars::TxVars,
    singles: crate::state::PerVar<Option<u32>>,
    colls: crate::state::PerVar<Vec<(u32, u32)>>,
    tcache: FxMap<(u32, Transform), u32>,
    chain_cache: FxMap<(u32, u32), u32>,
    scan_words: Vec<u64>,
    scan_of: Vec<u32>,
    memo_of: Vec<u32>,
    value_of_memo: crate::memo::EntryValues,
    groups: crate::groups::GroupBuffers,
    target_sets: Vec<crate::groups::Cached>,
    atoms: Vec<crate::groups::Cached>,
    set_items: Vec<crate::state::Item>,
    scratch: Scratch,
    matched: Vec<RawMatch>,
    matched_all: Vec<(crate::state::Item, u32)>,
    overrides: Overrides,
}

/// A transaction's scratch vectors: contents meaningful within one evaluation step (or, for
/// `tx_key_ids`, one transaction), kept for reuse with the other buffers.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Scratch space of the prefilter scans.
    pub(crate) scan_seen: Vec<u64>,
    /// Reused buffers for rule evaluation.
    pub(crate) items_buf: Vec<crate::state::Item>,
    pub(crate) values_buf: Vec<u32>,
    /// The OR of a `multiMatch` value's tested live bits (see `Memo::multi_live`).
    pub(crate) multi_live: Vec<u64>,
    /// Reused buffer for `setvar` values.
    pub(crate) setvar_buf: Vec<u8>,
    /// Reused for the expanded name of a `setvar` whose name has macros.
    pub(crate) setvar_name: Vec<u8>,
    /// Per TX slot, the interned id of its name (`u32::MAX`: not interned yet).
    pub(crate) tx_key_ids: Vec<u32>,
    /// Reused by operators of rules with `capture`.
    pub(crate) captures: crate::operator::Captures,
    /// Reused by the JSON body processor.
    pub(crate) json: crate::body::JsonBuffers,
}

impl Scratch {
    /// Roughly the bytes held on the heap.
    fn heap_size(&self) -> usize {
        self.scan_seen.capacity() * 8
            + self.items_buf.capacity() * std::mem::size_of::<crate::state::Item>()
            + self.values_buf.capacity() * 4
            + self.multi_live.capacity() * 8
            + self.setvar_buf.capacity()
            + self.setvar_name.capacity()
            + self.tx_key_ids.capacity() * 4
            + self.captures.heap_size()
            + self.json.heap_size()
    }

    fn clear(&mut self) {
        self.scan_seen.clear();
        self.items_buf.clear();
        self.values_buf.clear();
        self.multi_live.clear();
        self.setvar_buf.clear();
        self.setvar_name.clear();
        self.tx_key_ids.clear();
    }
}

/// Buffers larger than this (bytes, roughly) are freed rather than kept for reuse.
const KEEP_LIMIT: usize = 4 << 20;

/// At most this many bytes (roughly) of spare buffers are kept per thread.
const SPARE_LIMIT: usize = 8 << 20;

/// A thread's spare buffers with their total size. A proxy thread interleaves many
/// transactions (each waits for its upstream between the request and the response phases),
/// so it keeps one set per transaction it usually has open, not just one.
#[derive(Default)]
struct Spares {
    buffers: Vec<(Buffers, usize)>,
    bytes: usize,
}

thread_local! {
    static SPARE: std::cell::RefCell<Spares> = std::cell::RefCell::new(Spares::default());
}

impl Buffers {
    fn take() -> Buffers {
        SPARE
            .try_with(|s| {
                let mut s = s.try_borrow_mut().ok()?;
                let (b, size) = s.buffers.pop()?;
                s.bytes -= size;
                Some(b)
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| Buffers {
                vals: Interner::with_capacity(256),
                tx: crate::txvars::TxVars::default(),
                singles: Default::default(),
                colls: Default::default(),
                tcache: FxMap::with_capacity_and_hasher(512, Default::default()),
                chain_cache: FxMap::with_capacity_and_hasher(512, Default::default()),
                scan_words: Vec::new(),
                scan_of: Vec::new(),
                memo_of: Vec::new(),
                value_of_memo: crate::memo::EntryValues::default(),
                groups: Default::default(),
                target_sets: Vec::new(),
                atoms: Vec::new(),
                set_items: Vec::new(),
                scratch: Scratch::default(),
                // A CRS request matches ~100 bookkeeping rules (paranoia-level skips,
                // defaults): room for them from the first transaction.
                matched: Vec::with_capacity(128),
                matched_all: Vec::with_capacity(16),
                overrides: Overrides::default(),
            })
    }

    fn give_back(mut self) {
        let size = self.vals.heap_size()
            + self.tx.heap_size()
            + self.tcache.capacity() * 16
            + self.chain_cache.capacity() * 20
            + self.scan_words.capacity() * 8
            + self.scan_of.capacity() * 4
            + self.memo_of.capacity() * 4
            + self.value_of_memo.heap_size()
            + self.groups.heap_size()
            + self.set_items.capacity() * std::mem::size_of::<crate::state::Item>()
            + self.scratch.heap_size()
            + self.matched.capacity() * std::mem::size_of::<RawMatch>()
            + self.matched_all.capacity() * std::mem::size_of::<(crate::state::Item, u32)>()
            + self.overrides.heap_size();
        if size > KEEP_LIMIT {
            return;
        }
        self.vals.clear();
        self.tx.clear();
        self.singles.reset(|s| *s = None);
        self.colls.reset(Vec::clear);
        self.tcache.clear();
        self.chain_cache.clear();
        self.scan_words.clear();
        self.scan_of.clear();
        self.memo_of.clear();
        self.value_of_memo.clear();
        self.target_sets.clear();
        self.atoms.clear();
        self.set_items.clear();
        self.scratch.clear();
        // The matches' `msg`/`logdata` texts are freed here (none for `nolog` rules).
        self.matched.clear();
        self.matched_all.clear();
        self.overrides.reset();
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.bytes + size <= SPARE_LIMIT {
                    s.bytes += size;
                    s.buffers.push((self, size));
                }
            }
        });
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        Buffers {
            vals: std::mem::take(&mut self.state.vals),
            tx: std::mem::take(&mut self.state.tx),
            singles: std::mem::take(&mut self.state.singles),
            colls: std::mem::take(&mut self.state.colls),
            tcache: std::mem::take(&mut self.tcache),
            chain_cache: std::mem::take(&mut self.chain_cache),
            scan_words: std::mem::take(&mut self.scan_words),
            scan_of: std::mem::take(&mut self.scan_of),
            memo_of: std::mem::take(&mut self.memo_of),
            value_of_memo: std::mem::take(&mut self.value_of_memo),
            groups: std::mem::take(&mut self.groups),
            target_sets: std::mem::take(&mut self.target_sets),
            atoms: std::mem::take(&mut self.atoms),
            set_items: std::mem::take(&mut self.set_items),
            scratch: std::mem::take(&mut self.scratch),
            matched: std::mem::take(&mut self.matched),
            matched_all: std::mem::take(&mut self.state.matched_all),
            overrides: std::mem::take(&mut self.overrides),
        }
        .give_back();
    }
}
