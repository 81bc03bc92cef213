//! Which connections exist, and who gets in: the connection cap, the handshakes in
//! progress, the connections one address may hold, and what a full server does. The
//! accept thread asks [`Registry::admit`] for each new connection; the answer is a place
//! ([`Admitted`], given back when dropped) or a refusal, and sometimes a connection closed
//! to make room. Shutdown stops every connection listed here.
//!
//! The lock guards the table; under it we only shut sockets down (which never blocks), and
//! events about what it decided are sent after it is released.

use std::collections::HashMap;
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
    /// place; the caller reports them.
    pub(crate) fn admit(
        self: &Arc<Self>,
        id: u64,
        peer: SocketAddr,
        sock: &Arc<TcpStream>,
    ) -> Result<(Admitted, Vec<Eviction>), Refusal> {
        let limits = self.admission;
        let name = |s: Setting| self.naming.of(s);
        let mut evicted = Vec::new();
        let mut table = self.lock();
        let from_here = table.per_address.get(&peer.ip()).copied().unwrap_or(0);
        if from_here >= limits.max_per_address {
            return Err(Refusal {
                limit: Limit::MaxPerAddress,
                reason: format!(
                    "{} already holds {from_here} connection{}, the most one address may ({} {}); raise it if many clients share that address (a NAT, a proxy), or find out why this one holds so many",
                    peer.ip(),
                    if from_here == 1 { "" } else { "s" },
                    name(Setting::MaxPerAddress),
                    limits.max_per_address
                ),
            });
        }
        if table.live >= limits.max_connections {
            let victim = match limits.when_full {
                WhenFull::EvictIdle => table.longest_idle().or_else(|| table.oldest_silent()),
                WhenFull::Refuse => None,
            };
            let Some((victim, idle)) = victim else {
                return Err(Refusal {
                    limit: Limit::MaxConnections,
                    reason: format!(
                        "{} connections are open, the maximum ({} {}); raise it if the machine can take more{}",
                        table.live,
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
                "closed to make room for a new client: {} connections were open, the maximum ({} {}), and this one had been idle longest ({:.1} s); raise the maximum if the machine can take more",
                table.live,
                name(Setting::MaxConnections),
                limits.max_connections,
                idle.as_secs_f64()
            );
            evicted.push(table.evict(victim, Limit::MaxConnections, reason));
        }
        if table.handshakes >= limits.max_handshakes {
            if let Some((victim, silent)) = table.oldest_handshake() {
                let reason = format!(
                    "closed to make room for a new client: {} handshakes were in progress, the most at once ({} {}), and this was the oldest{}; raise it if many slow clients are expected",
                    table.handshakes,
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
        *table.per_address.entry(peer.ip()).or_insert(0) += 1;
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
    /// The open connection idle longest (the least recently active), and for how long.
    fn longest_idle(&self) -> Option<(u64, Duration)> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.evicted)
            .filter_map(|(id, e)| match &e.stage {
                Stage::Open(conn) => conn.upgrade().map(|c| (*id, c.idle_for())),
                Stage::Handshaking { .. } => None,
            })
            .max_by_key(|(_, idle)| *idle)
    }

    /// The oldest handshake whose client has sent nothing, and how long it has waited.
    fn oldest_silent(&self) -> Option<(u64, Duration)> {
        self.handshaking()
            .filter(|(_, _, heard)| !heard)
            .min_by_key(|(_, accepted, _)| *accepted)
            .map(|(id, accepted, _)| (id, accepted.elapsed()))
    }

    /// The oldest silent handshake, else the oldest one; and whether it was silent.
    fn oldest_handshake(&self) -> Option<(u64, bool)> {
        self.handshaking()
            .min_by_key(|(_, accepted, heard)| (*heard, *accepted))
            .map(|(id, _, heard)| (id, !heard))
    }

    /// (id, accepted, heard) of each handshake not already evicted.
    fn handshaking(&self) -> impl Iterator<Item = (u64, Instant, bool)> + '_ {
        self.entries
            .iter()
            .filter(|(_, e)| !e.evicted)
            .filter_map(|(id, e)| match &e.stage {
                Stage::Handshaking { heard, .. } => {
                    Some((*id, e.accepted, heard.load(Ordering::Relaxed)))
                }
                Stage::Open(_) => None,
            })
    }

    /// Takes `entry` off the counts.
    fn uncount(&mut self, entry: &Entry) {
        self.live -= 1;
        if matches!(entry.stage, Stage::Handshaking { .. }) {
            self.handshakes -= 1;
        }
        let ip = entry.peer.ip();
        if let Some(n) = self.per_address.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&ip);
            }
        }
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
