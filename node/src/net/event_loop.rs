//! The event loop: the only owner of the `Swarm`. It executes [`Command`]s, routes MPC envelopes
//! from allowed peers to their sessions, hands other requests to the node's services through a
//! bounded channel, and keeps counters. Nothing here blocks: no disk, no MPC computation.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::Receiver as SyncReceiver;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::kad::{self, GetRecordOk, QueryId, QueryResult, Quorum};
use libp2p::multiaddr::Protocol as AddrProtocol;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, Swarm, identify};
use sharenet_dht::{PersistOp, Refusal, SignedRecord, StoreCounters};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::NetError;
use super::behaviour::{Behaviour, BehaviourEvent};
use super::client::{Command, FoundRecord, InboundRequest, NetCounters, Protocol};
use super::codec::{Frame, PeerTagged};
use super::dht::WriterCounters;
use super::faults::{Held, LinkFaults, SendFault};
use super::mpc::{MpcRouter, MpcVerdict, RouteError};

/// A `get_record` query in progress.
pub(crate) struct PendingGet {
    reply: oneshot::Sender<Result<Vec<FoundRecord>, NetError>>,
    found: Vec<FoundRecord>,
    /// blake3 of the values already returned (each record once).
    seen: HashSet<[u8; 32]>,
}

const UPLOAD: usize = 0;
const MPC: usize = 1;
const JOB: usize = 2;

pub(crate) struct EventLoop {
    pub(crate) swarm: Swarm<Behaviour>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) inbound: mpsc::Sender<InboundRequest>,
    pub(crate) router: MpcRouter,
    pub(crate) allowed: HashSet<PeerId>,
    pub(crate) pending_requests:
        HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>, NetError>>>,
    pub(crate) pending_dials: HashMap<PeerId, Vec<oneshot::Sender<Result<(), NetError>>>>,
    /// MPC envelopes in flight, kept until acknowledged so that a failed send can be retried.
    pub(crate) pending_mpc: HashMap<OutboundRequestId, PendingMpc>,
    /// A sender to this loop's own command queue, for delayed retries.
    pub(crate) retry: mpsc::Sender<Command>,
    pub(crate) counters: NetCounters,
    pub(crate) pending_puts: HashMap<QueryId, oneshot::Sender<Result<(), NetError>>>,
    pub(crate) pending_gets: HashMap<QueryId, PendingGet>,
    /// The record store's counters.
    pub(crate) store_counters: Arc<StoreCounters>,
    /// The persistence writer's counters (none for a client without a database).
    pub(crate) writer_counters: Option<Arc<WriterCounters>>,
    /// The persistence channel's receiver of a client without a database: drained and discarded.
    pub(crate) discard: Option<SyncReceiver<PersistOp>>,
    /// Period of the `flush_pending` timer.
    pub(crate) flush_interval: Duration,
    /// The simulator's faults on this node's outgoing links (`None`: a real node).
    pub(crate) faults: Option<LinkFaults>,
}

/// An MPC envelope in flight.
pub(crate) struct PendingMpc {
    peer: PeerId,
    envelope: Vec<u8>,
    attempt: u32,
}

/// Attempts at delivering one MPC envelope whose sending failed before giving up (the session
/// then fails at once).
const MPC_ATTEMPTS: u32 = 8;
/// Attempts at delivering one MPC envelope that a busy receiver refused: its router frees room as
/// its sessions read, so this waits longer (about a minute in all) before giving up.
const MPC_BUSY_ATTEMPTS: u32 = 40;
/// The longest pause between two attempts.
const MPC_RETRY_MAX: Duration = Duration::from_millis(1600);

