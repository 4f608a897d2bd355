//! Transactions: one call of a contract method (Chainspace paper, section 3.1), in the
//! JSON shape of the original Python framework.
//!
//! A transaction names the contract and method, the *input* objects it consumes, the
//! *reference* objects it only reads, the parameters and returns of the call, the values
//! of the *outputs* it creates, and the *dependencies*: nested contract calls (the paper's
//! "cross-contract calls", section 3.2) that commit atomically with it.
//!
//! Its identity ([`TxId`]) is the SHA-256 of its canonical JSON ([`crate::json`]), and the
//! IDs of its outputs derive from that digest, so Python clients compute the very same IDs
//! (DESIGN.md, "Compatibility with the original Chainspace").

pub mod memo;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Error;
use crate::crypto::sha256;
use crate::json::{to_canonical_value, write_canonical, write_json_array, write_json_string};
use crate::object::{Object, ObjectId, hex_id};

hex_id!(
    /// The ID of a transaction: the SHA-256 of its canonical JSON, as Python's
    /// `hashlib.sha256(json.dumps(tx, sort_keys=True, separators=(',', ':')))` gives it.
    TxId
);

/// The JSON keys of a transaction, exactly as the original framework names them.
const FIELDS: [&str; 8] = [
    "contractID",
    "methodID",
    "inputIDs",
    "referenceInputIDs",
    "parameters",
    "outputs",
    "returns",
    "dependencies",
];

/// One contract call, with the calls it depends on.
///
/// Build one with [`Transaction::from_json`] from untrusted input: it validates every field
/// and normalises numbers to what Python holds after `json.loads`, so that two transactions
/// are equal exactly when their digests are. On the wire (postcard and other binary
/// formats) a transaction travels as its canonical JSON text, because `serde_json::Value`
/// cannot be read back from a format that does not describe itself; in JSON it is the
/// plain object of the client API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The contract whose checker must accept the call (`contractID`).
    pub contract_id: String,
    /// The method called (`methodID`); part of the checker's URL.
    pub method_id: String,
    /// Objects consumed: they must be active, and become inactive on commit (`inputIDs`).
    pub input_ids: Vec<ObjectId>,
    /// Objects read but not consumed: they must be active (`referenceInputIDs`).
    pub reference_input_ids: Vec<ObjectId>,
    /// The call's arguments, any JSON, passed to the checker verbatim (`parameters`).
    pub parameters: Vec<Value>,
    /// The values of the objects the call creates (`outputs`).
    pub outputs: Vec<String>,
    /// What the call returns to its caller, any JSON (`returns`).
    pub returns: Vec<Value>,
    /// Nested calls that must commit together with this one (`dependencies`).
    pub dependencies: Vec<Transaction>,
}

impl Transaction {
    /// The transaction as the JSON object of the original framework.
    pub fn to_json(&self) -> Value {
        let ids = |ids: &[ObjectId]| ids.iter().map(|id| Value::String(id.to_hex())).collect();
        let mut m = Map::new();
        m.insert("contractID".into(), Value::String(self.contract_id.clone()));
        m.insert("methodID".into(), Value::String(self.method_id.clone()));
        m.insert("inputIDs".into(), Value::Array(ids(&self.input_ids)));
        m.insert("referenceInputIDs".into(), Value::Array(ids(&self.reference_input_ids)));
        m.insert("parameters".into(), Value::Array(self.parameters.clone()));
        m.insert(
            "outputs".into(),
            Value::Array(self.outputs.iter().cloned().map(Value::String).collect()),
        );
        m.insert("returns".into(), Value::Array(self.returns.clone()));
        m.insert(
            "dependencies".into(),
            Value::Array(self.dependencies.iter().map(Transaction::to_json).collect()),
        );
        Value::Object(m)
    }

