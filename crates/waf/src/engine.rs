//! [`Engine`]: the compiled, immutable rule set shared by all transactions. Building it
//! splits rules per phase, resolves `skipAfter` targets, interns transformation chains,
//! assigns target sets and groups (see `DESIGN.md`, Caches) and builds the prefilter
//! automaton.

use crate::action::Disruptive;
use crate::builder::{EngineBuilder, Item};
use crate::config::EngineConfig;
use crate::error::CompileError;
use crate::operator::Comparison;
use crate::prefilter::{Prefilter, PrefilterBuilder};
use crate::rule::{Link, PhaseItem, Rule, Test};
use crate::store::PersistentStore;
use crate::transaction::{ConnectionInfo, Transaction};
use crate::transform::Transform;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Counters describing a compiled engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Rules (chains count once).
    pub rules: usize,
    /// Links (each SecRule of a chain counts).
    pub links: usize,
    /// Links whose operator is `@rx`.
    pub rx_links: usize,
    /// `@rx` links gated by a prefilter.
    pub rx_gated: usize,
    /// All gated links (any operator).
    pub gated_links: usize,
    /// Distinct transformation chains.
    pub chains: usize,
    /// Prefilter automata built (one for all chains, or none).
    pub automata: usize,
    /// Distinct literals in the automaton.
    pub prefilter_literals: usize,
}

static NEXT_ENGINE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A compiled SecLang rule set; `Send + Sync`, share it through `Arc`.
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) rules: Vec<Rule>,
    /// Per rule, its id: what a plain TX hit (`GateTest::Tx::plain`) needs of the rule, kept
    /// dense so that the phase loop does not read the rule for it.
    pub(crate) rule_ids: Vec<u64>,
    /// For each phase position holding a rule with `skipAfter`, the position to continue at.
    pub(crate) jumps: [Vec<usize>; 6],
    /// Per phase position (phases 1..=5; index 0 unused), what the phase loop needs to pass
    /// over a rule that cannot match without reading the rule (see [`Gate`]); markers too.
    pub(crate) gates: [Vec<Gate>; 6],
    /// One automaton over the literals of every gated operator (slots are global).
    pub(crate) prefilter: Option<Prefilter>,
    pub(crate) prefilter_on: bool,
    /// Process-unique id (keys the per-thread value memos).
    pub(crate) id: u64,
    /// Whether the value memo is on.
    pub(crate) memo: bool,
    /// Words of a value's live bits (prefilter slots, then memoised links without one; see
    /// `Link::live_slot`); 0 when neither prefilters nor the memo are on.
    pub(crate) live_words: usize,
    /// Live bits before a value's scan: the memoised links without a prefilter slot.
    pub(crate) live_init: Vec<u64>,
    /// Per target group: the distinct live slots of its links (at most 64, each link's
    /// `group_bit` is its index here). A group with any gets its values' live bits, and a
    /// union of them as one word: bit *j* set when some value has slot `group_slots[g][j]`.
    pub(crate) group_slots: Vec<Vec<u32>>,
    /// Per target group, what its union reads (see [`GroupPlan`]).
    pub(crate) group_plans: Vec<GroupPlan>,
    /// The tables the [`GroupPlan`]s index: atoms, (word, mask) pairs and slot positions of
    /// every group, one after another.
    pub(crate) union_atoms: Vec<u32>,
    pub(crate) union_words: Vec<(u32, u64)>,
    pub(crate) union_slots: Vec<u16>,
    /// The TX names with a slot, as registered when this engine was built (its rules' names
    /// included): its transactions look names up here, without a lock.
    pub(crate) tx_names: Arc<crate::txvars::TxNames>,
    /// Number of distinct target sets (see `Link::target_set`).
    pub(crate) target_sets: usize,
    /// Per target set: its targets as atoms (indices into `atoms`), in order.
    pub(crate) set_atoms: Vec<Vec<u32>>,
    /// Distinct (target, exclusions of its variable) pairs of the target sets: a
    /// transaction extracts each once, and a set is the concatenation of its atoms' items.
    pub(crate) atoms: Vec<Atom>,
    /// Whether a rule has an `XML:` XPath other than `/*` and `//@*`: only then is the
    /// parsed XML body kept for the transaction's rules.
    pub(crate) xml_tree: bool,
    pub(crate) store: PersistentStore,
    /// Phase 1's prologue (see `prologue.rs`), computed by the first transaction.
    prologue: std::sync::OnceLock<Option<crate::prologue::Prologue>>,
    /// Rule indices per tag (for `ctl:ruleRemoveByTag`/`ruleRemoveTargetByTag`).
    by_tag: HashMap<String, Vec<u32>>,
    /// `(id, rule index)` sorted, for `ctl:ruleRemoveById` and friends: a range of ids is a
    /// binary search, not a walk over every rule (which, run by CRS's 920539 on every JSON
    /// request, touched a cache line per rule).
    by_id: Vec<(u64, u32)>,
    stats: EngineStats,
}

