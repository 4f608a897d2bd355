//! The walkthrough of the original operator notes, in the simulator: `init` then
//! `increment` of the addition contract on 2 shards x 4 PBFT replicas; then the same
//! transaction again (same outcome, ordered once) and another transaction spending the
//! spent object (rejected, with the reason).

use std::time::Duration;

use chainspace_contracts::addition;
use chainspace_core::sbac::Outcome;
use chainspace_tests::setup::Deployment;
use chainspace_tests::workload::{Ledger, outputs};

#[test]
fn the_increment_walkthrough() {
    let mut w = Deployment::new(2, 4).world(1);
    let mut ledger = Ledger::default();
    let init = addition::init();
    let zero = outputs(&init).remove(0);
    ledger.submit(&mut w, Duration::ZERO, 0, init, &[]);
    let inc = addition::increment(&zero).expect("valid");
    ledger.submit(&mut w, Duration::from_millis(100), 0, inc.clone(), &[&zero]);
    let finished =
        |n: usize| move |w: &chainspace_core::sim::World<_>| w.client(0).finished().len() == n;
    assert!(w.run_until_cond(Duration::from_secs(5), Duration::from_millis(10), finished(2)));
    let f = w.client(0).finished().to_vec();
    assert_eq!((f[0].outcome.clone(), f[1].outcome.clone()), (Outcome::Commit, Outcome::Commit));

    // The same transaction again: the same outcome.
    let at = w.now();
    ledger.submit(&mut w, at, 0, inc.clone(), &[&zero]);
    assert!(w.run_until_cond(Duration::from_secs(10), Duration::from_millis(10), finished(3)));
    assert_eq!(w.client(0).finished()[2].outcome, Outcome::Commit);

    // Another transaction spending the spent object: rejected, saying why.
    let mut double = inc;
    double.parameters = vec![serde_json::json!("again")];
    let at = w.now();
    ledger.submit(&mut w, at, 0, double, &[&zero]);
    assert!(w.run_until_cond(Duration::from_secs(15), Duration::from_millis(10), finished(4)));
    let last = &w.client(0).finished()[3];
    let reason = last.outcome.reason().unwrap_or_default().to_string();
    assert!(matches!(last.outcome, Outcome::Abort(_) | Outcome::PreparedAbort(_)), "{last:?}");
    assert!(reason.contains("inactive"), "{reason}");
}
