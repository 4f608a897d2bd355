//! S-BAC, Sharded Byzantine Atomic Commit (Chainspace paper, section 4), as a sans-IO
//! state machine per replica.
//!
//! Per transaction T: the concerned shards C(T) own its inputs and references, the output
//! shards O(T) its outputs. Each shard in C(T) orders `Prepare(T)`: it checks and locks
//! its inputs, then its replicas sign votes; a quorum of matching votes is the shard's
//! certificate. Each shard in C(T) ∪ O(T) then orders `Accept(T, certificates)`: with a
//! commit certificate from every concerned shard the inputs become inactive and the
//! outputs are created, otherwise the locks are released. When C(T) ∪ O(T) is a single
//! shard, prepare and accept fuse into one ordered step.
//!
//! * [`messages`]: submissions, ordered commands, votes, certificates, outcomes;
//! * [`engine`]: the deterministic state machine applied to ordered commands.

pub mod durable;
pub mod engine;
pub mod messages;

pub use engine::{Effect, SbacEngine};
pub use messages::{
    Accept, Outcome, OutcomeReport, SbacCommand, ShardCertificate, Submission, Vote,
};