impl Engine {
    /// A new builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Starts a transaction for one request.
    pub fn transaction(self: &Arc<Self>, conn: ConnectionInfo) -> Transaction {
        Transaction::new(self.clone(), conn)
    }

    /// Phase 1's prologue, when it has one (computed on first use).
    pub(crate) fn prologue(self: &Arc<Self>) -> Option<&crate::prologue::Prologue> {
        self.prologue
            .get_or_init(|| crate::prologue::Prologue::compute(self))
            .as_ref()
    }

    /// Engine settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Number of rules (a chain counts once).
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Indices of the rules whose id is in `a..=b`.
    pub(crate) fn rules_in(&self, a: u64, b: u64) -> impl Iterator<Item = u32> + '_ {
        let from = self.by_id.partition_point(|&(id, _)| id < a);
        self.by_id[from..]
            .iter()
            .take_while(move |&&(id, _)| id <= b)
            .map(|&(_, i)| i)
    }

    /// Indices of the rules carrying `tag` (exact match).
    pub(crate) fn rules_tagged(&self, tag: &str) -> impl Iterator<Item = u32> + '_ {
        self.by_tag.get(tag).into_iter().flatten().copied()
    }

    /// Compilation counters (prefilter coverage etc.).
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Number of persistent collections (IP, GLOBAL, ...) currently stored.
    pub fn stored_collections(&self) -> usize {
        self.store.collections()
    }

    /// Whether prefilters are used.
    pub fn prefilter_enabled(&self) -> bool {
        self.prefilter_on
    }

    /// Builds now every automaton that is otherwise built on a rule's first use (`@rx`
    /// regexes, `@pm` phrase sets). Compiling an engine leaves them lazy so that loading is
    /// fast; a caller can run this on a background thread after loading, so that the first
    /// requests do not pay for them (and cannot exceed an evaluation time budget because of
    /// them). Safe to run while transactions use the engine.
    pub fn warm(&self) {
        for rule in &self.rules {
            for link in &rule.links {
                if let Test::Operator(op) = &link.test {
                    // A pattern over the size limit was reported at compile time already.
                    let _ = op.warm();
                }
            }
        }
    }

    /// Ids of all rules, in file order.
    pub fn rule_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.rules.iter().map(|r| r.id)
    }

    pub(crate) fn from_builder(b: &mut EngineBuilder) -> Result<Engine, CompileError> {
        let items = std::mem::take(&mut b.items);
        let mut rules = Vec::new();
        let mut phases: [Vec<PhaseItem>; 6] = Default::default();
        let mut seen = HashSet::new();
        for item in items {
            match item {
                Item::Marker(m) => {
                    for p in phases.iter_mut().skip(1) {
                        p.push(PhaseItem::Marker(m.clone()));
                    }
                }
                Item::Rule(r) => {
                    if !seen.insert(r.id) {
                        return Err(r.origin().error(format!("duplicate rule id {}", r.id)));
                    }
                    phases[r.phase as usize].push(PhaseItem::Rule(rules.len()));
                    rules.push(r);
                }
            }
        }
        let jumps = resolve_jumps(&phases, &rules);

        let mut stats = EngineStats {
            rules: rules.len(),
            ..Default::default()
        };
        let mut chain_ids: HashMap<Vec<Transform>, u32> = HashMap::new();
        let mut chains: Vec<Vec<Transform>> = Vec::new();
        let mut target_set_ids: HashMap<String, u32> = HashMap::new();
        let mut set_atoms: Vec<Vec<u32>> = Vec::new();
        let mut atoms: Vec<Atom> = Vec::new();
        let mut atom_ids: HashMap<String, u32> = HashMap::new();
        let mut group_ids: HashMap<(u32, u32), u32> = HashMap::new();
        let mut group_slots: Vec<Vec<u32>> = Vec::new();
        let mut xml_tree = false;
        let mut literals = PrefilterBuilder::default();
        for rule in &mut rules {
            for link in &mut rule.links {
                stats.links += 1;
                let id = *chain_ids.entry(link.transforms.clone()).or_insert_with(|| {
                    chains.push(link.transforms.clone());
                    (chains.len() - 1) as u32
                });
                link.chain_id = id;
                link.chain_trigger = Transform::chain_trigger(&link.transforms);
                link.direct_tx = crate::eval::direct_tx_of(link);
                xml_tree |= link.targets.iter().any(|t| {
                    matches!(&t.selector, Some(crate::variable::Selector::XPath(x))
                        if x.fast_path().is_none())
                });
                let Test::Operator(op) = &link.test else {
                    continue;
                };
                link.memoised = b.memo && op.is_memoisable();
                if let Some(key) = group_key(link) {
                    let next = target_set_ids.len() as u32;
                    let set = *target_set_ids.entry(key).or_insert(next);
                    if set == next {
                        set_atoms.push(link_atoms(link, &mut atoms, &mut atom_ids));
                    }
                    link.target_set = Some(set);
                    if !link.multi_match {
                        let next = group_ids.len() as u32;
                        let g = *group_ids.entry((set, id)).or_insert(next);
                        if g == next {
                            group_slots.push(Vec::new());
                        }
                        link.group = Some(g);
                    }
                }
                let is_rx = op.name().eq_ignore_ascii_case("rx");
                stats.rx_links += usize::from(is_rx);
                let own_automaton = matches!(
                    op.name().to_ascii_lowercase().as_str(),
                    "pm" | "pmf" | "pmfromfile"
                );
                if !b.prefilter || own_automaton {
                    continue;
                }
                if let Some(lits) = op.prefilter_literals() {
                    link.prefilter = literals.add(&lits);
                    if link.prefilter.is_some() {
                        stats.gated_links += 1;
                        stats.rx_gated += usize::from(is_rx);
                    }
                }
            }
        }
        // Live slots (see `Link::live_slot`): a gated link's is its prefilter slot; a
        // memoised link without one gets a slot after the prefilter's, set in every value's
        // live bits until the memo learns that the operator does not match the value.
        let prefilter_slots = literals.slots();
        let mut live_slots = prefilter_slots;
        for link in rules.iter_mut().flat_map(|r| r.links.iter_mut()) {
            link.live_slot = link.prefilter.or_else(|| {
                link.memoised.then(|| {
                    live_slots += 1;
                    live_slots - 1
                })
            });
            if let (Some(slot), Some(g)) = (link.live_slot, link.group) {
                let slots = &mut group_slots[g as usize];
                let j = slots.iter().position(|&s| s == slot).unwrap_or_else(|| {
                    slots.push(slot);
                    slots.len() - 1
                });
                link.group_bit = u8::try_from(j).ok().filter(|&j| j < 64);
            }
        }
        // Per group: the words of the live bits its slots fall in, with the mask of its
        // slots in each (a group's union is ORed over these words only).
        let group_words: Vec<Vec<(u32, u64)>> = group_slots
            .iter()
            .map(|slots| {
                let mut words: Vec<(u32, u64)> = Vec::new();
                for &s in slots.iter().take(64) {
                    let (w, bit) = (s / 64, 1u64 << (s % 64));
                    match words.iter_mut().find(|(x, _)| *x == w) {
                        Some((_, m)) => *m |= bit,
                        None => words.push((w, bit)),
                    }
                }
                words
            })
            .collect();
        // Per group, slot j's word (its index in the group's words) and bit: (k << 6) | bit.
        let group_slot_pos: Vec<Vec<u16>> = group_slots
            .iter()
            .zip(&group_words)
            .map(|(slots, words)| {
                slots
                    .iter()
                    .take(64)
                    .map(|&s| {
                        let k = words.iter().position(|&(w, _)| w == s / 64).unwrap_or(0);
                        ((k as u16) << 6) | (s % 64) as u16
                    })
                    .collect()
            })
            .collect();
        // Each group its plan.
        let (mut union_atoms, mut union_words, mut union_slots) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut group_plans: Vec<Option<GroupPlan>> = vec![None; group_slots.len()];
        for (ri, rule) in rules.iter().enumerate() {
            for (li, link) in rule.links.iter().enumerate() {
                let (Some(g), Some(set)) = (link.group, link.target_set) else {
                    continue;
                };
                let g = g as usize;
                if group_plans[g].is_some() {
                    continue;
                }
                group_plans[g] = Some(GroupPlan {
                    atoms: append(&mut union_atoms, &set_atoms[set as usize]),
                    words: append(&mut union_words, &group_words[g]),
                    slots: append(&mut union_slots, &group_slot_pos[g]),
                    trigger: link.unchanged_trigger(),
                    chain_id: link.chain_id,
                    link: (ri as u32, li as u32),
                });
            }
        }
        let group_plans: Vec<GroupPlan> = group_plans
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        let live_words = (live_slots as usize).div_ceil(64);
        let mut live_init = vec![0u64; live_words];
        for s in prefilter_slots..live_slots {
            live_init[s as usize / 64] |= 1 << (s % 64);
        }
        let prefilter = literals.build().map_err(|e| CompileError::new("", 0, e))?;
        if let Some(p) = &prefilter {
            stats.automata = 1;
            stats.prefilter_literals = p.literals();
        }
        stats.chains = chains.len();
        let mut by_tag: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            for tag in &rule.tags {
                let list = by_tag.entry(tag.clone()).or_default();
                if list.last() != Some(&(i as u32)) {
                    list.push(i as u32);
                }
            }
        }
        let mut by_id: Vec<(u64, u32)> = (0..rules.len() as u32)
            .map(|i| (rules[i as usize].id, i))
            .collect();
        by_id.sort_unstable();
        let gates = phase_gates(&phases, &rules, b.prefilter);
        Ok(Engine {
            config: b.config.clone(),
            rule_ids: rules.iter().map(|r| r.id).collect(),
            rules,
            jumps,
            gates,
            prefilter,
            prefilter_on: b.prefilter,
            tx_names: crate::txvars::TxNames::snapshot(),
            id: NEXT_ENGINE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            memo: b.memo,
            live_words,
            live_init,
            group_slots,
            group_plans,
            union_atoms,
            union_words,
            union_slots,
            target_sets: target_set_ids.len(),
            set_atoms,
            atoms,
            xml_tree,
            store: PersistentStore::new(
                b.config.collection_timeout,
                b.config.max_collections,
                b.clock.clone(),
            ),
            by_tag,
            by_id,
            stats,
            prologue: std::sync::OnceLock::new(),
        })
    }
}