    /// The canonical JSON text the digest is computed over: what
    /// `to_canonical_string(&self.to_json())` gives, written straight from the fields
    /// (keys in their sorted order) without building the JSON tree first. Every digest and
    /// every message that carries the transaction writes it, and the tree's allocations
    /// (a string per ID, a map per call) were most of the cost.
    pub fn canonical_json(&self) -> String {
        let mut out = String::with_capacity(self.canonical_len_guess());
        self.write_canonical(&mut out);
        out
    }

    /// Append [`Transaction::canonical_json`] to `out`.
    fn write_canonical(&self, out: &mut String) {
        fn ids(out: &mut String, ids: &[ObjectId]) {
            write_json_array(out, ids, |out, id| {
                out.push('"');
                id.0.write_hex(out);
                out.push('"');
            });
        }
        // The eight keys in byte order, as `sort_keys` puts them.
        out.push_str("{\"contractID\":");
        write_json_string(out, &self.contract_id);
        out.push_str(",\"dependencies\":");
        write_json_array(out, &self.dependencies, |out, d| d.write_canonical(out));
        out.push_str(",\"inputIDs\":");
        ids(out, &self.input_ids);
        out.push_str(",\"methodID\":");
        write_json_string(out, &self.method_id);
        out.push_str(",\"outputs\":");
        write_json_array(out, &self.outputs, |out, o| write_json_string(out, o));
        out.push_str(",\"parameters\":");
        write_json_array(out, &self.parameters, write_canonical);
        out.push_str(",\"referenceInputIDs\":");
        ids(out, &self.reference_input_ids);
        out.push_str(",\"returns\":");
        write_json_array(out, &self.returns, write_canonical);
        out.push('}');
    }

    /// About the length of the canonical JSON (exact for plain ASCII values), so that
    /// writing it rarely reallocates.
    fn canonical_len_guess(&self) -> usize {
        let ids = 67 * (self.input_ids.len() + self.reference_input_ids.len());
        let outputs: usize = self.outputs.iter().map(|o| o.len() + 3).sum();
        let deps: usize = self.dependencies.iter().map(|d| d.canonical_len_guess() + 1).sum();
        128 + self.contract_id.len()
            + self.method_id.len()
            + ids
            + outputs
            + deps
            + 32 * (self.parameters.len() + self.returns.len())
    }

    /// The transaction's ID: SHA-256 of [`Transaction::canonical_json`] (memoised, see
    /// [`memo`]).
    pub fn digest(&self) -> TxId {
        memo::digest(self)
    }

    /// [`Transaction::digest`] computed afresh.
    pub fn compute_digest(&self) -> TxId {
        TxId(sha256(self.canonical_json().as_bytes()))
    }

    /// The IDs of the objects this call creates, in the order of `outputs` (not those of
    /// its dependencies, which derive from their own digests).
    pub fn output_ids(&self) -> Vec<ObjectId> {
        memo::output_ids(self).to_vec()
    }

    /// This call followed by all nested calls, depth first: every call S-BAC must check,
    /// and whose inputs, references and outputs it must handle like the top level's.
    pub fn calls(&self) -> Vec<&Transaction> {
        let mut out = vec![self];
        for dep in &self.dependencies {
            out.extend(dep.calls());
        }
        out
    }

