//! `bank`: accounts holding a balance, and transfers signed by the paying account's owner
//! (after the original prototype's `bank_authenticated` example).
//!
//! An account is an object whose value is the canonical JSON
//! `{"balance": <u64>, "label": <string>, "nonce": <u64>, "owner": <hex ed25519 key>}`.
//!
//! * **Money enters through `create_account`**, which creates an account with any balance:
//!   this is a benchmark platform, so account creation is an open faucet, and money is
//!   conserved only by transfers. The `label` is chosen by the creator to tell apart
//!   accounts of one owner with one balance: without it two such creations would be the
//!   same transaction, hence the same object.
//! * **`transfer`** consumes two distinct accounts `[from, to]` and creates
//!   `[from - amount, to + amount]`, owners and labels unchanged, with parameters
//!   `[amount, signature]`. The signature is by `from`'s owner, in the domain
//!   [`TRANSFER_DOMAIN`], over [`transfer_message`]: the exact values of both input
//!   accounts and the amount.
//!
//! Why the signature binds values rather than object IDs: a checker sees only values
//! (DESIGN.md, "Checker call"), so it could not tell which IDs a call consumes. Instead
//! each transfer increments the `nonce` of both accounts, so an account never returns to
//! an earlier value, and a value names one state of one account: a signature can
//! authorise only the transfer it was made for. Replaying it needs inputs with byte-equal
//! values, i.e. the very same objects (already consumed), or look-alikes someone built on
//! purpose with the faucet, whose money the replay moves between look-alikes only.

use chainspace_core::checker::{CheckRequest, CheckVerdict};
use chainspace_core::crypto::{Keypair, PublicKey};
use chainspace_core::json::to_canonical_string;
use chainspace_core::object::Object;
use chainspace_core::transaction::Transaction;
use serde_json::json;

use crate::NativeContract;
use crate::call::{
    Count, Shape, expect_contract, expect_output, field, fields, invalid, key_hex, parse_canonical,
    public_key_of, signature_hex, signature_of, str_of, u64_of, unknown_method, verdict,
};
use crate::error::ContractError;

/// The contract ID.
pub const CONTRACT_ID: &str = "bank";
/// The method creating an account (the faucet).
pub const CREATE_ACCOUNT: &str = "create_account";
/// The method moving money between two accounts.
pub const TRANSFER: &str = "transfer";
/// The signature domain of transfers, so a transfer signature is never valid for anything
/// else (another contract, a consensus vote).
pub const TRANSFER_DOMAIN: &[u8] = b"chainspace-contracts/bank/transfer/v1";

/// The keys of an account value, in canonical order.
const KEYS: [&str; 4] = ["balance", "label", "nonce", "owner"];

/// The `bank` contract as a [`NativeContract`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Bank;

impl NativeContract for Bank {
    fn id(&self) -> &'static str {
        CONTRACT_ID
    }

    fn check(&self, request: &CheckRequest) -> CheckVerdict {
        check(request)
    }
}

/// One state of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The money held.
    pub balance: u64,
    /// Set by the creator so that accounts of one owner with one balance are distinct
    /// objects; never changes.
    pub label: String,
    /// How many transfers the account took part in: it makes every state's value unique,
    /// so signatures over values cannot be replayed.
    pub nonce: u64,
    /// Whose signature moves money out of the account; never changes.
    pub owner: PublicKey,
}

impl Account {
    /// A new account, before any transfer.
    pub fn new(owner: PublicKey, balance: u64, label: &str) -> Account {
        Account { balance, label: label.to_string(), nonce: 0, owner }
    }

    /// The account's object value, canonical JSON.
    pub fn to_value(&self) -> String {
        to_canonical_string(&json!({
            "balance": self.balance,
            "label": self.label,
            "nonce": self.nonce,
            "owner": key_hex(&self.owner),
        }))
    }

    /// Read an account from an object value, which must be exactly what
    /// [`Account::to_value`] writes.
    pub fn parse(value: &str) -> Result<Account, ContractError> {
        Self::parse_at(value, "account")
    }

    fn parse_at(value: &str, what: &str) -> Result<Account, ContractError> {
        let parsed = parse_canonical(value, what)?;
        let map = fields(&parsed, what, &KEYS)?;
        Ok(Account {
            balance: u64_of(field(map, "balance"), &format!("{what}.balance"))?,
            label: str_of(field(map, "label"), &format!("{what}.label"))?.to_string(),
            nonce: u64_of(field(map, "nonce"), &format!("{what}.nonce"))?,
            owner: public_key_of(field(map, "owner"), &format!("{what}.owner"))?,
        })
    }
}

/// The accounts after `from` pays `amount` to `to`: the amount must be positive and
/// covered by `from`'s balance, and no balance or nonce may overflow.
pub fn transferred(
    from: &Account,
    to: &Account,
    amount: u64,
) -> Result<(Account, Account), ContractError> {
    if amount == 0 {
        return Err(invalid("amount", "must be positive"));
    }
    let balance = from
        .balance
        .checked_sub(amount)
        .ok_or(ContractError::InsufficientFunds { balance: from.balance, amount })?;
    let overflow = |what: &str| ContractError::Overflow { what: what.to_string() };
    let credited = to.balance.checked_add(amount).ok_or_else(|| overflow("to.balance"))?;
    let from_nonce = from.nonce.checked_add(1).ok_or_else(|| overflow("from.nonce"))?;
    let to_nonce = to.nonce.checked_add(1).ok_or_else(|| overflow("to.nonce"))?;
    Ok((
        Account { balance, nonce: from_nonce, ..from.clone() },
        Account { balance: credited, nonce: to_nonce, ..to.clone() },
    ))
}

