//! The consensus-only workload: replicas as a plain ordering service.
//!
//! To compare protocols on ordering alone (the way BFT-SMaRt and HotStuff are usually
//! benchmarked), a client sends an opaque command to every replica of a shard, the shard
//! orders it with its consensus, and each replica that was sent it reports it ordered.
//! Nothing else happens: no object, lock or vote. The command travels through the very
//! runtime, transport and consensus path that S-BAC's prepares and accepts take, so the
//! difference between this workload and the S-BAC one is what S-BAC itself costs.
//!
//! The service is off unless a replica is configured for it
//! ([`ReplicaConfig::ordering`](crate::replica::ReplicaConfig::ordering)): a production
//! replica refuses such commands, so nobody can fill its shard's log with bytes that do
//! nothing. A command ordered anyway (proposed by a faulty replica) changes no state on
//! any replica, so all correct replicas still agree.
//!
//! The report is the S-BAC [`OutcomeReport`](crate::sbac::OutcomeReport) with a commit
//! outcome, under the command's [`OrderRequest::id`], so the client learns it from
//! `f + 1` matching reports exactly as it learns a transaction's outcome.

use serde::{Deserialize, Serialize};

use crate::sbac::messages::ORDER_VARIANT;
use crate::transaction::TxId;
use crate::types::{Command, ShardId};

/// A command to order: what a client sends, and what the shard's consensus orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// The shard that orders it (replicas of other shards refuse it).
    pub shard: ShardId,
    /// The command: opaque bytes. Two requests with equal bytes are one command, ordered
    /// once, so clients make each unique (a client number and a counter, say).
    #[serde(with = "crate::types::serde_bytes_vec")]
    pub payload: Vec<u8>,
}

impl OrderRequest {
    /// The command's identity, under which it is reported ordered: the digest of the
    /// bytes consensus orders for it, which replicas compute anyway (so they hash each
    /// command once), apart from every S-BAC command by the encoding's variant tag.
    pub fn id(&self) -> TxId {
        TxId(self.command().digest())
    }

    /// The bytes consensus orders for it: the encoding of `SbacCommand::Order(self)`,
    /// written from a borrow (postcard writes an enum as its variant's index, a varint,
    /// then the fields), which spares copying the payload into an owned command first.
    ///
    /// The command's bytes are built in place ([`Command::from_parts`]): the variant, the
    /// shard and the payload's length (as postcard writes a byte string), then the
    /// payload. Every replica does this for every command it is sent, and going through a
    /// buffer cost an allocation and a copy more each time.
    pub fn command(&self) -> Command {
        // Three varints: at most 5 + 5 + 10 bytes.
        let mut head = [0u8; 20];
        let len = self.payload.len() as u64;
        let head = postcard::to_slice(&(ORDER_VARIANT, self.shard, len), &mut head)
            .expect("three varints fit in 20 bytes");
        Command::from_parts(&[head, &self.payload])
    }
}

/// An [`OrderRequest`] with its [`id`](OrderRequest::id) computed once. A client needs the
/// id to match reports, and so does whoever hands it the request (to know which outcome
/// is whose): hashing a 512-byte command is half a microsecond, and a load generator that
/// hashed each command twice spent 2% of a consensus-only run's CPU on the second. The
/// fields are private, so the id is always the request's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifiedOrder {
    id: TxId,
    request: OrderRequest,
}

impl IdentifiedOrder {
    /// `request` and its id.
    pub fn new(request: OrderRequest) -> Self {
        IdentifiedOrder { id: request.id(), request }
    }

    /// The request's id.
    pub fn id(&self) -> TxId {
        self.id
    }

    /// The request.
    pub fn request(&self) -> &OrderRequest {
        &self.request
    }

    /// The request, given back.
    pub fn into_request(self) -> OrderRequest {
        self.request
    }
}

impl From<OrderRequest> for IdentifiedOrder {
    fn from(request: OrderRequest) -> Self {
        IdentifiedOrder::new(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbac::SbacCommand;

    #[test]
    fn ids_depend_on_shard_and_bytes_and_the_wire_form_round_trips() {
        let a = OrderRequest { shard: ShardId(0), payload: vec![1; 512] };
        let b = OrderRequest { shard: ShardId(1), payload: vec![1; 512] };
        let c = OrderRequest { shard: ShardId(0), payload: vec![2; 512] };
        assert_ne!(a.id(), b.id());
        assert_ne!(a.id(), c.id());
        assert_eq!(a.id(), a.clone().id());
        let identified = IdentifiedOrder::from(a.clone());
        assert_eq!(identified.id(), a.id());
        assert_eq!(identified.request(), &a);
        assert_eq!(identified.into_request(), a);
        // Lengths and shards whose varints take one, several and the most bytes.
        let d = OrderRequest { shard: ShardId(u32::MAX), payload: vec![] };
        let e = OrderRequest { shard: ShardId(200), payload: vec![3; 70_000] };
        for r in [&a, &b, &c, &d, &e] {
            let owned = SbacCommand::Order(r.clone()).encode();
            assert_eq!(r.command().as_bytes(), &owned[..], "the borrowed encoding is the enum's");
            assert!(SbacCommand::is_order(&owned));
            // Cut short, or with bytes of another variant: not an order.
            assert!(!SbacCommand::is_order(&owned[..owned.len() - 1]));
            let mut other = owned.clone();
            other[0] = 0;
            assert!(!SbacCommand::is_order(&other));
        }
        let bytes = postcard::to_allocvec(&a).expect("encodes");
        assert!(bytes.len() < 512 + 8, "one byte per byte on the wire: {}", bytes.len());
        assert_eq!(postcard::from_bytes::<OrderRequest>(&bytes).expect("decodes"), a);
    }
}