    /// Every object created on commit, by this call and its dependencies, as new active
    /// objects.
    pub fn created_objects(&self) -> Vec<Object> {
        self.calls()
            .into_iter()
            .flat_map(|call| {
                call.output_ids()
                    .into_iter()
                    .zip(&call.outputs)
                    .map(|(id, value)| Object::new(id, value.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Read a transaction from the JSON of the client API, checking every field. Errors
    /// name the offending place, e.g. `transaction.inputIDs[2]`.
    ///
    /// All eight keys are required and no other key is allowed: the submitter computed
    /// the digest over exactly the keys it sent, so a missing or extra key would silently
    /// give the transaction and its outputs different IDs here than on the client.
    pub fn from_json(v: &Value) -> Result<Transaction, Error> {
        Self::from_json_at(v, "transaction")
    }

    /// [`Transaction::from_json`] with errors located under `path`.
    pub fn from_json_at(v: &Value, path: &str) -> Result<Transaction, Error> {
        let obj = v.as_object().ok_or_else(|| invalid(path, "expected a JSON object"))?;
        if let Some(key) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(invalid(&format!("{path}.{key}"), "unknown field"));
        }
        let field = |name: &str| {
            obj.get(name).ok_or_else(|| invalid(&format!("{path}.{name}"), "missing field"))
        };
        let string = |name: &str| {
            field(name)?
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| invalid(&format!("{path}.{name}"), "expected a string"))
        };
        let list = |name: &str| {
            field(name)?
                .as_array()
                .ok_or_else(|| invalid(&format!("{path}.{name}"), "expected an array"))
        };
        let ids = |name: &str| -> Result<Vec<ObjectId>, Error> {
            list(name)?
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_str()
                        .and_then(|s| ObjectId::from_hex(s).ok())
                        .ok_or_else(|| invalid(&format!("{path}.{name}[{i}]"), NOT_AN_ID))
                })
                .collect()
        };
        let values = |name: &str| canonical_values(list(name)?, path, name);
        Ok(Transaction {
            contract_id: string("contractID")?,
            method_id: string("methodID")?,
            input_ids: ids("inputIDs")?,
            reference_input_ids: ids("referenceInputIDs")?,
            parameters: values("parameters")?,
            outputs: list("outputs")?
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_str().map(str::to_string).ok_or_else(|| {
                        invalid(&format!("{path}.outputs[{i}]"), "expected a string")
                    })
                })
                .collect::<Result<_, _>>()?,
            returns: values("returns")?,
            dependencies: list("dependencies")?
                .iter()
                .enumerate()
                .map(|(i, dep)| Self::from_json_at(dep, &format!("{path}.dependencies[{i}]")))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `items` (the list `name` of the transaction at `path`) with numbers normalised as
/// Python holds them; errors name the item.
fn canonical_values(items: &[Value], path: &str, name: &str) -> Result<Vec<Value>, Error> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| to_canonical_value(item, &format!("{path}.{name}[{i}]")))
        .collect()
}

const NOT_AN_ID: &str = "not a 64-digit lower-case hex id";

fn invalid(path: &str, reason: &str) -> Error {
    Error::InvalidJson { path: path.to_string(), reason: reason.to_string() }
}

impl Serialize for Transaction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            self.to_json().serialize(s)
        } else {
            s.serialize_str(&self.canonical_json())
        }
    }
}

impl<'de> Deserialize<'de> for Transaction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let value = Value::deserialize(d)?;
            Transaction::from_json(&value).map_err(serde::de::Error::custom)
        } else {
            let text = d.deserialize_str(TextVisitor)?;
            let wire: WireTransaction =
                serde_json::from_str(&text).map_err(serde::de::Error::custom)?;
            wire.into_transaction("transaction").map_err(serde::de::Error::custom)
        }
    }
}

/// The JSON text of a transaction on the wire, borrowed from the message when the format
/// allows (postcard does).
struct TextVisitor;

impl<'de> serde::de::Visitor<'de> for TextVisitor {
    type Value = std::borrow::Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a transaction's JSON text")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(s))
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(s.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(s))
    }
}

/// A transaction's JSON read straight into its fields, for the wire: the same checks as
/// [`Transaction::from_json`] (all eight keys, no other, IDs of 64 lower-case hex digits,
/// values normalised), without first building the JSON tree and then copying every field
/// out of it, which made decoding the costliest part of receiving a submission. (Unlike
/// `from_json` it refuses a key given twice; canonical text never has one.)
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTransaction {
    #[serde(rename = "contractID")]
    contract_id: String,
    #[serde(rename = "methodID")]
    method_id: String,
    #[serde(rename = "inputIDs")]
    input_ids: Vec<ObjectId>,
    #[serde(rename = "referenceInputIDs")]
    reference_input_ids: Vec<ObjectId>,
    parameters: Vec<Value>,
    outputs: Vec<String>,
    returns: Vec<Value>,
    dependencies: Vec<WireTransaction>,
}

