//! What the benchmark reads about a server process: CPU time (from /proc/PID/stat, and the
//! process's CPU clock for nanosecond precision), resident memory and thread count (from
//! /proc/PID/status).

use std::io;

/// A process's CPU time at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// utime + stime from /proc/PID/stat, in seconds (clock-tick resolution).
    pub stat_user: f64,
    pub stat_sys: f64,
    /// The process CPU clock (`clock_getcpuclockid`), all threads including exited ones,
    /// in seconds; nanosecond resolution. `None` where the kernel refuses.
    pub clock: Option<f64>,
}

impl Cpu {
    /// Total CPU seconds: the precise clock where available, else /proc/PID/stat.
    pub fn total(&self) -> f64 {
        self.clock.unwrap_or(self.stat_user + self.stat_sys)
    }

    /// CPU seconds spent between `self` and `later`: (total, user, sys). User and sys come
    /// from /proc/PID/stat, the total from the precise clock when there is one.
    pub fn since(&self, later: &Cpu) -> CpuDelta {
        CpuDelta {
            total: later.total() - self.total(),
            user: later.stat_user - self.stat_user,
            sys: later.stat_sys - self.stat_sys,
        }
    }
}

/// CPU seconds over an interval.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuDelta {
    pub total: f64,
    pub user: f64,
    pub sys: f64,
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The CPU time of process `pid`.
pub fn cpu(pid: u32) -> io::Result<Cpu> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let num = |i: usize| -> io::Result<f64> {
        fields
            .get(i)
            .and_then(|s| s.parse::<u64>().ok())
            .map(|v| v as f64)
            .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))
    };
    let tck = clk_tck();
    Ok(Cpu {
        stat_user: num(11)? / tck,
        stat_sys: num(12)? / tck,
        clock: process_clock(pid as libc::pid_t),
    })
}

fn process_clock(pid: libc::pid_t) -> Option<f64> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: plain libc calls with valid out-pointers.
    unsafe {
        if libc::clock_getcpuclockid(pid, &mut clock) != 0 {
            return None;
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if libc::clock_gettime(clock, &mut ts) != 0 {
            return None;
        }
        Some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
    }
}

/// This process's CPU time (all threads), seconds.
pub fn self_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Resident memory (KiB) and thread count of process `pid`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mem {
    pub rss_kib: u64,
    pub threads: u64,
}

pub fn mem(pid: u32) -> io::Result<Mem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let mut m = Mem::default();
    for line in status.lines() {
        let value = |l: &str| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        if line.starts_with("VmRSS:") {
            m.rss_kib = value(line);
        } else if line.starts_with("Threads:") {
            m.threads = value(line);
        }
    }
    Ok(m)
}

/// Resident memory (KiB) by kind, from /proc/PID/smaps: thread stacks, heap, files.
#[derive(Clone, Copy, Debug, Default)]
pub struct RssKinds {
    /// Thread stacks: `[stack]`, and every anonymous writable mapping that sits right
    /// above an inaccessible one of at most 1 MiB (the guard page a thread's stack is
    /// mapped with).
    pub stack_kib: u64,
    /// `[heap]` and every other anonymous mapping: malloc's arenas, large allocations,
    /// a runtime's own heap.
    pub heap_kib: u64,
    /// Mappings of files: the program, its libraries.
    pub files_kib: u64,
}

/// What a mapping of /proc/PID/smaps holds, for [`RssKinds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Stack,
    Heap,
    Files,
    /// `[vdso]`, `[vvar]` and the like.
    Other,
}

/// One mapping of /proc/PID/smaps: its addresses, kind and resident KiB.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    // The addresses: the tests find the mapping that holds a given buffer.
    #[cfg_attr(not(test), allow(dead_code))]
    pub start: u64,
    #[cfg_attr(not(test), allow(dead_code))]
    pub end: u64,
    pub kind: Kind,
    pub rss_kib: u64,
}

pub fn mappings(pid: u32) -> io::Result<Vec<Mapping>> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps"))?;
    let mut out: Vec<Mapping> = Vec::new();
    // The previous mapping's (end, size, inaccessible and anonymous): a thread's stack sits
    // right above its guard.
    let mut guard_below: Option<u64> = None;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-') {
            let (Ok(start), Ok(end)) =
                (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
            else {
                continue;
            };
            let perms = words.next().unwrap_or("");
            let path = words.nth(3).unwrap_or("");
            let kind = if path == "[stack]"
                || (path.is_empty() && perms.starts_with("rw") && guard_below == Some(start))
            {
                Kind::Stack
            } else if path.is_empty() || path == "[heap]" {
                Kind::Heap
            } else if path.starts_with('[') {
                Kind::Other
            } else {
                Kind::Files
            };
            let is_guard = perms.starts_with("---") && path.is_empty() && end - start <= 1 << 20;
            guard_below = is_guard.then_some(end);
            out.push(Mapping {
                start,
                end,
                kind,
                rss_kib: 0,
            });
        } else if first == "Rss:" {
            if let Some(last) = out.last_mut() {
                last.rss_kib = words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        }
    }
    Ok(out)
}

pub fn rss_kinds(pid: u32) -> io::Result<RssKinds> {
    let mut kinds = RssKinds::default();
    for m in mappings(pid)? {
        match m.kind {
            Kind::Stack => kinds.stack_kib += m.rss_kib,
            Kind::Heap => kinds.heap_kib += m.rss_kib,
            Kind::Files => kinds.files_kib += m.rss_kib,
            Kind::Other => {}
        }
    }
    Ok(kinds)
}

/// CPU seconds the whole machine has been busy (all CPUs, every state but idle and iowait),
/// from /proc/stat.
pub fn machine_busy() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = stat.lines().next() else {
        return 0.0;
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return 0.0;
    }
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: u64 = v.iter().take(8).sum::<u64>() - v[3] - v[4];
    busy as f64 / clk_tck()
}

/// Connections the kernel dropped because a listening socket's accept queue was full
/// (`TcpExt: ListenDrops` in /proc/net/netstat, all sockets of this network namespace).
/// A client whose final handshake ACK was dropped this way believes it is connected, and
/// the server never sees it.
pub fn listen_drops() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/net/netstat") else {
        return 0;
    };
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks(2)
        .filter(|pair| pair.len() == 2 && pair[0].starts_with("TcpExt:"))
        .find_map(|pair| {
            pair[0]
                .split_whitespace()
                .zip(pair[1].split_whitespace())
                .find(|(name, _)| *name == "ListenDrops")
                .and_then(|(_, value)| value.parse().ok())
        })
        .unwrap_or(0)
}