/// One target of a target set with the exclusions of the set that apply to it (same
/// variable), extracted once per transaction and shared by every set that has it.
#[derive(Debug)]
pub(crate) struct Atom {
    pub target: crate::variable::Target,
    pub exclusions: Vec<crate::variable::Target>,
}

/// The identity of one target (or exclusion) as written.
fn target_key(t: &crate::variable::Target) -> String {
    use crate::variable::Selector;
    let (kind, text) = match &t.selector {
        None => ('-', String::new()),
        Some(Selector::Key(k)) => ('k', k.clone()),
        Some(Selector::Regex(re)) => ('r', re.as_str().to_string()),
        Some(Selector::XPath(x)) => ('x', x.text().to_string()),
    };
    format!(
        "{}{}{}{kind}{}:{text}|",
        if t.exclude { "!" } else { "" },
        if t.count { "&" } else { "" },
        t.var.name(),
        text.len()
    )
}

/// The atoms of a link's (stable) target list, registered in `atoms`/`ids`.
fn link_atoms(link: &Link, atoms: &mut Vec<Atom>, ids: &mut HashMap<String, u32>) -> Vec<u32> {
    link.targets
        .iter()
        .map(|t| {
            let exclusions: Vec<_> = link
                .exclusions
                .iter()
                .filter(|e| e.var == t.var)
                .cloned()
                .collect();
            let mut key = target_key(t);
            for e in &exclusions {
                key.push_str(&target_key(e));
            }
            let next = atoms.len() as u32;
            *ids.entry(key).or_insert_with(|| {
                atoms.push(Atom {
                    target: t.clone(),
                    exclusions,
                });
                next
            })
        })
        .collect()
}

