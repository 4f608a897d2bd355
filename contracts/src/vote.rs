//! `vote`: an election with a fixed list of voters, each casting one signed ballot, and a
//! public tally (a plain-text version of the original prototype's `vote` example, which
//! encrypted ballots under a tallier key).
//!
//! An election is an object whose value is the canonical JSON
//! `{"label": s, "options": [s...], "tallies": [u64...], "voted": [key...], "voters": [key...]}`
//! with keys in lower-case hex.
//!
//! * `create(options, voters, label)`: no inputs, parameters `[options, voters, label]`,
//!   one output, the election with every tally zero and nobody having voted. Options and
//!   voters are non-empty and without repeats; the label tells apart elections with the
//!   same options and voters (without it they would be the same transaction, hence the
//!   same object).
//! * `cast(election, option, voter)`: consumes the election, parameters
//!   `[option index, voter key hex, signature hex]`, one output, the election with that
//!   option's tally incremented and the voter appended to `voted`. The voter must be on
//!   the list and not have voted; the signature is the voter's, in [`CAST_DOMAIN`], over
//!   [`cast_message`]: the exact value of the election consumed and the option.
//! * `tally(election)`: reads the election as a *reference* input (not consumed), no
//!   parameters, no outputs, returns `[tallies]` (one value: the list of tallies in option
//!   order).
//!
//! As in `bank`, the signature binds the consumed value rather than its ID, because a
//! checker sees only values: `voted` grows with every ballot, so an election never returns
//! to an earlier value and a ballot signed for one state of one election is valid for no
//! other.

use std::collections::BTreeSet;

use chainspace_core::checker::{CheckRequest, CheckVerdict};
use chainspace_core::crypto::{Keypair, PublicKey};
use chainspace_core::json::to_canonical_string;
use chainspace_core::object::Object;
use chainspace_core::transaction::Transaction;
use serde_json::{Value, json};

use crate::NativeContract;
use crate::call::{
    Count, Shape, array_of, expect_contract, expect_output, field, fields, invalid, key_hex,
    parse_canonical, public_key_of, signature_hex, signature_of, str_of, u64_of, unknown_method,
    verdict,
};
use crate::error::{ContractError, clip};

/// The contract ID.
pub const CONTRACT_ID: &str = "vote";
/// The method creating an election.
pub const CREATE: &str = "create";
/// The method casting one ballot.
pub const CAST: &str = "cast";
/// The method reading the tallies.
pub const TALLY: &str = "tally";
/// The signature domain of ballots, so a ballot signature is never valid for anything
/// else (a bank transfer, a consensus vote).
pub const CAST_DOMAIN: &[u8] = b"chainspace-contracts/vote/cast/v1";

/// The keys of an election value, in canonical order.
const KEYS: [&str; 5] = ["label", "options", "tallies", "voted", "voters"];

/// The `vote` contract as a [`NativeContract`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Vote;

impl NativeContract for Vote {
    fn id(&self) -> &'static str {
        CONTRACT_ID
    }

    fn check(&self, request: &CheckRequest) -> CheckVerdict {
        check(request)
    }
}

/// One state of an election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Election {
    /// Set by the creator to tell apart elections with the same options and voters.
    pub label: String,
    /// What voters choose between; never changes.
    pub options: Vec<String>,
    /// Ballots per option, in option order.
    pub tallies: Vec<u64>,
    /// Who has voted, in ballot order: a voter may appear once, and the list only grows,
    /// which makes every state's value unique.
    pub voted: Vec<PublicKey>,
    /// Who may vote; never changes.
    pub voters: Vec<PublicKey>,
}

impl Election {
    /// A new election: every tally zero, nobody voted. Options and voters must be
    /// non-empty and without repeats.
    pub fn new(
        options: &[String],
        voters: &[PublicKey],
        label: &str,
    ) -> Result<Election, ContractError> {
        let election = Election {
            label: label.to_string(),
            options: options.to_vec(),
            tallies: vec![0; options.len()],
            voted: vec![],
            voters: voters.to_vec(),
        };
        election.validate("election")?;
        Ok(election)
    }

    /// The election's object value, canonical JSON.
    pub fn to_value(&self) -> String {
        let keys = |keys: &[PublicKey]| keys.iter().map(key_hex).collect::<Vec<_>>();
        to_canonical_string(&json!({
            "label": self.label,
            "options": self.options,
            "tallies": self.tallies,
            "voted": keys(&self.voted),
            "voters": keys(&self.voters),
        }))
    }

    /// Read an election from an object value, which must be exactly what
    /// [`Election::to_value`] writes, for an election `create` and `cast` can produce.
    pub fn parse(value: &str) -> Result<Election, ContractError> {
        Self::parse_at(value, "election")
    }

