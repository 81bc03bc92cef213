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
//! A process started under another policy (`chrt`) or with a nice value other than 0
//! (`nice`) is left as it is: whoever started it chose its threads' priorities, and the
//! call that sets the policy also sets the nice value. Threads a connection thread starts
//! inherit its policy: in the stream style, those your handler starts.
//!
//! Built for another system than Linux, or without the `batch-scheduling` feature,
//! [`batch_this_thread`] does nothing.

#[cfg(all(target_os = "linux", feature = "batch-scheduling"))]
pub(crate) use linux::batch_this_thread;

/// Does nothing in this build (not Linux, or without the `batch-scheduling` feature).
#[cfg(not(all(target_os = "linux", feature = "batch-scheduling")))]
pub(crate) fn batch_this_thread() {}

#[cfg(all(target_os = "linux", feature = "batch-scheduling"))]
mod linux {
    use std::io::Read;
    use std::sync::atomic::{AtomicBool, Ordering};

    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
    };

    /// The normal policy, `SCHED_OTHER`, as `/proc/…/stat` reports it.
    const SCHED_OTHER: u32 = 0;

    /// Whether the reason the threads keep their policy was logged (once is enough).
    static TOLD: AtomicBool = AtomicBool::new(false);

    /// Puts the calling thread under `SCHED_BATCH` if it runs under the normal policy at
    /// nice 0. Otherwise, or if that fails, it keeps its policy, and the first time the
    /// reason is logged at debug level.
    pub(crate) fn batch_this_thread() {
        let why = match this_thread() {
            Some((0, SCHED_OTHER)) => match set_batch() {
                Ok(()) => return,
                Err(e) => e,
            },
            Some((nice, policy)) => Why::Chosen { nice, policy },
            None => Why::NoProc,
        };
        if !TOLD.swap(true, Ordering::Relaxed) {
            log::debug!("connection threads keep the process's scheduling policy: {why}");
        }
    }

    /// Why a thread keeps its policy; formatted only when logged (no allocation otherwise).
    enum Why {
        Chosen { nice: i64, policy: u32 },
        NoProc,
        Failed(thread_priority::Error),
    }

    impl std::fmt::Display for Why {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
            Why::Chosen { nice, policy } => write!(
                f,
                "the process was started under policy {policy} at nice {nice}, not the normal policy (0) at nice 0"
            ),
            Why::NoProc => f.write_str("/proc/thread-self/stat cannot be read"),
            Why::Failed(e) => write!(f, "setting SCHED_BATCH failed: {e:?}"),
        }
        }
    }

    fn set_batch() -> Result<(), Why> {
        // thread-priority maps its 0–99 scale onto nice 19 … −20; 48 is nice 0.
        let Ok(nice_zero) = ThreadPriorityValue::try_from(48u8) else {
            let e = thread_priority::Error::Priority("48 is outside thread-priority's scale");
            return Err(Why::Failed(e));
        };
        set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Crossplatform(nice_zero),
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
        )
        .map_err(Why::Failed)
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
        #[test]
        fn a_thread_at_nice_zero_goes_under_batch_and_stays_at_nice_zero() {
            let (before, after) = std::thread::spawn(|| {
                let before = this_thread().expect("/proc/thread-self/stat");
                batch_this_thread();
                (before, this_thread().expect("/proc/thread-self/stat"))
            })
            .join()
            .expect("thread");
            match before {
                (0, SCHED_OTHER) => assert_eq!(after, (0, SCHED_BATCH)),
                // A test run under `nice` or `chrt`: the rule is to leave the thread alone.
                _ => assert_eq!(after, before),
            }
        }
    }
}