/// The identity of a link's target list (targets and exclusions, as written), when every
/// target is a stable variable ([`crate::variable::Var::is_stable`]); `None` otherwise.
fn group_key(link: &Link) -> Option<String> {
    let mut key = String::new();
    for t in link.targets.iter().chain(&link.exclusions) {
        if !t.var.is_stable() {
            return None;
        }
        key.push_str(&target_key(t));
    }
    Some(key)
}

/// What the union of one target group reads (`groups.rs`), kept in one dense table for all
/// groups instead of in each link: a transaction computes ~80 unions, most of them from
/// values the group's chain leaves as they are, and reading the first rule of each group
/// and its link for them cost two cache misses per union. The link is read only when a
/// value must go through the chain.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GroupPlan {
    /// The set's atoms, as (start, len) in `Engine::union_atoms`.
    pub atoms: (u32, u32),
    /// The words of live bits the group's slots fall in, each with the mask of its slots,
    /// in `Engine::union_words`.
    pub words: (u32, u32),
    /// Where each of the group's first 64 slots falls, `(k << 6) | bit` for word `k`, in
    /// `Engine::union_slots`.
    pub slots: (u32, u32),
    /// `Link::unchanged_trigger` of the group's chain (`leaves_unchanged` as data).
    pub trigger: Option<u32>,
    /// The chain's id (`Link::chain_id`).
    pub chain_id: u32,
    /// (rule, link) of one link of the group: the chain to run.
    pub link: (u32, u32),
}

