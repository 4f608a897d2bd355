//! Which shards a transaction involves (Chainspace paper, section 4: S-BAC).
//!
//! An object lives on shard `int(object_id_hex, 16) mod num_shards`, as in the original
//! Python framework. For a transaction T (DESIGN.md, "S-BAC"):
//!
//! * the *concerned* shards C(T) manage its inputs and references; they prepare T, lock
//!   its inputs and vote;
//! * the *output* shards O(T) will hold its outputs; they only accept;
//! * a transaction with neither inputs nor references (an `init`) has its output shards
//!   as concerned shards, and with no outputs either, the shard of `int(tx_digest, 16)`,
//!   so that every transaction is ordered by at least one shard.
//!
//! Dependencies are part of the transaction: their inputs, references and outputs count as
//! the top-level transaction's.

use crate::crypto::Digest;
use crate::object::ObjectId;
use crate::transaction::Transaction;
use crate::types::ShardId;

/// The shard managing object `id`: the 256-bit big-endian integer of the ID modulo
/// `num_shards`. A `num_shards` of 0 is a configuration error that committees reject; it
/// is treated as 1 here so that it can never make a replica panic.
pub fn shard_of(id: &ObjectId, num_shards: u32) -> ShardId {
    shard_of_digest(&id.0, num_shards)
}

/// `int(hex(digest), 16) mod num_shards`, computed in 32-bit limbs (Horner's rule) so that
/// the 256-bit number never has to exist.
pub fn shard_of_digest(digest: &Digest, num_shards: u32) -> ShardId {
    let n = u64::from(num_shards.max(1));
    // Four bytes at a time: r < n <= 2^32, so r * 2^32 + chunk fits in a u64, and a
    // digest costs 8 divisions rather than 32 (this runs for every object a replica
    // places).
    let r = digest.0.chunks_exact(4).fold(0u64, |r, c| {
        let chunk = u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        ((r << 32) | chunk) % n
    });
    // r < n <= u32::MAX, so the conversion cannot fail.
    ShardId(u32::try_from(r).unwrap_or(0))
}

/// The output shards O(T): the shards of every object T and its dependencies create.
/// Sorted and without duplicates.
pub fn output_shards(tx: &Transaction, num_shards: u32) -> Vec<ShardId> {
    let ids = tx.calls().into_iter().flat_map(|call| call.output_ids());
    sorted(ids.map(|id| shard_of(&id, num_shards)).collect())
}

/// The shards managing T's inputs and references (and its dependencies'), without the
/// fallbacks of [`concerned_shards`]. Sorted and without duplicates.
pub fn input_shards(tx: &Transaction, num_shards: u32) -> Vec<ShardId> {
    let ids = tx
        .calls()
        .into_iter()
        .flat_map(|call| call.input_ids.iter().chain(&call.reference_input_ids))
        .map(|id| shard_of(id, num_shards))
        .collect();
    sorted(ids)
}

/// The concerned shards C(T), which order T's prepare step: the shards of its inputs and
/// references; if it has none, its output shards; if it has no outputs either, the shard
/// of its digest. Sorted, without duplicates, never empty.
pub fn concerned_shards(tx: &Transaction, num_shards: u32) -> Vec<ShardId> {
    let inputs = input_shards(tx, num_shards);
    if !inputs.is_empty() {
        return inputs;
    }
    let outputs = output_shards(tx, num_shards);
    if !outputs.is_empty() {
        return outputs;
    }
    vec![shard_of_digest(&tx.digest().0, num_shards)]
}

/// C(T) ∪ O(T): every shard that orders T's accept step. When it is a single shard, T is
/// single-shard and prepare and accept fuse into one ordered step.
pub fn involved_shards(tx: &Transaction, num_shards: u32) -> Vec<ShardId> {
    let mut all = concerned_shards(tx, num_shards);
    all.extend(output_shards(tx, num_shards));
    sorted(all)
}

fn sorted(mut shards: Vec<ShardId>) -> Vec<ShardId> {
    shards.sort_unstable();
    shards.dedup();
    shards
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256;

    fn id(hex: &str) -> ObjectId {
        ObjectId::from_hex(hex).expect("valid id")
    }

    #[test]
    fn shard_is_the_big_integer_modulo_n() {
        let max = id(&"f".repeat(64));
        // 2^256 - 1 = 3 * 5 * 17 * 257 * 641 * 65537 * ...: divisible by 3, 5, 17, 257.
        for n in [3, 5, 17, 257, 65537] {
            assert_eq!(shard_of(&max, n), ShardId(0), "n = {n}");
        }
        // 2^256 - 1 = 1 (mod 2), 3 (mod 4), and 1 (mod 7) since 2^3 = 1 (mod 7), 256 = 1 (mod 3).
        assert_eq!(shard_of(&max, 2), ShardId(1));
        assert_eq!(shard_of(&max, 4), ShardId(3));
        assert_eq!(shard_of(&max, 7), ShardId(1));
        let one = id(&format!("{}1", "0".repeat(63)));
        assert_eq!(shard_of(&one, u32::MAX), ShardId(1));
        assert_eq!(shard_of(&max, u32::MAX), ShardId(0), "u32::MAX = 2^32 - 1 divides 2^256 - 1");
        assert_eq!(shard_of(&max, 1), ShardId(0));
        assert_eq!(shard_of(&max, 0), ShardId(0));
    }

    fn call(inputs: &[ObjectId], refs: &[ObjectId], outputs: &[&str]) -> Transaction {
        Transaction {
            contract_id: "c".into(),
            method_id: "m".into(),
            input_ids: inputs.to_vec(),
            reference_input_ids: refs.to_vec(),
            parameters: vec![],
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            returns: vec![],
            dependencies: vec![],
        }
    }

    /// An ID on shard `s` of 4 (the last byte decides the residue modulo 4).
    fn on(s: u8) -> ObjectId {
        let mut d = sha256(&[s]).0;
        d[31] = (d[31] & !3) | s;
        ObjectId(Digest(d))
    }

    #[test]
    fn concerned_shards_are_those_of_inputs_and_references() {
        let tx = call(&[on(3), on(1), on(3)], &[on(2)], &["x"]);
        assert_eq!(concerned_shards(&tx, 4), [ShardId(1), ShardId(2), ShardId(3)]);
        assert_eq!(input_shards(&tx, 4), concerned_shards(&tx, 4));
    }

    #[test]
    fn an_init_is_ordered_by_its_output_shards_or_its_digest_shard() {
        let init = call(&[], &[], &["a", "b", "c", "d", "e"]);
        assert_eq!(concerned_shards(&init, 4), output_shards(&init, 4));
        assert_eq!(involved_shards(&init, 4), output_shards(&init, 4));
        let empty = call(&[], &[], &[]);
        assert_eq!(concerned_shards(&empty, 4), [shard_of_digest(&empty.digest().0, 4)]);
        assert!(output_shards(&empty, 4).is_empty());
    }

    #[test]
    fn dependencies_count_as_the_top_level_transaction() {
        let dep = call(&[on(2)], &[on(0)], &["y"]);
        let tx = Transaction { dependencies: vec![dep.clone()], ..call(&[on(1)], &[], &[]) };
        assert_eq!(concerned_shards(&tx, 4), [ShardId(0), ShardId(1), ShardId(2)]);
        assert_eq!(output_shards(&tx, 4), output_shards(&dep, 4));
        let mut all = concerned_shards(&tx, 4);
        all.extend(output_shards(&dep, 4));
        all.sort();
        all.dedup();
        assert_eq!(involved_shards(&tx, 4), all);
    }
}
