//! Which connections exist, and who gets in: the connection cap, the handshakes in
//! progress, the connections one address may hold, and what a full server does. The
//! accept thread asks [`Registry::admit`] for each new connection; the answer is a place
//! ([`Admitted`], given back when dropped) or a refusal, and sometimes a connection closed
//! to make room. Shutdown stops every connection listed here.
//!
//! Making room is fair between addresses: the connection closed comes from the address
//! holding the most (connections, or handshakes in progress), so that one client flooding
//! the server closes its own connections rather than everyone else's.
//!
//! The lock guards the table; under it we only shut sockets down and peek at them without
//! waiting (neither blocks), and events about what it decided are sent after it is
//! released.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::connection::Conn;
use crate::event::Limit;
use crate::options::WhenFull;
use crate::setting::{Naming, Setting};

/// The limits, as resolved when the server started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Admission {
    pub max_connections: usize,
    pub max_handshakes: usize,
    pub max_per_address: usize,
    pub when_full: WhenFull,
}

pub(crate) struct Registry {
    admission: Admission,
    naming: Naming,
    table: Mutex<Table>,
}

/// The connections, and counts of those not evicted (an evicted connection stays listed
/// until its thread has finished with it, but no longer counts against any limit).
#[derive(Default)]
struct Table {
    entries: HashMap<u64, Entry>,
    live: usize,
    handshakes: usize,
    per_address: HashMap<IpAddr, usize>,
}

struct Entry {
    peer: SocketAddr,
    accepted: Instant,
    stage: Stage,
    /// Closed by us to make room (the connection's failure is then explained as that).
    evicted: bool,
}

enum Stage {
    /// Handshaking: a handle on the socket (to shut it down) and whether the client has
    /// sent its first byte.
    Handshaking {
        sock: Arc<TcpStream>,
        heard: Arc<AtomicBool>,
    },
    Open(Weak<Conn>),
}