    fn parse_at(value: &str, what: &str) -> Result<Election, ContractError> {
        let parsed = parse_canonical(value, what)?;
        let map = fields(&parsed, what, &KEYS)?;
        let list = |key: &str| {
            let at = format!("{what}.{key}");
            array_of(field(map, key), &at).map(|items| (items, at))
        };
        let keys = |key: &str| -> Result<Vec<PublicKey>, ContractError> {
            let (items, at) = list(key)?;
            items.iter().enumerate().map(|(i, v)| public_key_of(v, &format!("{at}[{i}]"))).collect()
        };
        let (options, at) = list("options")?;
        let options = options
            .iter()
            .enumerate()
            .map(|(i, v)| str_of(v, &format!("{at}[{i}]")).map(str::to_string))
            .collect::<Result<_, _>>()?;
        let (tallies, at) = list("tallies")?;
        let tallies = tallies
            .iter()
            .enumerate()
            .map(|(i, v)| u64_of(v, &format!("{at}[{i}]")))
            .collect::<Result<_, _>>()?;
        let election = Election {
            label: str_of(field(map, "label"), &format!("{what}.label"))?.to_string(),
            options,
            tallies,
            voted: keys("voted")?,
            voters: keys("voters")?,
        };
        election.validate(what)?;
        Ok(election)
    }

    /// The invariants every election reachable by `create` and `cast` holds.
    fn validate(&self, what: &str) -> Result<(), ContractError> {
        if self.options.is_empty() {
            return Err(invalid(what, "an election needs at least one option"));
        }
        if !distinct(&self.options) {
            return Err(invalid(what, "options repeat"));
        }
        if self.voters.is_empty() {
            return Err(invalid(what, "an election needs at least one voter"));
        }
        let allowed: BTreeSet<&PublicKey> = self.voters.iter().collect();
        if allowed.len() != self.voters.len() {
            return Err(invalid(what, "voters repeat"));
        }
        if self.tallies.len() != self.options.len() {
            return Err(invalid(what, "there must be one tally per option"));
        }
        if !distinct(&self.voted) || self.voted.iter().any(|v| !allowed.contains(v)) {
            return Err(invalid(what, "voted must list distinct allowed voters"));
        }
        let ballots = self.tallies.iter().try_fold(0u64, |sum, t| sum.checked_add(*t));
        if ballots != u64::try_from(self.voted.len()).ok() {
            return Err(invalid(
                what,
                "the tallies do not add up to the number of voters who voted",
            ));
        }
        Ok(())
    }

    /// The election after `voter` chooses `option`: the option must exist, and the voter
    /// must be allowed and not have voted.
    pub fn cast(&self, option: u64, voter: &PublicKey) -> Result<Election, ContractError> {
        let count = self.options.len();
        let index = usize::try_from(option)
            .ok()
            .filter(|i| *i < count)
            .ok_or(ContractError::OptionOutOfRange { index: option, count })?;
        if !self.voters.contains(voter) {
            return Err(ContractError::UnknownVoter { voter: key_hex(voter) });
        }
        if self.voted.contains(voter) {
            return Err(ContractError::AlreadyVoted { voter: key_hex(voter) });
        }
        let mut next = self.clone();
        let tally = next
            .tallies
            .get_mut(index)
            .ok_or(ContractError::OptionOutOfRange { index: option, count })?;
        *tally = tally
            .checked_add(1)
            .ok_or_else(|| ContractError::Overflow { what: format!("tallies[{index}]") })?;
        next.voted.push(*voter);
        Ok(next)
    }

    /// What `tally` returns: one value, the list of tallies.
    pub fn tally_returns(&self) -> Vec<Value> {
        vec![json!(self.tallies)]
    }
}

/// Whether `items` has no repeats.
fn distinct<T: Ord>(items: &[T]) -> bool {
    items.iter().collect::<BTreeSet<_>>().len() == items.len()
}

/// The message a voter signs (in [`CAST_DOMAIN`]): the canonical JSON of
/// `[election_value, option]`, where the value is the consumed object's exact text.
pub fn cast_message(election_value: &str, option: u64) -> Vec<u8> {
    to_canonical_string(&json!([election_value, option])).into_bytes()
}

/// `create(options, voters, label)`: no inputs, one output, the new election.
pub fn create(
    options: &[String],
    voters: &[PublicKey],
    label: &str,
) -> Result<Transaction, ContractError> {
    let election = Election::new(options, voters, label)?;
    let voters: Vec<String> = voters.iter().map(key_hex).collect();
    Ok(Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: CREATE.into(),
        input_ids: vec![],
        reference_input_ids: vec![],
        parameters: vec![json!(options), json!(voters), json!(label)],
        outputs: vec![election.to_value()],
        returns: vec![],
        dependencies: vec![],
    })
}

