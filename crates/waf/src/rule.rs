//! The compiled rule model. A [`Rule`] is a chain of [`Link`]s (one per `SecRule` of a
//! `chain`); the first link carries the rule's identity, metadata and disruptive action.
//! Rules are grouped per phase in file order, with `SecMarker`s as [`PhaseItem::Marker`].

use crate::action::{Action, Disruptive};
use crate::error::Origin;
use crate::macros::Macro;
use crate::operator::Operator;
use crate::setvar::SetVar;
use crate::transform::Transform;
use crate::variable::Target;

/// What a link tests.
#[derive(Debug)]
pub enum Test {
    /// `SecAction`: matches once, with no variable.
    Always,
    /// `SecRule`: an operator applied to the link's targets.
    Operator(Operator),
}

/// A link that reads one TX member directly (see `Link::direct_tx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectTx {
    /// The member's slot.
    pub slot: u32,
    /// `&TX:name`: the operator sees `1` when the member is set, else `0`.
    pub count: bool,
}

/// One `SecRule` (or `SecAction`) of a rule chain.
#[derive(Debug)]
pub struct Link {
    /// Positive targets, in order.
    pub targets: Vec<Target>,
    /// `!` targets: members removed from the positive targets of the same variable.
    pub exclusions: Vec<Target>,
    /// What to test.
    pub test: Test,
    /// Effective transformation chain (defaults applied, `t:none` resolved).
    pub transforms: Vec<Transform>,
    /// Index of `transforms` in the engine's table of distinct chains.
    pub chain_id: u32,
    /// `Transform::chain_trigger` of `transforms`: a value with none of these byte classes
    /// passes the chain unchanged.
    pub chain_trigger: Option<u32>,
    /// Prefilter slot in the engine's automaton, when the operator can be gated.
    pub prefilter: Option<u32>,
    /// Bit of a value's *live bits* that must be set for the operator to possibly match: the
    /// prefilter slot (its literals occur in the value) or, for a memoised operator without
    /// one, a slot of its own after the prefilter's.
    pub live_slot: Option<u32>,
    /// Whether the value memo (see `memo.rs`) clears `live_slot` for a value the operator
    /// does not match: its verdict depends only on the value and is worth remembering.
    pub memoised: bool,
    /// Set when the link's only target is `TX:name` or `&TX:name`, untransformed and without
    /// exclusions (CRS's paranoia-level, score and default-setting checks): the member is
    /// read directly. Decided when the engine is built, after `SecRuleUpdateTargetById`.
    pub direct_tx: Option<DirectTx>,
    /// Target set: links with the same targets and exclusions over stable variables share
    /// one per-transaction list of extracted items (see `eval.rs`).
    pub target_set: Option<u32>,
    /// Target group: links with the same target set and chain (not `multiMatch`) share one
    /// per-transaction list of transformed values and their prefilter scans.
    pub group: Option<u32>,
    /// This link's bit in its group's union (see `Engine::group_slots`): set when a value
    /// of the group has the link's live slot. None without a live slot or past 64 slots.
    pub group_bit: Option<u8>,
    /// Run per matched value, whether or not the rest of the chain matches.
    pub setvars: Vec<SetVar>,
    /// Run once after the whole chain matched (ctl, initcol, ...).
    pub actions: Vec<Action>,
    /// `capture`: fill TX:0..9 from the operator.
    pub capture: bool,
    /// `multiMatch`: test the value after every transformation that changed it.
    pub multi_match: bool,
    /// `msg` of this link (the first link's wins).
    pub msg: Option<Macro>,
    /// `logdata` of this link (the first link's wins).
    pub logdata: Option<Macro>,
    /// Where the `SecRule` was written.
    pub origin: Origin,
}

impl Link {
    /// Whether the link's transformation chain leaves every value whose byte classes are
    /// within `classes` as it is (no transformation, or none of the chain's trigger classes).
    #[inline]
    pub(crate) fn leaves_unchanged(&self, classes: u32) -> bool {
        self.unchanged_trigger().is_some_and(|t| classes & t == 0)
    }

    /// The byte classes without which a value goes through the chain unchanged: none
    /// (`Some(0)`) without transformations; `None` when the chain may change any value.
    pub(crate) fn unchanged_trigger(&self) -> Option<u32> {
        match self.transforms.is_empty() {
            true => Some(0),
            false => self.chain_trigger,
        }
    }
}

/// A complete rule.
#[derive(Debug)]
pub struct Rule {
    /// `id` (0 for chain-less rules without one, which SecLang forbids for SecRule).
    pub id: u64,
    /// Phase 1..=5.
    pub phase: u8,
    /// The chain; never empty.
    pub links: Vec<Link>,
    /// `tag`s (defaults first).
    pub tags: Vec<String>,
    /// `severity`.
    pub severity: Option<u8>,
    /// Effective disruptive action (`block` resolved through `SecDefaultAction`).
    pub disruptive: Disruptive,
    /// `status` for deny/redirect.
    pub status: Option<u16>,
    /// Whether a match is logged.
    pub log: bool,
    /// `skipAfter` marker.
    pub skip_after: Option<String>,
    /// `skip` count.
    pub skip: u32,
}

impl Rule {
    /// Whether the effective action is deny, drop or redirect.
    pub fn is_disruptive(&self) -> bool {
        matches!(
            self.disruptive,
            Disruptive::Deny | Disruptive::Drop | Disruptive::Redirect(_)
        )
    }

    /// Where the rule's first `SecRule` was written.
    pub fn origin(&self) -> &Origin {
        &self.links[0].origin
    }
}

/// An entry of a phase's rule list.
#[derive(Debug)]
pub enum PhaseItem {
    /// Index into the engine's rule table.
    Rule(usize),
    /// `SecMarker` name.
    Marker(String),
}