/// A connection's place in the table; dropping it gives the place back.
pub(crate) struct Admitted {
    pub id: u64,
    registry: Arc<Registry>,
    /// Set by the handshake when the client's first byte arrives.
    pub heard: Arc<AtomicBool>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// A connection closed to make room for a newcomer.
pub(crate) struct Eviction {
    pub id: u64,
    pub peer: SocketAddr,
    pub limit: Limit,
    pub reason: String,
}

/// Why a connection was refused.
pub(crate) struct Refusal {
    pub limit: Limit,
    pub reason: String,
}

impl Registry {
    pub(crate) fn new(admission: Admission, naming: Naming) -> Registry {
        Registry {
            admission,
            naming,
            table: Mutex::new(Table::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides whether connection `id` from `peer` may start its handshake. On `Ok`, the
    /// connections closed to make room (their sockets already shut down) come with the
    /// place; the caller reports them. A trusted balancer's connections (`balancer`) skip
    /// the per-address limit here: [`readdress`](Self::readdress) applies it to the client
    /// its PROXY header names.
    pub(crate) fn admit(
        self: &Arc<Self>,
        id: u64,
        peer: SocketAddr,
        sock: &Arc<TcpStream>,
        balancer: bool,
    ) -> Result<(Admitted, Vec<Eviction>), Refusal> {
        let limits = self.admission;
        let name = |s: Setting| self.naming.of(s);
        let mut evicted = Vec::new();
        let mut table = self.lock();
        if !balancer {
            self.check_address(&table, address(&peer), None, false)?;
        }
        if table.live >= limits.max_connections {
            let victim = match limits.when_full {
                WhenFull::EvictIdle => table
                    .longest_idle()
                    .or_else(|| table.handshake_victim(false).map(|(id, age, _)| (id, age))),
                WhenFull::Refuse => None,
            };
            let Some((victim, idle)) = victim else {
                return Err(Refusal {
                    limit: Limit::MaxConnections,
                    reason: format!(
                        "{} connection{} open, the maximum ({} {}); raise it if the machine can take more{}",
                        table.live,
                        if table.live == 1 { " is" } else { "s are" },
                        name(Setting::MaxConnections),
                        limits.max_connections,
                        match limits.when_full {
                            WhenFull::Refuse => format!(
                                ", or let the longest-idle connection make room ({} evict-idle)",
                                name(Setting::WhenFull)
                            ),
                            WhenFull::EvictIdle => {
                                " (every connection was still handshaking, and none was silent)"
                                    .to_string()
                            }
                        }
                    ),
                });
            };
            let reason = format!(
                "closed to make room for a new client: {} connections were open, the maximum ({} {}), and this one had been idle longest ({:.1} s) of those from the address holding the most; raise the maximum if the machine can take more",
                table.live,
                name(Setting::MaxConnections),
                limits.max_connections,
                idle.as_secs_f64()
            );
            evicted.push(table.evict(victim, Limit::MaxConnections, reason));
        }
        if table.handshakes >= limits.max_handshakes {
            if let Some((victim, _, silent)) = table.handshake_victim(true) {
                let reason = format!(
                    "closed to make room for a new client: {} handshake{} in progress, the most at once ({} {}), and this was the oldest{} from the address with the most; raise it if many slow clients are expected",
                    table.handshakes,
                    if table.handshakes == 1 { " was" } else { "s were" },
                    name(Setting::MaxHandshakes),
                    limits.max_handshakes,
                    if silent {
                        " of those whose client had sent nothing"
                    } else {
                        ""
                    }
                );
                evicted.push(table.evict(victim, Limit::MaxHandshakes, reason));
            }
        }
        let heard = Arc::new(AtomicBool::new(false));
        table.entries.insert(
            id,
            Entry {
                peer,
                accepted: Instant::now(),
                stage: Stage::Handshaking {
                    sock: sock.clone(),
                    heard: heard.clone(),
                },
                evicted: false,
            },
        );
        table.live += 1;
        table.handshakes += 1;
        *table.per_address.entry(address(&peer)).or_insert(0) += 1;
        drop(table);
        Ok((
            Admitted {
                id,
                registry: self.clone(),
                heard,
            },
            evicted,
        ))
    }

    /// Refuses a connection from `ip` if that address already holds the most it may
    /// (`counted`: this connection is among what it holds).
    fn check_address(
        &self,
        table: &Table,
        ip: IpAddr,
        balancer: Option<SocketAddr>,
        counted: bool,
    ) -> Result<(), Refusal> {
        let limits = self.admission;
        let held = table.per_address.get(&ip).copied().unwrap_or(0);
        let from_here = held.saturating_sub(usize::from(counted));
        if from_here < limits.max_per_address {
            return Ok(());
        }
        let through = balancer
            .map(|b| format!(" (through the balancer {b})"))
            .unwrap_or_default();
        Err(Refusal {
            limit: Limit::MaxPerAddress,
            reason: format!(
                "{ip}{through} already holds {from_here} connection{}, the most one address may ({} {}); raise it if many clients share that address (a NAT, a proxy), or find out why this one holds so many",
                if from_here == 1 { "" } else { "s" },
                self.naming.of(Setting::MaxPerAddress),
                limits.max_per_address
            ),
        })
    }

    /// Behind a balancer: connection `id`'s PROXY header names `client`. It counts against
    /// the per-address limit as `client` from now on (not as the balancer), and is refused
    /// if `client` already holds the most one address may. A refused connection leaves
    /// the table at once, under the same lock, so that nothing evicts it meanwhile (it
    /// gets no event but `Refused`); its `Admitted` finds it gone.
    pub(crate) fn readdress(&self, id: u64, client: SocketAddr) -> Result<(), Refusal> {
        let mut table = self.lock();
        let Some(entry) = table.entries.get(&id) else {
            return Ok(());
        };
        let balancer = entry.peer;
        if entry.evicted {
            return Ok(());
        }
        // A header naming the balancer's own address: the connection is counted there.
        let same = address(&balancer) == address(&client);
        if let Err(refusal) = self.check_address(&table, address(&client), Some(balancer), same) {
            if let Some(entry) = table.entries.remove(&id) {
                table.uncount(&entry);
            }
            return Err(refusal);
        }
        if !same {
            table.move_address(address(&balancer), address(&client));
        }
        if let Some(entry) = table.entries.get_mut(&id) {
            entry.peer = client;
        }
        Ok(())
    }

    /// The handshake of `id` completed: from now on it counts as open.
    pub(crate) fn opened(&self, id: u64, conn: Weak<Conn>) {
        let mut table = self.lock();
        let counted = match table.entries.get_mut(&id) {
            Some(entry) => {
                let counted = !entry.evicted && matches!(entry.stage, Stage::Handshaking { .. });
                entry.stage = Stage::Open(conn);
                counted
            }
            None => false,
        };
        if counted {
            table.handshakes -= 1;
        }
    }

    /// Connections handshaking or open.
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether `id` was closed by us to make room.
    pub(crate) fn was_evicted(&self, id: u64) -> bool {
        self.lock().entries.get(&id).is_some_and(|e| e.evicted)
    }

    fn remove(&self, id: u64) {
        let mut table = self.lock();
        if let Some(entry) = table.entries.remove(&id) {
            if !entry.evicted {
                table.uncount(&entry);
            }
        }
    }

    /// Stops every connection: handshakes are shut down; open connections get
    /// close_notify, or are closed at once with `force`.
    pub(crate) fn stop_all(&self, force: bool) {
        let mut handshakes = Vec::new();
        let mut open = Vec::new();
        for entry in self.lock().entries.values() {
            match &entry.stage {
                Stage::Handshaking { sock, .. } => handshakes.push(sock.clone()),
                Stage::Open(conn) => open.push(conn.clone()),
            }
        }
        for sock in handshakes {
            let _ = sock.shutdown(Shutdown::Both);
        }
        for conn in open.iter().filter_map(Weak::upgrade) {
            if force {
                conn.destroy();
            } else {
                conn.end();
            }
        }
    }
}

impl Table {
    /// The open connection to close for a newcomer on a full server: of the address
    /// holding the most connections, the one idle longest (the least recently active);
    /// and for how long it was idle.
    fn longest_idle(&self) -> Option<(u64, Duration)> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.evicted)
            .filter_map(|(id, e)| match &e.stage {
                Stage::Open(conn) => {
                    let held = self.per_address.get(&address(&e.peer)).copied();
                    conn.upgrade()
                        .map(|c| (*id, held.unwrap_or(0), c.idle_for()))
                }
                Stage::Handshaking { .. } => None,
            })
            .max_by_key(|(_, held, idle)| (*held, *idle))
            .map(|(id, _, idle)| (id, idle))
    }

    /// The handshake to close for a newcomer, from the address with the most handshakes
    /// in progress: its oldest whose client has sent nothing — not even bytes its thread
    /// has yet to read — or, with `any`, failing that, its oldest. Without `any`, a silent
    /// handshake of another address is taken rather than none. Returns its id, its age and
    /// whether it was silent.
    fn handshake_victim(&self, any: bool) -> Option<(u64, Duration, bool)> {
        let mut per_address: HashMap<IpAddr, usize> = HashMap::new();
        let mut candidates = Vec::new();
        for (id, e) in self.entries.iter().filter(|(_, e)| !e.evicted) {
            if let Stage::Handshaking { sock, heard } = &e.stage {
                *per_address.entry(address(&e.peer)).or_insert(0) += 1;
                candidates.push((*id, address(&e.peer), e.accepted, heard, sock));
            }
        }
        // Heaviest address first (ties: the one whose handshake is oldest), oldest first.
        candidates.sort_by_key(|(_, ip, accepted, ..)| (Reverse(per_address[ip]), *accepted));
        let heaviest = candidates.first().map(|(_, ip, ..)| *ip)?;
        let silent = |(_, _, _, heard, sock): &&(
            u64,
            IpAddr,
            Instant,
            &Arc<AtomicBool>,
            &Arc<TcpStream>,
        )| { !heard.load(Ordering::Relaxed) && !has_bytes(sock) };
        let mut theirs = candidates.iter().filter(|(_, ip, ..)| *ip == heaviest);
        let victim = match any {
            true => theirs
                .find(silent)
                .map(|c| (c, true))
                .or_else(|| candidates.first().map(|c| (c, false))),
            false => candidates.iter().find(silent).map(|c| (c, true)),
        };
        victim.map(|((id, _, accepted, ..), silent)| (*id, accepted.elapsed(), silent))
    }

    /// Takes `entry` off the counts.
    fn uncount(&mut self, entry: &Entry) {
        self.live -= 1;
        if matches!(entry.stage, Stage::Handshaking { .. }) {
            self.handshakes -= 1;
        }
        self.forget_address(address(&entry.peer));
    }

    fn forget_address(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_address.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&ip);
            }
        }
    }

    /// One connection counted under `from` now counts under `to`.
    fn move_address(&mut self, from: IpAddr, to: IpAddr) {
        self.forget_address(from);
        *self.per_address.entry(to).or_insert(0) += 1;
    }

    /// Closes `id` to make room and marks it; the newcomer may take its place at once
    /// (its thread frees the pool slot moments later).
    fn evict(&mut self, id: u64, limit: Limit, reason: String) -> Eviction {
        let entry = self
            .entries
            .remove(&id)
            .expect("the victim was picked from the table");
        self.uncount(&entry);
        let entry = self.entries.entry(id).or_insert(entry);
        entry.evicted = true;
        match &entry.stage {
            Stage::Handshaking { sock, .. } => {
                let _ = sock.shutdown(Shutdown::Both);
            }
            Stage::Open(conn) => {
                if let Some(conn) = conn.upgrade() {
                    conn.evict();
                }
            }
        }
        Eviction {
            id,
            peer: entry.peer,
            limit,
            reason,
        }
    }
}