impl GroupPlan {
    /// Whether the group's chain leaves every value within byte classes `classes` as it is
    /// (as `Link::leaves_unchanged` of its links).
    #[inline]
    pub(crate) fn leaves_unchanged(&self, classes: u32) -> bool {
        self.trigger.is_some_and(|t| classes & t == 0)
    }
}

/// Appends `items` to `table`: their (start, len) in it.
fn append<T: Copy>(table: &mut Vec<T>, items: &[T]) -> (u32, u32) {
    let start = table.len() as u32;
    table.extend_from_slice(items);
    (start, items.len() as u32)
}

/// A phase position as the phase loop first reads it: a dense copy of what decides, for most
/// rules of a request, that the rule cannot match. A transaction passes over hundreds of
/// rules this way; reading a few bytes each instead of the rule, its first link and its
/// operator keeps the loop's memory small, which matters in a proxy whose caches the kernel
/// and other connections share between two transactions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gate {
    /// The rule's index, or [`Gate::MARKER`].
    pub ri: u32,
    pub test: GateTest,
}

/// The first link's test as far as a [`Gate`] can decide it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GateTest {
    /// Only the rule itself can tell.
    Rule,
    /// No match when bit `bit` of group `group`'s union is clear (see `Link::group_bit`).
    /// The union stays a superset of the values when runtime exclusions remove some, so it
    /// decides for rules with such removals too — unless a target is a count (`counted`),
    /// which the removals would change.
    Union { group: u32, bit: u8, counted: bool },
    /// A direct TX read (`Link::direct_tx`: member `slot`, or its count when `count`)
    /// compared with a literal number: no match when the comparison fails, a match
    /// (taken without evaluating the operator again) when it holds — CRS's paranoia-level,
    /// default-setting and score checks. `plain`: the match has no effect beyond the
    /// matched variables, the match record and the rule's `skipAfter` (see
    /// [`plain_tx_rule`]) — CRS's paranoia-level skips, ~55 per request.
    Tx {
        slot: u32,
        operand: i32,
        cmp: Comparison,
        count: bool,
        plain: bool,
    },
}