impl WireTransaction {
    fn into_transaction(self, path: &str) -> Result<Transaction, Error> {
        Ok(Transaction {
            parameters: canonical_values(&self.parameters, path, "parameters")?,
            returns: canonical_values(&self.returns, path, "returns")?,
            dependencies: self
                .dependencies
                .into_iter()
                .enumerate()
                .map(|(i, d)| d.into_transaction(&format!("{path}.dependencies[{i}]")))
                .collect::<Result<_, _>>()?,
            contract_id: self.contract_id,
            method_id: self.method_id,
            input_ids: self.input_ids,
            reference_input_ids: self.reference_input_ids,
            outputs: self.outputs,
        })
    }
}

/// The body of the client API's `POST /api/1.0/transaction/process`:
/// `{"transaction": {...}, "store": {object_id: value}}`, where `store` gives the values
/// of the inputs and references as the client believes them to be (replicas check them
/// against their own store; the original took them on trust).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionRequest {
    /// The transaction to process.
    pub transaction: Transaction,
    /// Claimed values of the objects the transaction reads, by ID.
    #[serde(default)]
    pub store: BTreeMap<ObjectId, String>,
}

impl TransactionRequest {
    /// Read a request from JSON, with errors naming the offending place
    /// (`transaction.inputIDs[2]`, `store["00"]`). A missing `store` is an empty one.
    pub fn from_json(v: &Value) -> Result<TransactionRequest, Error> {
        let obj = v.as_object().ok_or_else(|| invalid("request", "expected a JSON object"))?;
        if let Some(key) = obj.keys().find(|k| *k != "transaction" && *k != "store") {
            return Err(invalid(&format!("request.{key}"), "unknown field"));
        }
        let tx = obj.get("transaction").ok_or_else(|| invalid("transaction", "missing field"))?;
        let transaction = Transaction::from_json(tx)?;
        let mut store = BTreeMap::new();
        if let Some(entries) = obj.get("store") {
            let entries =
                entries.as_object().ok_or_else(|| invalid("store", "expected an object"))?;
            for (key, value) in entries {
                let path = format!("store[{key:?}]");
                let id = ObjectId::from_hex(key).map_err(|_| invalid(&path, NOT_AN_ID))?;
                let value = value.as_str().ok_or_else(|| invalid(&path, "expected a string"))?;
                store.insert(id, value.to_string());
            }
        }
        Ok(TransactionRequest { transaction, store })
    }

