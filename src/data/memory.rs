//! How much memory the machine can give a dataset reader: the kernel's estimate of available
//! memory, bounded by the control group's limit (containers), so that a file whose header
//! promises more is refused with a clear message instead of being killed by the OOM killer.

/// Bytes this process can still allocate without swapping, when the system says (Linux:
/// `MemAvailable` of /proc/meminfo, and the memory cgroup's limit minus its usage, v2 or v1);
/// `None` where it does not.
pub fn available_bytes() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let mem = read("/proc/meminfo").and_then(|t| mem_available(&t));
    let cgroup = [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ]
    .into_iter()
    .find_map(|(limit, usage)| cgroup_room(&read(limit)?, &read(usage)?));
    match (mem, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `MemAvailable` of /proc/meminfo text, in bytes.
pub fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut it = line["MemAvailable:".len()..].split_whitespace();
    let value: u64 = it.next()?.parse().ok()?;
    match it.next() {
        Some("kB") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// A memory cgroup's room: its limit minus its usage; `None` when it has no limit (v2 "max",
/// or v1's huge "unlimited" value) or the text is not a number.
pub fn cgroup_room(limit: &str, usage: &str) -> Option<u64> {
    let limit: u64 = limit.trim().parse().ok()?;
    let usage: u64 = usage.trim().parse().ok()?;
    // cgroup v1 says "unlimited" with a page-rounded i64::MAX.
    if limit >= 1 << 60 {
        return None;
    }
    Some(limit.saturating_sub(usage))
}

/// Bytes in a short human unit: "512 bytes", "3.2 MB", "4.20 GB" (powers of 1000).
pub fn human_bytes(b: u64) -> String {
    let f = b as f64;
    if b < 1000 {
        format!("{b} bytes")
    } else if f < 1e6 {
        format!("{:.1} kB", f / 1e3)
    } else if f < 1e9 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.2} GB", f / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_and_cgroup_texts() {
        let t = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   23394856 kB\n";
        assert_eq!(mem_available(t), Some(23394856 * 1024));
        assert_eq!(mem_available("MemFree: 1 kB\n"), None);
        assert_eq!(mem_available("MemAvailable: x kB\n"), None);
        assert_eq!(cgroup_room("max\n", "100\n"), None);
        assert_eq!(cgroup_room("9223372036854771712\n", "100\n"), None);
        assert_eq!(
            cgroup_room("1073741824\n", "73741824\n"),
            Some(1_000_000_000)
        );
        assert_eq!(cgroup_room("100", "200"), Some(0));
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(4_200_000_000), "4.20 GB");
        assert_eq!(human_bytes(3_200_000), "3.2 MB");
    }

    #[test]
    fn this_machine_reports_some_memory() {
        if cfg!(target_os = "linux") {
            let a = available_bytes().expect("Linux has /proc/meminfo");
            assert!(a > 1 << 20, "{a}");
        }
    }
}
