//! Block synchronisation, one event at a time: a proposal on an unknown parent waits
//! while the parent is fetched from its sender; fetched blocks are taken only when asked
//! for; a peer serves a block with its ancestors.

mod common;

use chainspace_core::consensus::{Action, Consensus};
use common::{block, proposal, qc, recv, replica, sim_config, test_keys, votes};
use consensus_hotstuff::Message;
use consensus_hotstuff::message::{BlockRequest, QuorumCert};

const N: usize = 4;

#[test]
fn a_proposal_on_a_missing_parent_waits_for_it() {
    let keys = test_keys(N);
    let mut r = replica(&sim_config(), N, 3);
    let b1 = block(N, 1, QuorumCert::genesis(), "b1");
    let b2 = block(N, 2, qc(&keys, &b1, &[0, 1, 2]), "b2");
    let b3 = block(N, 3, qc(&keys, &b2, &[0, 1, 2]), "b3");
    let acts = recv(&mut r, 2, proposal(b3.clone(), None));
    let request = BlockRequest { digest: b2.digest(), committed: 0 };
    assert!(acts.contains(&Action::Send { to: 2, msg: Message::BlockRequest(request) }));
    assert!(votes(&acts).is_empty(), "no vote before the parent is known");
    assert_eq!(r.round(), 3, "the certificate inside already moved the replica on");
    // Blocks nobody asked for are ignored.
    let before = r.stats().ignored_messages;
    recv(&mut r, 1, Message::Blocks(vec![block(N, 1, QuorumCert::genesis(), "other")]));
    assert_eq!(r.stats().ignored_messages, before + 1);
    // The parent and grandparent arrive, newest first: the proposal gets its vote.
    let acts = recv(&mut r, 2, Message::Blocks(vec![b2, b1]));
    let v = votes(&acts);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].block, b3.digest());
}

#[test]
fn a_peer_serves_a_block_with_its_ancestors() {
    let keys = test_keys(N);
    let mut r = replica(&sim_config(), N, 3);
    let b1 = block(N, 1, QuorumCert::genesis(), "b1");
    let b2 = block(N, 2, qc(&keys, &b1, &[0, 1, 2]), "b2");
    recv(&mut r, 0, proposal(b1.clone(), None));
    recv(&mut r, 1, proposal(b2.clone(), None));
    let req = BlockRequest { digest: b2.digest(), committed: 0 };
    let acts = recv(&mut r, 2, Message::BlockRequest(req));
    assert_eq!(acts, vec![Action::Send { to: 2, msg: Message::Blocks(vec![b2.clone(), b1]) }]);
    let req = BlockRequest { digest: b2.digest(), committed: 1 };
    let acts = recv(&mut r, 2, Message::BlockRequest(req));
    assert_eq!(acts, vec![Action::Send { to: 2, msg: Message::Blocks(vec![b2]) }]);
}

#[test]
fn an_idle_replica_sends_a_status_heartbeat() {
    use consensus_hotstuff::Timer;
    let cfg = sim_config();
    let mut r = replica(&cfg, N, 1);
    let mut out = chainspace_core::consensus::Actions::new();
    r.on_start(&mut out);
    let is_status =
        |a: &Action<Message, Timer>| matches!(a, Action::Broadcast { msg: Message::Status(_) });
    // The first firing reports the replica's (new) progress; then, with nothing
    // changing, one status every `status_interval_ticks` firings.
    let fires = 1 + 3 * cfg.status_interval_ticks;
    let mut statuses = Vec::new();
    for i in 0..fires {
        out.drain();
        r.on_timer(Timer::Round(r.round()), &mut out);
        if out.as_slice().iter().any(is_status) {
            statuses.push(i);
        }
        assert!(
            !out.as_slice()
                .iter()
                .any(|a| matches!(a, Action::Broadcast { msg: Message::Timeout(_) })),
            "an idle replica does not time out rounds"
        );
    }
    let every = cfg.status_interval_ticks;
    let want: Vec<u64> = (0..=3).map(|k| k * every).collect();
    assert_eq!(statuses, want);
}