impl EventLoop {
    pub(crate) async fn run(mut self) {
        // (`interval` panics on a zero period.)
        let mut flush = tokio::time::interval(self.flush_interval.max(Duration::from_millis(10)));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = flush.tick() => self.flush_dht(),
                command = self.commands.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(command) => self.on_command(command),
                },
            }
        }
        debug!("network event loop stopped");
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial { peer, addr, reply } => {
                let addr = match address_of(peer, addr) {
                    Ok(addr) => addr,
                    Err(reason) => {
                        let _ = reply.send(Err(NetError::Dial { peer, reason }));
                        return;
                    }
                };
                // Known to Kademlia even when the peer dialed us first (its listen address is
                // otherwise only learnt from identify).
                self.swarm
                    .behaviour_mut()
                    .kad
                    .add_address(&peer, addr.clone());
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                // Dialled as this peer: the swarm checks who answers, and every outcome (the
                // connection, or an error naming the peer, within the connection timeout)
                // resolves the pending dial.
                let opts = DialOpts::peer_id(peer)
                    .addresses(vec![addr])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                match self.swarm.dial(opts) {
                    Ok(()) => self.pending_dials.entry(peer).or_default().push(reply),
                    // A dial to the peer is already under way: wait for its outcome.
                    Err(libp2p::swarm::DialError::DialPeerConditionFalse(_)) => {
                        self.pending_dials.entry(peer).or_default().push(reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dial {
                            peer,
                            reason: e.to_string(),
                        }));
                    }
                }
            }
            Command::Request {
                protocol,
                peer,
                payload,
                reply,
            } => {
                let index = match protocol {
                    Protocol::Upload => UPLOAD,
                    Protocol::Job => JOB,
                };
                self.counters.bytes_out[index] += payload.len() as u64;
                let Some(faults) = &self.faults else {
                    self.send_request(protocol, peer, payload, reply);
                    return;
                };
                match faults.on_send(&peer) {
                    (SendFault::Now, _) => self.send_request(protocol, peer, payload, reply),
                    (SendFault::After(delay), held) => self.redeliver_after(
                        delay,
                        held,
                        Command::DeliverRequest {
                            protocol,
                            peer,
                            payload,
                            reply,
                        },
                    ),
                    (fault @ (SendFault::Unreachable | SendFault::Overflow), _) => {
                        self.counters.outbound_failures += 1;
                        let _ = reply.send(Err(NetError::Request {
                            peer,
                            reason: fault_reason(fault).into(),
                        }));
                    }
                }
            }
            Command::DeliverRequest {
                protocol,
                peer,
                payload,
                reply,
            } => {
                if self
                    .faults
                    .as_ref()
                    .is_some_and(|f| f.is_unreachable(&peer))
                {
                    self.counters.outbound_failures += 1;
                    let _ = reply.send(Err(NetError::Request {
                        peer,
                        reason: fault_reason(SendFault::Unreachable).into(),
                    }));
                } else {
                    self.send_request(protocol, peer, payload, reply);
                }
            }
            Command::Respond {
                protocol,
                channel,
                payload,
            } => {
                if self
                    .service_protocol(protocol)
                    .send_response(channel, payload)
                    .is_err()
                {
                    self.counters.outbound_failures += 1;
                }
            }
            Command::SendMpc { peer, mut envelope } => {
                self.counters.bytes_out[MPC] += envelope.len() as u64;
                if let Some(faults) = &self.faults {
                    // Output shares go to a session's outside endpoint: not an active node.
                    faults.corrupt_mpc(!self.allowed.contains(&peer), &mut envelope);
                }
                self.send_mpc(peer, envelope, 1);
            }
            Command::RetryMpc {
                peer,
                envelope,
                attempt,
            } => self.send_mpc(peer, envelope, attempt),
            Command::DeliverMpc {
                peer,
                envelope,
                attempt,
            } => {
                if self
                    .faults
                    .as_ref()
                    .is_some_and(|f| f.is_unreachable(&peer))
                {
                    self.counters.outbound_failures += 1;
                    self.retry_mpc(
                        peer,
                        envelope,
                        attempt,
                        fault_reason(SendFault::Unreachable),
                    );
                } else {
                    self.transmit_mpc(peer, envelope, attempt);
                }
            }
            Command::PutRecord { record, reply } => self.put_record(record, reply),
            Command::GetRecord { key, reply } => {
                self.counters.dht.gets += 1;
                let id = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .get_record(key.to_record_key());
                self.pending_gets.insert(
                    id,
                    PendingGet {
                        reply,
                        found: Vec::new(),
                        seen: HashSet::new(),
                    },
                );
            }
            Command::LocalRecord { key, reply } => {
                use libp2p::kad::store::RecordStore;
                let record = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .store_mut()
                    .get(&key.to_record_key())
                    .and_then(|r| SignedRecord::from_bytes(&r.value).ok());
                let _ = reply.send(record);
            }
            Command::RemoveLocalRecord { key } => {
                use libp2p::kad::store::RecordStore;
                self.swarm
                    .behaviour_mut()
                    .kad
                    .store_mut()
                    .remove(&key.to_record_key());
            }
            Command::SetAllowed(peers) => self.set_allowed(peers),
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Counters(reply) => {
                let mut c = self.counters;
                c.peers = self.swarm.connected_peers().count() as u64;
                let b = self.swarm.behaviour();
                for (i, rr) in [(UPLOAD, &b.upload), (MPC, &b.mpc), (JOB, &b.job)] {
                    let a = rr.admission().counters();
                    c.refused_busy[i] = a.busy.load(Relaxed);
                    c.refused_too_large[i] = a.too_large.load(Relaxed);
                }
                c.refused_unregistered = b.mpc.admission().counters().not_allowed.load(Relaxed);
                let store = self.swarm.behaviour_mut().kad.store_mut();
                c.dht.records = store.len() as u64;
                c.dht.unconfirmed = store.unconfirmed() as u64;
                c.dht.pending_persist = store.pending_persist() as u64;
                c.dht
                    .read(&self.store_counters, self.writer_counters.as_deref());
                let _ = reply.send(c);
            }
            Command::Shutdown => {}
        }
    }

    /// Re-sends the store's dropped persistence ops; drains the channel of a client without a
    /// database.
    fn flush_dht(&mut self) {
        let store = self.swarm.behaviour_mut().kad.store_mut();
        // What the chain learnt since: confirm records, remove the ones it contradicts.
        store.recheck();
        store.flush_pending();
        if let Some(rx) = &self.discard {
            while rx.try_recv().is_ok() {}
        }
    }

    fn put_record(&mut self, record: SignedRecord, reply: oneshot::Sender<Result<(), NetError>>) {
        self.counters.dht.puts += 1;
        let kad = &mut self.swarm.behaviour_mut().kad;
        let now_unix = kad.store_mut().config().clock.now();
        let now = Instant::now();
        let kad_record = match record.to_kad_record_expiring(now_unix, now) {
            Ok(r) => r,
            Err(e) => {
                self.counters.dht.put_failures += 1;
                let _ = reply.send(Err(NetError::InvalidRecord(e)));
                return;
            }
        };
        if let Err(e) = SignedRecord::validate_kad_record(&kad_record, now_unix) {
            self.counters.dht.put_failures += 1;
            let _ = reply.send(Err(NetError::InvalidRecord(e)));
            return;
        }
        // The store says why it refuses; Kademlia's own `put_record` (which stores again, the
        // same record, harmlessly) only says "refused".
        if let Err(refusal) = kad.store_mut().try_put(kad_record.clone()) {
            self.counters.dht.put_failures += 1;
            let _ = reply.send(Err(match refusal {
                Refusal::Invalid(e) => NetError::InvalidRecord(e),
                other => NetError::RecordRefused {
                    reason: refusal_reason(&other).into(),
                },
            }));
            return;
        }
        match kad.put_record(kad_record, Quorum::One) {
            Ok(id) => {
                self.pending_puts.insert(id, reply);
            }
            Err(e) => {
                self.counters.dht.put_failures += 1;
                let _ = reply.send(Err(NetError::RecordRefused {
                    reason: e.to_string(),
                }));
            }
        }
    }

    fn on_kad(&mut self, event: kad::Event) {
        let kad::Event::OutboundQueryProgressed {
            id, result, step, ..
        } = event
        else {
            return;
        };
        match result {
            QueryResult::PutRecord(result) => {
                let Some(reply) = self.pending_puts.remove(&id) else {
                    return;
                };
                let result = result.map(|_| ()).map_err(|e| {
                    self.counters.dht.put_failures += 1;
                    NetError::NotPublished {
                        reason: e.to_string(),
                    }
                });
                let _ = reply.send(result);
            }
            QueryResult::GetRecord(result) => {
                let now_unix = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .store_mut()
                    .config()
                    .clock
                    .now();
                let Some(pending) = self.pending_gets.get_mut(&id) else {
                    return;
                };
                let finished = match result {
                    Ok(GetRecordOk::FoundRecord(peer_record)) => {
                        let record = peer_record.record;
                        match SignedRecord::from_bytes(&record.value).and_then(|signed| {
                            let valid = signed.validate(now_unix, &record.key)?;
                            Ok((signed, valid))
                        }) {
                            Ok((signed, valid)) => {
                                let digest = *blake3::hash(&record.value).as_bytes();
                                if pending.seen.insert(digest) {
                                    pending.found.push(FoundRecord {
                                        record: signed,
                                        valid,
                                        peer: peer_record.peer,
                                    });
                                }
                            }
                            Err(e) => {
                                self.counters.dht.get_invalid += 1;
                                debug!(peer = ?peer_record.peer, error = %e, "dropped an invalid DHT record");
                            }
                        }
                        step.last
                    }
                    Ok(GetRecordOk::FinishedWithNoAdditionalRecord { .. }) => true,
                    // Not found, or the query timed out: answer with what was found.
                    Err(e) => {
                        debug!(error = %e, "DHT lookup ended");
                        true
                    }
                };
                if finished && let Some(pending) = self.pending_gets.remove(&id) {
                    let _ = pending.reply.send(Ok(pending.found));
                }
            }
            _ => {}
        }
    }

    fn send_request(
        &mut self,
        protocol: Protocol,
        peer: PeerId,
        payload: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
    ) {
        let id = self
            .service_protocol(protocol)
            .send_request(&peer, Frame::from(payload));
        self.pending_requests.insert(id, reply);
    }

    /// Sends an MPC envelope, through the link faults when there are any.
    fn send_mpc(&mut self, peer: PeerId, envelope: Vec<u8>, attempt: u32) {
        let Some(faults) = &self.faults else {
            self.transmit_mpc(peer, envelope, attempt);
            return;
        };
        match faults.on_send(&peer) {
            (SendFault::Now, _) => self.transmit_mpc(peer, envelope, attempt),
            (SendFault::After(delay), held) => self.redeliver_after(
                delay,
                held,
                Command::DeliverMpc {
                    peer,
                    envelope,
                    attempt,
                },
            ),
            (fault @ (SendFault::Unreachable | SendFault::Overflow), _) => {
                self.counters.outbound_failures += 1;
                self.retry_mpc(peer, envelope, attempt, fault_reason(fault));
            }
        }
    }

    /// Hands `command` back to this loop after `delay` (a link fault's latency), keeping the
    /// fault's slot for held messages taken until then; the loop itself never waits.
    fn redeliver_after(&self, delay: Duration, held: Option<Held>, command: Command) {
        let retry = self.retry.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = retry.send(command).await;
            drop(held);
        });
    }

    fn transmit_mpc(&mut self, peer: PeerId, envelope: Vec<u8>, attempt: u32) {
        let id = self
            .swarm
            .behaviour_mut()
            .mpc
            .send_request(&peer, Frame::from(envelope.clone()));
        self.pending_mpc.insert(
            id,
            PendingMpc {
                peer,
                envelope,
                attempt,
            },
        );
    }

    /// The behaviour of a service protocol.
    fn service_protocol(&mut self, protocol: Protocol) -> &mut PeerTagged {
        let b = self.swarm.behaviour_mut();
        match protocol {
            Protocol::Upload => &mut b.upload,
            Protocol::Job => &mut b.job,
        }
    }

    /// Replaces the allow-list: the peers that may send MPC messages, and that no connection
    /// limit refuses.
    fn set_allowed(&mut self, peers: HashSet<PeerId>) {
        let b = self.swarm.behaviour_mut();
        b.mpc.admission().set_allowed(&peers);
        for gone in self.allowed.difference(&peers) {
            b.limits.remove_peer_id(gone);
        }
        for peer in &peers {
            b.limits.bypass_peer_id(peer);
        }
        self.allowed = peers;
    }

    /// Tries an undelivered MPC envelope again after a short, growing delay (the receiver
    /// reorders and drops duplicates), or gives up after [`MPC_ATTEMPTS`]: the session cannot
    /// complete without that message, so its link from the peer is closed and the session fails
    /// at once instead of waiting for its timeout.
    fn retry_mpc(
        &mut self,
        peer: PeerId,
        envelope: Vec<u8>,
        attempt: u32,
        reason: impl std::fmt::Display,
    ) {
        self.retry_mpc_within(peer, envelope, attempt, MPC_ATTEMPTS, reason);
    }

    fn retry_mpc_within(
        &mut self,
        peer: PeerId,
        envelope: Vec<u8>,
        attempt: u32,
        attempts: u32,
        reason: impl std::fmt::Display,
    ) {
        if attempt >= attempts {
            warn!(%peer, %reason, attempt, "MPC message not delivered; giving up");
            self.give_up_mpc(peer, &envelope);
            return;
        }
        debug!(%peer, %reason, attempt, "MPC message not delivered; retrying");
        let retry = self.retry.clone();
        let pause = Duration::from_millis(25 << attempt.min(6)).min(MPC_RETRY_MAX);
        tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            let _ = retry
                .send(Command::RetryMpc {
                    peer,
                    envelope,
                    attempt: attempt + 1,
                })
                .await;
        });
    }

    fn give_up_mpc(&mut self, peer: PeerId, envelope: &[u8]) {
        if let Some(session) = envelope
            .get(..32)
            .and_then(|s| <[u8; 32]>::try_from(s).ok())
        {
            self.router.close_link(&session, peer);
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(()));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                // The peer is gone (a crash, a killed process): sessions already waiting on it
                // cannot complete, so they fail now rather than at their timeout.
                let closed = self.router.close_peer(peer_id);
                if closed > 0 {
                    debug!(peer = %peer_id, sessions = closed, "connection lost; its MPC sessions end");
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                for reply in self.pending_dials.remove(&peer).unwrap_or_default() {
                    let _ = reply.send(Err(NetError::Dial {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad(event),
            SwarmEvent::Behaviour(BehaviourEvent::Mpc(event)) => self.on_mpc(event),
            SwarmEvent::Behaviour(BehaviourEvent::Upload(event)) => {
                self.on_request_response(Protocol::Upload, UPLOAD, event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Job(event)) => {
                self.on_request_response(Protocol::Job, JOB, event)
            }
            _ => {}
        }
    }

    fn on_mpc(&mut self, event: request_response::Event<Frame, Vec<u8>>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                // The codec admitted it: the peer is on the allow-list (an active node on
                // chain, or a committee member of this requester's job) and within its budget.
                let Frame { bytes, reservation } = request;
                self.counters.bytes_in[MPC] += bytes.len() as u64;
                let verdict = match self.router.deliver(peer, bytes) {
                    // A duplicate was delivered before: its sender only missed our answer.
                    Ok(()) | Err(RouteError::Duplicate) => MpcVerdict::Accepted,
                    Err(RouteError::Full) => MpcVerdict::Busy,
                    Err(_) => MpcVerdict::Malformed,
                };
                drop(reservation);
                if verdict != MpcVerdict::Accepted {
                    self.counters.dropped += 1;
                    self.counters.mpc_refused += 1;
                    debug!(%peer, ?verdict, "refused an MPC message");
                }
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .mpc
                    .send_response(channel, verdict.encode());
            }
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                let Some(pending) = self.pending_mpc.remove(&request_id) else {
                    return;
                };
                match MpcVerdict::decode(&response) {
                    MpcVerdict::Accepted => {}
                    MpcVerdict::Busy => {
                        // The receiver's router is full: it frees room as its sessions read.
                        self.counters.mpc_refused_by_peer += 1;
                        self.retry_mpc_within(
                            pending.peer,
                            pending.envelope,
                            pending.attempt,
                            MPC_BUSY_ATTEMPTS,
                            "the receiver is busy",
                        );
                    }
                    MpcVerdict::Malformed => {
                        self.counters.mpc_refused_by_peer += 1;
                        warn!(peer = %pending.peer, "an MPC message was refused as malformed; giving up");
                        self.give_up_mpc(pending.peer, &pending.envelope);
                    }
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                error,
                request_id,
                ..
            } => {
                self.counters.outbound_failures += 1;
                let Some(PendingMpc {
                    peer: peer_id,
                    envelope,
                    attempt,
                }) = self.pending_mpc.remove(&request_id)
                else {
                    return;
                };
                let transient = matches!(
                    error,
                    request_response::OutboundFailure::DialFailure
                        | request_response::OutboundFailure::ConnectionClosed
                );
                if !transient {
                    warn!(%peer, %error, "MPC message not delivered; giving up");
                    self.give_up_mpc(peer_id, &envelope);
                    return;
                }
                // Typically the peer's side of a fresh connection is not set up yet.
                self.retry_mpc(peer_id, envelope, attempt, error);
            }
            request_response::Event::InboundFailure { .. } => self.counters.dropped += 1,
            _ => {}
        }
    }

    fn on_request_response(
        &mut self,
        protocol: Protocol,
        index: usize,
        event: request_response::Event<Frame, Vec<u8>>,
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    self.counters.bytes_in[index] += request.bytes.len() as u64;
                    let inbound = InboundRequest {
                        protocol,
                        peer,
                        payload: request.bytes,
                        channel,
                        _reservation: request.reservation,
                    };
                    if self.inbound.try_send(inbound).is_err() {
                        self.counters.dropped += 1;
                    }
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.pending_requests.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                self.counters.outbound_failures += 1;
                if let Some(reply) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Request {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            request_response::Event::InboundFailure { .. } => self.counters.dropped += 1,
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// The address to dial `peer` at: `addr` without a trailing `/p2p/<id>`, which must name `peer`
/// if it is there.
fn address_of(peer: PeerId, mut addr: Multiaddr) -> Result<Multiaddr, String> {
    match addr.iter().last() {
        Some(AddrProtocol::P2p(named)) if named != peer => {
            Err(format!("the address names another peer ({named})"))
        }
        Some(AddrProtocol::P2p(_)) => {
            addr.pop();
            Ok(addr)
        }
        _ if addr.iter().any(|p| matches!(p, AddrProtocol::P2p(_))) => {
            Err("the address has a /p2p/ part before its end".into())
        }
        _ => Ok(addr),
    }
}

fn fault_reason(fault: SendFault) -> &'static str {
    match fault {
        SendFault::Overflow => "the link's queue is full (simulated)",
        _ => "connection closed: the peer is unreachable (simulated partition)",
    }
}

fn refusal_reason(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::TooLarge => "the record is larger than the store's limit",
        Refusal::Invalid(_) => "the record is invalid",
        Refusal::Full => "the record store is full",
        Refusal::Stale => "a newer record is stored under this key",
        Refusal::Conflict => "another key signed the stored manifest of this dataset",
        Refusal::Expired => "the record has expired",
        Refusal::NotRegistered => "the chain registered another manifest for this dataset",
        Refusal::Unconfirmed => {
            "the chain does not confirm the record and the store holds enough such records"
        }
        _ => "refused",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_dial_address_keeps_its_transport_and_names_only_the_peer_dialled() {
        let peer = PeerId::random();
        let tcp: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().unwrap();
        assert_eq!(address_of(peer, tcp.clone()), Ok(tcp.clone()));
        let with_peer = tcp.clone().with(AddrProtocol::P2p(peer));
        assert_eq!(address_of(peer, with_peer), Ok(tcp.clone()));
        let other = tcp.clone().with(AddrProtocol::P2p(PeerId::random()));
        assert!(
            address_of(peer, other)
                .unwrap_err()
                .contains("another peer")
        );
        let relayed: Multiaddr = format!(
            "/ip4/127.0.0.1/tcp/4001/p2p/{}/p2p-circuit",
            PeerId::random()
        )
        .parse()
        .unwrap();
        assert!(
            address_of(peer, relayed)
                .unwrap_err()
                .contains("before its end")
        );
    }
}
