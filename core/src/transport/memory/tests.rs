use super::*;
use crate::transport::conformance::{self, Harness, Net};
use crate::types::{ReplicaId, ShardId};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Wake};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Run a future to completion on this thread, parking while it waits.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// A timer future for runtime-free tests: a thread wakes the task when the time is up.
async fn sleep(duration: Duration) {
    let deadline = Instant::now() + duration;
    let mut started = false;
    poll_fn(|cx| {
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        if !started {
            started = true;
            let waker = cx.waker().clone();
            thread::spawn(move || {
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                waker.wake();
            });
        }
        Poll::Pending
    })
    .await
}

struct Memory {
    capacity: usize,
}

#[async_trait(?Send)]
impl Harness for Memory {
    type Endpoint = MemoryTransport;

    async fn network(&self, replicas: u32, clients: u32) -> Net<MemoryTransport> {
        let net = MemoryNetwork::new(self.capacity).with_max_message(self.max_message());
        Net {
            replicas: (0..replicas).map(|i| net.endpoint(r(i))).collect(),
            clients: (0..clients).map(|_| net.client()).collect(),
        }
    }

    async fn sleep(&self, duration: Duration) {
        sleep(duration).await
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn max_message(&self) -> usize {
        1 << 20
    }
}

#[test]
fn memory_network_passes_the_conformance_suite() {
    block_on(conformance::run_all(&Memory { capacity: 16 }));
}

fn r(index: u32) -> ReplicaId {
    ReplicaId { shard: ShardId(0), index }
}

fn to(index: u32) -> Addr {
    Addr::Replica(r(index))
}

#[test]
fn recv_waits_for_a_message_sent_from_another_thread() {
    let net = MemoryNetwork::new(8);
    let a = net.endpoint(r(0));
    let b = net.endpoint(r(1));
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        block_on(a.send(to(1), vec![42])).expect("send");
    });
    assert_eq!(block_on(b.recv()).expect("recv"), (to(0), vec![42]));
    sender.join().expect("sender thread");
}

#[test]
fn full_queues_and_dropped_endpoints_lose_messages() {
    let net = MemoryNetwork::new(2);
    let a = net.endpoint(r(0));
    let b = net.endpoint(r(1));
    for i in 0..5u8 {
        block_on(a.send(to(1), vec![i])).expect("send never blocks");
    }
    assert_eq!(net.dropped(to(1)), 3);
    assert_eq!(block_on(b.recv()).expect("recv").1, vec![0]);
    let restarted = net.endpoint(r(1));
    assert!(block_on(b.recv()).is_err(), "a replaced endpoint cannot read");
    drop(b);
    block_on(a.send(to(1), vec![7])).expect("send");
    assert_eq!(block_on(restarted.recv()).expect("recv").1, vec![7]);
    drop(restarted);
    block_on(a.send(to(1), vec![9])).expect("a crashed peer is not an error");
    assert_eq!(net.dropped(to(1)), 4);
}

#[test]
fn clients_get_a_share_under_replica_load() {
    let net = MemoryNetwork::new(64);
    let (a, b, c) = (net.endpoint(r(0)), net.endpoint(r(1)), net.client());
    block_on(c.send(to(1), b"client".to_vec())).expect("send");
    for i in 0..20u8 {
        block_on(a.send(to(1), vec![i])).expect("send");
    }
    let order: Vec<Addr> = (0..21).map(|_| block_on(b.recv()).expect("recv").0).collect();
    let position = order.iter().position(|from| *from == c.addr()).expect("client served");
    assert_eq!(position, REPLICA_BURST as usize, "after a burst of replica messages");
}

#[test]
fn transports_are_usable_as_trait_objects() {
    let net = MemoryNetwork::new(1);
    let a: Box<dyn Transport> = Box::new(net.endpoint(r(0)));
    block_on(a.send(to(0), vec![1])).expect("send to self");
    assert_eq!(block_on(a.recv()).expect("recv"), (to(0), vec![1]));
}