    /// The request as the JSON body of the client API.
    pub fn to_json(&self) -> Value {
        let store = self.store.iter().map(|(id, v)| (id.to_hex(), Value::String(v.clone())));
        let mut m = Map::new();
        m.insert("transaction".into(), self.transaction.to_json());
        m.insert("store".into(), Value::Object(store.collect()));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(text: &str) -> Transaction {
        Transaction::from_json(&serde_json::from_str(text).expect("test JSON")).expect("valid")
    }

    const INIT: &str = r#"{"contractID":"addition","methodID":"init","inputIDs":[],
        "referenceInputIDs":[],"parameters":[],"outputs":["0"],"returns":[],"dependencies":[]}"#;
    const INCREMENT: &str = r#"{"contractID":"addition","methodID":"increment",
        "inputIDs":["a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7"],
        "referenceInputIDs":[],"parameters":[],"outputs":["1"],"returns":[],"dependencies":[]}"#;

    #[test]
    fn design_vectors_give_the_documented_ids() {
        let init = tx(INIT);
        assert_eq!(
            init.digest().to_hex(),
            "f0f110bd77f6b3603c8386b02a866dbc10d26b2ae75c371fe268dc20ee3a57ff"
        );
        assert_eq!(
            init.output_ids()[0].to_hex(),
            "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7"
        );
        let increment = tx(INCREMENT);
        assert_eq!(
            increment.digest().to_hex(),
            "f7f147b2c2e6506e1e26b0b3186de9e859c7db60efcc3c80dfe9e312ae26cfcd"
        );
        assert_eq!(
            increment.output_ids()[0].to_hex(),
            "404d5c43cf0f34857b65405cb2cdcf015cbe792ee0327157f1cd66ea8b340411"
        );
    }

    /// The fields written straight ([`Transaction::canonical_json`]) give the canonical
    /// text of the JSON form, for any strings, IDs, values and nesting.
    #[test]
    fn canonical_json_is_the_canonical_text_of_the_json_form() {
        use proptest::prelude::*;
        use serde_json::json;
        let id = any::<[u8; 32]>().prop_map(|b| ObjectId(crate::crypto::Digest(b)));
        let value = prop_oneof![
            any::<String>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
            Just(json!({"z": [1, 2.5, null], "a": {"\u{e9}\"\\": true}, "M": "x\ny"})),
        ];
        let call = (
            any::<String>(),
            "[a-z\\\"\u{0}-\u{1f}\u{7f}\u{e9}\u{1f389}]{0,8}",
            prop::collection::vec(id.clone(), 0..3),
            prop::collection::vec(id, 0..3),
            prop::collection::vec(value.clone(), 0..3),
            prop::collection::vec(any::<String>(), 0..3),
            prop::collection::vec(value, 0..2),
        )
            .prop_map(|(c, m, inputs, refs, parameters, outputs, returns)| Transaction {
                contract_id: c,
                method_id: m,
                input_ids: inputs,
                reference_input_ids: refs,
                parameters,
                outputs,
                returns,
                dependencies: vec![],
            });
        let tree = (call.clone(), prop::collection::vec(call, 0..3)).prop_map(|(mut t, deps)| {
            t.dependencies = deps;
            t
        });
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(&tree, |t| {
                prop_assert_eq!(t.canonical_json(), crate::json::to_canonical_string(&t.to_json()));
                // On the wire it reads back as the JSON form does.
                let bytes = postcard::to_allocvec(&t).expect("encodes");
                let read = postcard::from_bytes::<Transaction>(&bytes).expect("decodes");
                prop_assert_eq!(Some(read), Transaction::from_json(&t.to_json()).ok());
                Ok(())
            })
            .expect("same text");
        for text in [INIT, INCREMENT] {
            let t = tx(text);
            assert_eq!(t.canonical_json(), crate::json::to_canonical_string(&t.to_json()));
        }
    }

    #[test]
    fn errors_name_the_offending_field() {
        let mut v: Value = serde_json::from_str(INCREMENT).expect("test JSON");
        v["inputIDs"] = serde_json::json!(["00", "11", "zz"]);
        let err = Transaction::from_json(&v).expect_err("bad id");
        assert_eq!(
            err.to_string(),
            "invalid JSON at transaction.inputIDs[0]: not a 64-digit lower-case hex id"
        );

        let mut v: Value = serde_json::from_str(INIT).expect("test JSON");
        v["dependencies"] = serde_json::json!([{"contractID": 1}]);
        let err = Transaction::from_json(&v).expect_err("bad dependency");
        assert!(err.to_string().contains("transaction.dependencies[0].contractID"), "{err}");

        let mut v: Value = serde_json::from_str(INIT).expect("test JSON");
        v.as_object_mut().expect("object").remove("returns");
        assert!(Transaction::from_json(&v).expect_err("missing").to_string().contains("returns"));
        v["extra"] = Value::Null;
        assert!(Transaction::from_json(&v).expect_err("extra").to_string().contains("extra"));
        v = serde_json::json!({"transaction": serde_json::from_str::<Value>(INIT).expect("json"),
                               "store": {"xyz": "1"}});
        let err = TransactionRequest::from_json(&v).expect_err("bad store key");
        assert!(err.to_string().contains(r#"store["xyz"]"#), "{err}");
        assert!(Transaction::from_json(&serde_json::json!([])).is_err());
    }

    #[test]
    fn numbers_are_normalised_and_overflow_rejected() {
        let t = tx(&INIT.replace(r#""parameters":[]"#, r#""parameters":[1E2,-0]"#));
        assert_eq!(t.parameters, vec![serde_json::json!(100.0), serde_json::json!(0)]);
        let v: Value =
            serde_json::from_str(&INIT.replace(r#""returns":[]"#, r#""returns":[1e999]"#))
                .expect("test JSON");
        let err = Transaction::from_json(&v).expect_err("overflow");
        assert!(err.to_string().contains("transaction.returns[0]"), "{err}");
    }

    #[test]
    fn transactions_cross_postcard_and_json_unchanged() {
        let t = tx(&INCREMENT.replace(
            r#""parameters":[]"#,
            r#""parameters":[123456789012345678901234567890,1e-07,-0.0,3.141592653589793,{"k":[1e300]}]"#,
        ));
        let t = Transaction { dependencies: vec![tx(INIT)], ..t };
        let bytes = postcard::to_allocvec(&t).expect("postcard");
        let back: Transaction = postcard::from_bytes(&bytes).expect("postcard");
        assert_eq!(back, t);
        assert_eq!(back.digest(), t.digest());
        let text = serde_json::to_string(&t).expect("json");
        assert_eq!(serde_json::from_str::<Transaction>(&text).expect("json"), t);
    }

    /// The wire refuses what `from_json` refuses: a key missing or unknown, an ID not in
    /// lower-case hex, a value that is not a string, a non-finite number, in the
    /// transaction or a dependency.
    #[test]
    fn the_wire_refuses_what_the_json_form_refuses() {
        let upper = INCREMENT.replace("a9bde7fac", "A9BDE7FAC");
        let nested = INIT.replace(r#""dependencies":[]"#, &format!(r#""dependencies":[{upper}]"#));
        let bad = [
            INIT.replace(r#""returns":[],"#, ""),
            INIT.replace(r#""returns":[]"#, r#""returns":[],"extra":1"#),
            upper,
            INIT.replace(r#"["0"]"#, "[0]"),
            INIT.replace(r#""returns":[]"#, r#""returns":[1e999]"#),
            nested,
        ];
        for text in bad {
            let v: Value = serde_json::from_str(&text).expect("test JSON");
            assert!(Transaction::from_json(&v).is_err(), "from_json takes {text}");
            let bytes = postcard::to_allocvec(&text).expect("a string");
            assert!(postcard::from_bytes::<Transaction>(&bytes).is_err(), "the wire takes {text}");
        }
        let good = postcard::to_allocvec(&INIT).expect("a string");
        assert_eq!(postcard::from_bytes::<Transaction>(&good).expect("valid"), tx(INIT));
    }

    #[test]
    fn requests_round_trip_through_their_json() {
        let text = format!(
            r#"{{"transaction":{INCREMENT},"store":{{"a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7":"0"}}}}"#
        );
        let v: Value = serde_json::from_str(&text).expect("test JSON");
        let req = TransactionRequest::from_json(&v).expect("valid request");
        assert_eq!(req.store.len(), 1);
        assert_eq!(TransactionRequest::from_json(&req.to_json()).expect("valid"), req);
        assert_eq!(serde_json::from_value::<TransactionRequest>(v).expect("serde"), req);
        let bytes = postcard::to_allocvec(&req).expect("postcard");
        assert_eq!(postcard::from_bytes::<TransactionRequest>(&bytes).expect("postcard"), req);
    }

    #[test]
    fn created_objects_cover_dependencies() {
        let t = Transaction { dependencies: vec![tx(INIT)], ..tx(INCREMENT) };
        let ids: Vec<String> = t.created_objects().iter().map(|o| o.id.to_hex()).collect();
        assert_eq!(
            ids,
            [
                t.output_ids()[0].to_hex(),
                "a9bde7fac83d70a4c6811d74d3cb218abc6c0f69e0dc5a77f0097be61faf79c7".to_string()
            ]
        );
        assert_eq!(t.calls().len(), 2);
    }
}