/// `cast(election, option, voter)`: consume `election`, create it with `voter`'s ballot
/// for `option` counted, signed by `voter`.
pub fn cast(
    election: &Object,
    option: usize,
    voter: &Keypair,
) -> Result<Transaction, ContractError> {
    let current = Election::parse(&election.value)?;
    let option = u64::try_from(option).map_err(|_| ContractError::OptionOutOfRange {
        index: u64::MAX,
        count: current.options.len(),
    })?;
    let next = current.cast(option, &voter.public())?;
    let signature = voter.sign(CAST_DOMAIN, &cast_message(&election.value, option));
    Ok(Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: CAST.into(),
        input_ids: vec![election.id],
        reference_input_ids: vec![],
        parameters: vec![
            json!(option),
            json!(key_hex(&voter.public())),
            json!(signature_hex(&signature)),
        ],
        outputs: vec![next.to_value()],
        returns: vec![],
        dependencies: vec![],
    })
}

/// `tally(election)`: read `election` without consuming it, return its tallies.
pub fn tally(election: &Object) -> Result<Transaction, ContractError> {
    let current = Election::parse(&election.value)?;
    Ok(Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: TALLY.into(),
        input_ids: vec![],
        reference_input_ids: vec![election.id],
        parameters: vec![],
        outputs: vec![],
        returns: current.tally_returns(),
        dependencies: vec![],
    })
}

/// The checker: accept `request` if it is exactly a call `create`, `cast` or `tally`
/// makes, with a valid ballot signature.
pub fn check(request: &CheckRequest) -> CheckVerdict {
    verdict(validate(request))
}

/// [`check`], with the broken rule as a structured error.
pub fn validate(request: &CheckRequest) -> Result<(), ContractError> {
    expect_contract(&request.call, CONTRACT_ID)?;
    match request.call.method_id.as_str() {
        CREATE => validate_create(request),
        CAST => validate_cast(request),
        TALLY => validate_tally(request),
        _ => Err(unknown_method(CONTRACT_ID, &request.call)),
    }
}

fn validate_create(request: &CheckRequest) -> Result<(), ContractError> {
    Shape::method(CREATE)
        .parameters(Count::Exactly(3))
        .outputs(Count::Exactly(1))
        .check(request)?;
    let p = &request.call.parameters;
    let options = array_of(&p[0], "parameters[0] (options)")?
        .iter()
        .enumerate()
        .map(|(i, v)| str_of(v, &format!("parameters[0][{i}]")).map(str::to_string))
        .collect::<Result<Vec<_>, _>>()?;
    let voters = array_of(&p[1], "parameters[1] (voters)")?
        .iter()
        .enumerate()
        .map(|(i, v)| public_key_of(v, &format!("parameters[1][{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let label = str_of(&p[2], "parameters[2] (label)")?;
    let election = Election::new(&options, &voters, label)?;
    expect_output(&request.call, 0, &election.to_value())
}

fn validate_cast(request: &CheckRequest) -> Result<(), ContractError> {
    Shape::method(CAST)
        .inputs(Count::Exactly(1))
        .parameters(Count::Exactly(3))
        .outputs(Count::Exactly(1))
        .check(request)?;
    let call = &request.call;
    let option = u64_of(&call.parameters[0], "parameters[0] (option)")?;
    let voter = public_key_of(&call.parameters[1], "parameters[1] (voter)")?;
    let signature = signature_of(&call.parameters[2], "parameters[2] (signature)")?;
    let current = Election::parse_at(&call.inputs[0], "inputs[0]")?;
    let next = current.cast(option, &voter)?;
    expect_output(call, 0, &next.to_value())?;
    if !voter.verify(CAST_DOMAIN, &cast_message(&call.inputs[0], option), &signature) {
        return Err(ContractError::BadSignature {
            what: "not by the voter over this election and option".into(),
        });
    }
    Ok(())
}

fn validate_tally(request: &CheckRequest) -> Result<(), ContractError> {
    Shape::method(TALLY).references(Count::Exactly(1)).returns(Count::Exactly(1)).check(request)?;
    let call = &request.call;
    let election = Election::parse_at(&call.reference_inputs[0], "referenceInputs[0]")?;
    let expected = to_canonical_string(&Value::Array(election.tally_returns()));
    let got = to_canonical_string(&Value::Array(call.returns.clone()));
    if expected == got {
        Ok(())
    } else {
        Err(ContractError::Mismatch {
            what: "returns".into(),
            expected: clip(&expected),
            got: clip(&got),
        })
    }
}

#[cfg(test)]
mod tests;
