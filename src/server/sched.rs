//! Connection threads under Linux's `SCHED_BATCH` scheduling policy
//! ([`ServerOptions::batch_scheduling`](crate::ServerOptions::batch_scheduling)).
//!
//! Every message a connection thread reads goes on to the one event-loop thread. When a
//! reader is woken by a client's bytes while the event loop runs on that core, the kernel
//! normally lets the reader preempt it: the event loop stops, the reader decrypts and
//! queues one more message for it, and the two switch back — two context switches for
//! nothing the event loop did not already have to do. Under `SCHED_BATCH` a woken thread
//! does not preempt the running one; it runs when a core is idle or when the running
//! thread's time slice ends or it blocks. Its share of the CPU (its nice value) is
//! unchanged, and on an idle machine nothing changes at all: a woken thread finds an idle
//! core at once. Any thread may choose this policy for itself; no privilege is needed.
//!
//! A process started with a nice value other than 0 is left as it is: the call that sets
//! the policy also sets the nice value, and whoever niced the process chose its threads'
//! priorities.

use std::io::Read;

/// Puts the calling thread under `SCHED_BATCH`, keeping its nice value. Failure is
/// logged at debug level and changes nothing: the thread runs under the normal policy.
pub(crate) fn batch_this_thread() {
    match this_thread() {
        Some((0, _)) => {}
        Some((nice, _)) => {
            log::debug!("connection threads keep the normal scheduling policy: the process runs at nice {nice}");
            return;
        }
        None => return,
    }
    if let Err(e) = set_batch() {
        log::debug!("connection threads keep the normal scheduling policy: {e}");
    }
}

#[cfg(all(target_os = "linux", feature = "batch-scheduling"))]
fn set_batch() -> Result<(), String> {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
    };
    // thread-priority maps its 0–99 scale onto nice 19 … −20; 48 is nice 0.
    let nice_zero = ThreadPriorityValue::try_from(48u8).map_err(|e| e.to_string())?;
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(nice_zero),
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
    )
    .map_err(|e| format!("setting SCHED_BATCH failed: {e:?}"))
}

#[cfg(not(all(target_os = "linux", feature = "batch-scheduling")))]
fn set_batch() -> Result<(), String> {
    Err("built without it (Linux and the `batch-scheduling` feature)".into())
}

/// The calling thread's nice value and scheduling policy, from `/proc/thread-self/stat`;
/// `None` where there is no such file (not Linux). Read into a buffer on the stack: a
/// heap allocation here would leave its freed memory cached in every connection
/// thread's allocator (about 1.5 KiB per idle connection).
fn this_thread() -> Option<(i64, u32)> {
    let mut file = std::fs::File::open("/proc/thread-self/stat").ok()?;
    let mut buf = [0u8; 1024];
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(_) => return None,
        }
    }
    stat_fields(std::str::from_utf8(&buf[..len]).ok()?)
}

/// Nice value (field 19) and policy (field 41) of a `/proc/…/stat` line. The command name
/// (field 2) is in parentheses and may hold spaces and parentheses itself, so fields are
/// counted from the last `)`.
fn stat_fields(stat: &str) -> Option<(i64, u32)> {
    // The first field after the name is field 3 (the state).
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let nice = fields.nth(19 - 3)?.parse().ok()?;
    let policy = fields.nth(41 - 19 - 1)?.parse().ok()?;
    Some((nice, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SCHED_BATCH` in Linux's `sched.h`, as `/proc/…/stat` reports a thread's policy.
    const SCHED_BATCH: u32 = 3;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (tls (server) r1) S 1 2 3 0 -1 4194624 10 0 0 0 5 6 0 0 20 0 1 0 \
                    100 2000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 3 0 0 0";
        assert_eq!(stat_fields(line), Some((0, 3)));
        assert_eq!(stat_fields("12 (short) S 1 2"), None);
    }

    /// The policy changes and the nice value does not (thread-priority sets both: the
    /// mapping of its scale onto nice values is checked here).
    #[cfg(all(target_os = "linux", feature = "batch-scheduling"))]
    #[test]
    fn a_thread_at_nice_zero_goes_under_batch_and_stays_at_nice_zero() {
        let (before, after) = std::thread::spawn(|| {
            let before = this_thread().expect("/proc/thread-self/stat");
            batch_this_thread();
            (before, this_thread().expect("/proc/thread-self/stat"))
        })
        .join()
        .expect("thread");
        match before.0 {
            0 => assert_eq!(after, (0, SCHED_BATCH), "before: {before:?}"),
            // A niced test run: the rule is to leave the thread alone.
            _ => assert_eq!(after, before),
        }
    }
}