impl Gate {
    pub(crate) const MARKER: u32 = u32::MAX;
}

// The loop reads one gate per rule: keep four to a cache line.
const _: () = assert!(std::mem::size_of::<Gate>() == 16);

/// The gates of every phase position; `fast`: plain TX hits are marked (an engine built
/// without prefilters, the tests' reference, takes no fast path).
fn phase_gates(phases: &[Vec<PhaseItem>; 6], rules: &[Rule], fast: bool) -> [Vec<Gate>; 6] {
    phases.each_ref().map(|items| {
        items
            .iter()
            .map(|item| match item {
                PhaseItem::Marker(_) => Gate {
                    ri: Gate::MARKER,
                    test: GateTest::Rule,
                },
                PhaseItem::Rule(ri) => Gate {
                    ri: *ri as u32,
                    test: gate_test(&rules[*ri], fast),
                },
            })
            .collect()
    })
}

/// The gate of `rule`, from its first link; `fast`: see [`phase_gates`].
fn gate_test(rule: &Rule, fast: bool) -> GateTest {
    let first = &rule.links[0];
    let Test::Operator(op) = &first.test else {
        return GateTest::Rule;
    };
    if let (Some(group), Some(bit)) = (first.group, first.group_bit) {
        return GateTest::Union {
            group,
            bit,
            counted: first.targets.iter().any(|t| t.count),
        };
    }
    match (first.direct_tx, op.constant_comparison()) {
        (Some(tx), Some((cmp, operand))) => match i32::try_from(operand) {
            Ok(operand) => GateTest::Tx {
                slot: tx.slot,
                operand,
                cmp,
                count: tx.count,
                plain: fast && plain_tx_rule(rule),
            },
            Err(_) => GateTest::Rule,
        },
        _ => GateTest::Rule,
    }
}

/// Whether a match of `rule`, a one-link rule whose link reads a TX member directly, does
/// nothing but set the matched variables, record the match and jump (`skipAfter`): no
/// capture, setvar, other action, message, log data, severity, `log`, `skip` or disruptive
/// action beyond `pass`/`block` (neither acts in the phase loop).
fn plain_tx_rule(rule: &Rule) -> bool {
    let [link] = rule.links.as_slice() else {
        return false;
    };
    link.direct_tx.is_some()
        && !link.capture
        && link.setvars.is_empty()
        && link.actions.is_empty()
        && link.msg.is_none()
        && link.logdata.is_none()
        && rule.severity.is_none()
        && !rule.log
        && rule.skip == 0
        && matches!(rule.disruptive, Disruptive::Pass | Disruptive::Block)
}

/// For every rule position with `skipAfter:M`, the position just after the next marker `M`
/// in the same phase (or the end of the phase when there is none).
fn resolve_jumps(phases: &[Vec<PhaseItem>; 6], rules: &[Rule]) -> [Vec<usize>; 6] {
    let mut jumps: [Vec<usize>; 6] = Default::default();
    for (p, items) in phases.iter().enumerate() {
        let mut j = vec![usize::MAX; items.len()];
        for (pos, item) in items.iter().enumerate() {
            let PhaseItem::Rule(ri) = item else { continue };
            let Some(marker) = &rules[*ri].skip_after else {
                continue;
            };
            let target = items[pos + 1..]
                .iter()
                .position(|it| matches!(it, PhaseItem::Marker(m) if m == marker))
                .map_or(items.len(), |off| pos + 1 + off + 1);
            j[pos] = target;
        }
        jumps[p] = j;
    }
    jumps
}
