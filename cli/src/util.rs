//! Small parsers and formatters shared by the commands.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::{B256, U256};

use crate::failure::Failure;

/// A decimal amount of wei.
pub fn parse_wei(what: &str, text: &str) -> Result<U256, Failure> {
    text.parse::<U256>().map_err(|_| {
        Failure::usage(format!("{what}: '{text}' is not a decimal amount of wei"))
            .hint("give wei as a decimal integer, e.g. 1000000000000000000 for 1 ether")
    })
}

/// A 32-byte id written as 0x + 64 hex digits.
pub fn parse_b256(text: &str) -> Option<B256> {
    let hex = text.strip_prefix("0x")?;
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    text.parse::<B256>().ok()
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Wei as ether with up to 6 decimals, e.g. `1.5 ETH`.
pub fn ether(wei: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18u64));
    let whole = wei / unit;
    let micro = (wei % unit) / U256::from(1_000_000_000_000u64);
    if micro.is_zero() {
        format!("{whole} ETH")
    } else {
        let frac = format!("{:06}", micro.to::<u64>());
        format!("{whole}.{} ETH", frac.trim_end_matches('0'))
    }
}

/// A unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A duration like `30d`, `12h`, `45m`, `90s`, `2w` in seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// A short form of a long hex id: `0x1234…abcd`.
pub fn short(hex: &str) -> String {
    if hex.len() > 14 {
        format!("{}…{}", &hex[..6], &hex[hex.len() - 4..])
    } else {
        hex.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_dates_and_ether() {
        assert_eq!(parse_duration("30d"), Some(30 * 86_400));
        assert_eq!(parse_duration("2w"), Some(14 * 86_400));
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("30"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("5y"), None);
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(ether(U256::from(1_500_000_000_000_000_000u64)), "1.5 ETH");
        assert_eq!(ether(U256::ZERO), "0 ETH");
        assert!(parse_b256("0x12").is_none());
        assert!(parse_b256(&format!("0x{}", "ab".repeat(32))).is_some());
        assert!(parse_b256(&"ab".repeat(32)).is_none());
    }
}
