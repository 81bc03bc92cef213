//! Dates as people search for them: OpenSSL's and Node's `Nov 26 04:32:37 2026 GMT` (and,
//! in `https`, HTTP's IMF-fixdate, from [`utc`]). The calendar is the `time` crate's
//! (already built for x509-parser), never our own arithmetic.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// `t` as a UTC date and time (clamped to what `time` can represent).
pub(crate) fn utc(t: SystemTime) -> OffsetDateTime {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(if secs < 0 {
        OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT)
    } else {
        OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT)
    })
}

/// `Jan` … `Dec`.
pub(crate) fn month_abbrev(m: time::Month) -> &'static str {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS[usize::from(u8::from(m)) - 1]
}

/// `Nov 26 04:32:37 2026 GMT`, the form OpenSSL and Node print.
pub(crate) fn openssl_time(t: SystemTime) -> String {
    let t = utc(t);
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        month_abbrev(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_print_like_openssl() {
        assert_eq!(openssl_time(UNIX_EPOCH), "Jan  1 00:00:00 1970 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_667_557);
        assert_eq!(openssl_time(t), "Nov 26 04:32:37 2026 GMT");
        assert_eq!(
            openssl_time(UNIX_EPOCH - Duration::from_secs(86_400)),
            "Dec 31 00:00:00 1969 GMT"
        );
    }
}
