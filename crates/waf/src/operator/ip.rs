//! `@ipMatch` / `@ipMatchFromFile`: IPv4 and IPv6 addresses and CIDR blocks. The list is
//! comma-separated (files: one entry per line, `#` comments). An input that is not an IP
//! address never matches.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy)]
struct Block {
    network: u128,
    prefix: u32,
    v4: bool,
}

/// A set of CIDR blocks.
#[derive(Debug, Clone, Default)]
pub struct IpSet {
    blocks: Vec<Block>,
}

fn to_bits(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128, true),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (u32::from(v4) as u128, true),
            None => (u128::from(v6), false),
        },
    }
}

fn mask(prefix: u32, v4: bool) -> u128 {
    let width = if v4 { 32 } else { 128 };
    if prefix == 0 {
        return 0;
    }
    let ones = u128::MAX << (width - prefix);
    if v4 { ones & 0xFFFF_FFFF } else { ones }
}

impl IpSet {
    /// Parses entries separated by commas and/or whitespace.
    pub fn parse_list(list: &str) -> Result<IpSet, String> {
        let mut set = IpSet::default();
        for entry in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            set.add(entry)?;
        }
        if set.blocks.is_empty() {
            return Err("empty address list".to_string());
        }
        Ok(set)
    }

    /// Parses a data file: one entry per line, `#` starts a comment line.
    pub fn parse_file(text: &str) -> Result<IpSet, String> {
        let mut set = IpSet::default();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            set.add(line)?;
        }
        Ok(set)
    }

    fn add(&mut self, entry: &str) -> Result<(), String> {
        let (addr, prefix) = match entry.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (entry, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("invalid IP address {entry:?}"))?;
        let (bits, v4) = to_bits(ip);
        let width = if v4 { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => {
                let p: u32 = p
                    .parse()
                    .map_err(|_| format!("invalid prefix in {entry:?}"))?;
                // An IPv4-mapped IPv6 block counts its prefix on the 128-bit form.
                let p = if v4 && matches!(ip, IpAddr::V6(_)) {
                    p.saturating_sub(96)
                } else {
                    p
                };
                if p > width {
                    return Err(format!("prefix too long in {entry:?}"));
                }
                p
            }
        };
        self.blocks.push(Block {
            network: bits & mask(prefix, v4),
            prefix,
            v4,
        });
        Ok(())
    }

    pub fn contains(&self, input: &[u8]) -> bool {
        let Some(ip) = std::str::from_utf8(input)
            .ok()
            .and_then(|s| s.trim().parse::<IpAddr>().ok())
        else {
            return false;
        };
        let (bits, v4) = to_bits(ip);
        self.blocks
            .iter()
            .any(|b| b.v4 == v4 && bits & mask(b.prefix, b.v4) == b.network)
    }
}