/// The message the paying owner signs (in [`TRANSFER_DOMAIN`]): the canonical JSON of
/// `[from_value, to_value, amount]`, where the values are the input objects' exact texts.
pub fn transfer_message(from_value: &str, to_value: &str, amount: u64) -> Vec<u8> {
    to_canonical_string(&json!([from_value, to_value, amount])).into_bytes()
}

/// `create_account(owner, initial_balance, label)`: no inputs, parameters
/// `[owner hex, initial_balance, label]`, one output, the new account.
pub fn create_account(owner: &PublicKey, initial_balance: u64, label: &str) -> Transaction {
    Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: CREATE_ACCOUNT.into(),
        input_ids: vec![],
        reference_input_ids: vec![],
        parameters: vec![json!(key_hex(owner)), json!(initial_balance), json!(label)],
        outputs: vec![Account::new(*owner, initial_balance, label).to_value()],
        returns: vec![],
        dependencies: vec![],
    }
}

/// `transfer(from, to, amount, owner_key)`: consume `[from, to]`, create
/// `[from - amount, to + amount]`, signed by `owner_key`, which must own `from`.
pub fn transfer(
    from: &Object,
    to: &Object,
    amount: u64,
    owner_key: &Keypair,
) -> Result<Transaction, ContractError> {
    let payer = Account::parse_at(&from.value, "from")?;
    let payee = Account::parse_at(&to.value, "to")?;
    if from.id == to.id || from.value == to.value {
        return Err(invalid("to", "must be another account than from"));
    }
    if owner_key.public() != payer.owner {
        return Err(ContractError::BadSignature {
            what: "the signing key does not own the paying account".into(),
        });
    }
    let (paid, credited) = transferred(&payer, &payee, amount)?;
    let signature =
        owner_key.sign(TRANSFER_DOMAIN, &transfer_message(&from.value, &to.value, amount));
    Ok(Transaction {
        contract_id: CONTRACT_ID.into(),
        method_id: TRANSFER.into(),
        input_ids: vec![from.id, to.id],
        reference_input_ids: vec![],
        parameters: vec![json!(amount), json!(signature_hex(&signature))],
        outputs: vec![paid.to_value(), credited.to_value()],
        returns: vec![],
        dependencies: vec![],
    })
}

/// The checker: accept `request` if it is exactly a call `create_account` or `transfer`
/// makes, with a valid signature.
pub fn check(request: &CheckRequest) -> CheckVerdict {
    verdict(validate(request))
}

/// [`check`], with the broken rule as a structured error.
pub fn validate(request: &CheckRequest) -> Result<(), ContractError> {
    expect_contract(&request.call, CONTRACT_ID)?;
    match request.call.method_id.as_str() {
        CREATE_ACCOUNT => validate_create(request),
        TRANSFER => validate_transfer(request),
        _ => Err(unknown_method(CONTRACT_ID, &request.call)),
    }
}

fn validate_create(request: &CheckRequest) -> Result<(), ContractError> {
    Shape::method(CREATE_ACCOUNT)
        .parameters(Count::Exactly(3))
        .outputs(Count::Exactly(1))
        .check(request)?;
    let p = &request.call.parameters;
    let owner = public_key_of(&p[0], "parameters[0] (owner)")?;
    let balance = u64_of(&p[1], "parameters[1] (initial balance)")?;
    let label = str_of(&p[2], "parameters[2] (label)")?;
    expect_output(&request.call, 0, &Account::new(owner, balance, label).to_value())
}

fn validate_transfer(request: &CheckRequest) -> Result<(), ContractError> {
    Shape::method(TRANSFER)
        .inputs(Count::Exactly(2))
        .parameters(Count::Exactly(2))
        .outputs(Count::Exactly(2))
        .check(request)?;
    let call = &request.call;
    let amount = u64_of(&call.parameters[0], "parameters[0] (amount)")?;
    let signature = signature_of(&call.parameters[1], "parameters[1] (signature)")?;
    let (from_value, to_value) = (&call.inputs[0], &call.inputs[1]);
    let from = Account::parse_at(from_value, "inputs[0]")?;
    let to = Account::parse_at(to_value, "inputs[1]")?;
    if from_value == to_value {
        return Err(invalid("inputs", "from and to are the same account"));
    }
    let (paid, credited) = transferred(&from, &to, amount)?;
    expect_output(call, 0, &paid.to_value())?;
    expect_output(call, 1, &credited.to_value())?;
    let message = transfer_message(from_value, to_value, amount);
    if !from.owner.verify(TRANSFER_DOMAIN, &message, &signature) {
        return Err(ContractError::BadSignature {
            what: "not by the paying account's owner over these accounts and amount".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