/// Where `peer` counts: `::ffff:a.b.c.d` (IPv4 on a dual-stack listener) is `a.b.c.d`.
fn address(peer: &SocketAddr) -> IpAddr {
    peer.ip().to_canonical()
}

/// Whether bytes from the client wait in `sock`'s receive buffer (a peek that never
/// waits). A client that has closed counts as silent.
fn has_bytes(sock: &TcpStream) -> bool {
    let mut one = [MaybeUninit::<u8>::uninit()];
    socket2::SockRef::from(sock)
        .recv_with_flags(&mut one, libc::MSG_PEEK | libc::MSG_DONTWAIT)
        .is_ok_and(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn registry(max_handshakes: usize, max_per_address: usize) -> Arc<Registry> {
        Arc::new(Registry::new(
            Admission {
                max_connections: 16,
                max_handshakes,
                max_per_address,
                when_full: WhenFull::EvictIdle,
            },
            Naming::default(),
        ))
    }

    /// A loopback connection: the client's end, and the server's as the registry holds it.
    fn connection_from(
        listener: &TcpListener,
        from: [u8; 4],
    ) -> (TcpStream, Arc<TcpStream>, SocketAddr) {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket
            .bind(&SocketAddr::from((from, 0)).into())
            .expect("bind to a loopback address");
        socket
            .connect(&listener.local_addr().unwrap().into())
            .expect("connect");
        let (server, peer) = listener.accept().unwrap();
        (socket.into(), Arc::new(server), peer)
    }

    /// A connection whose client has sent bytes the server has not read.
    fn spoken(listener: &TcpListener, from: [u8; 4]) -> (TcpStream, Arc<TcpStream>, SocketAddr) {
        let (mut client, sock, peer) = connection_from(listener, from);
        client.write_all(&[22, 3, 1, 0, 200, 1]).unwrap();
        let mut one = [0u8; 1];
        sock.peek(&mut one).expect("the bytes arrive");
        (client, sock, peer)
    }

    #[test]
    fn the_address_with_the_most_handshakes_makes_room() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = registry(3, 16);
        // 127.0.0.1 has two handshakes under way; 127.0.0.2 one that has sent nothing yet
        // (a client between its connect and its ClientHello).
        let mut kept = Vec::new();
        for id in [1, 2] {
            let (client, sock, peer) = spoken(&listener, [127, 0, 0, 1]);
            kept.push((
                client,
                registry.admit(id, peer, &sock, false).ok().unwrap().0,
            ));
        }
        let (_lone, lone_sock, lone_peer) = connection_from(&listener, [127, 0, 0, 2]);
        let lone = registry
            .admit(3, lone_peer, &lone_sock, false)
            .ok()
            .unwrap()
            .0;
        let (_new, new_sock, new_peer) = connection_from(&listener, [127, 0, 0, 3]);
        let (new, evicted) = registry.admit(4, new_peer, &new_sock, false).ok().unwrap();
        assert_eq!(evicted.len(), 1);
        assert_eq!(evicted[0].id, 1, "{}", evicted[0].reason);
        assert!(!registry.was_evicted(3));
        drop((kept, lone, new));
    }

    #[test]
    fn a_client_hello_waiting_unread_is_not_silent() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = registry(2, 16);
        // The oldest handshake's client has sent bytes that no thread has read yet.
        let (_spoke, spoke_sock, spoke_peer) = spoken(&listener, [127, 0, 0, 1]);
        let (first, none) = registry
            .admit(1, spoke_peer, &spoke_sock, false)
            .ok()
            .unwrap();
        assert!(none.is_empty());
        // A younger one that has sent nothing.
        let (_silent, silent_sock, silent_peer) = connection_from(&listener, [127, 0, 0, 1]);
        let (second, none) = registry
            .admit(2, silent_peer, &silent_sock, false)
            .ok()
            .unwrap();
        assert!(none.is_empty());
        // A third handshake makes room: the silent one goes, not the older one.
        let (_new, new_sock, new_peer) = connection_from(&listener, [127, 0, 0, 1]);
        let (third, evicted) = registry.admit(3, new_peer, &new_sock, false).ok().unwrap();
        assert_eq!(evicted.len(), 1);
        assert_eq!(evicted[0].id, 2, "{}", evicted[0].reason);
        assert!(evicted[0].reason.contains("had sent nothing"));
        assert!(!registry.was_evicted(1));
        drop((first, second, third));
    }

    #[test]
    fn behind_a_balancer_the_client_named_counts_and_a_refusal_leaves_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = registry(16, 1);
        let client: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        // The balancer's own address holds three: its connections are let in regardless.
        let mut held = Vec::new();
        let admit = |id: u64, held: &mut Vec<_>| {
            let (end, sock, peer) = connection_from(&listener, [127, 0, 0, 1]);
            let place = registry.admit(id, peer, &sock, true).ok().unwrap().0;
            held.push((end, place, peer));
            peer
        };
        for id in 1..=3 {
            admit(id, &mut held);
        }
        assert!(registry.readdress(1, client).is_ok());
        let mapped = "[::ffff:192.0.2.7]:5001".parse().unwrap(); // the same client
        let refusal = registry.readdress(2, mapped).expect_err("over the limit");
        assert!(
            refusal
                .reason
                .starts_with("192.0.2.7 (through the balancer 127.0.0.1:"),
            "{}",
            refusal.reason
        );
        assert_eq!(registry.len(), 2, "the refused one left the table at once");
        // A header naming the balancer's own address: counted there, with what is pending.
        let own = held[2].2;
        assert!(
            registry.readdress(3, own).is_ok(),
            "127.0.0.1 holds only this one"
        );
        let fourth = admit(4, &mut held);
        assert!(
            registry.readdress(4, fourth).is_err(),
            "127.0.0.1 holds two"
        );
        drop(held);
        let table = registry.lock();
        assert_eq!(
            (table.entries.len(), table.live, table.handshakes),
            (0, 0, 0)
        );
        assert!(table.per_address.is_empty(), "{:?}", table.per_address);
    }
}
