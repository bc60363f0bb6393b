//! The URLs a server can be reached at: for a wildcard host, loopback and every LAN address.

use std::net::{IpAddr, SocketAddr};

/// `scheme://…:port` for `bound` (`scheme` is `http` or `https`); a wildcard address (`0.0.0.0`,
/// `::`) is expanded to loopback and each address of the machine's network interfaces.
pub fn reachable_urls(bound: SocketAddr, scheme: &str) -> Vec<String> {
    let port = bound.port();
    let ips = if bound.ip().is_unspecified() {
        let loopback = if bound.is_ipv6() {
            IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
        } else {
            IpAddr::from([127u8, 0, 0, 1])
        };
        let mut ips = vec![loopback];
        ips.extend(lan_ips(bound.is_ipv6()));
        ips
    } else {
        vec![bound.ip()]
    };
    ips.into_iter()
        .map(|ip| match ip {
            IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}"),
            IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}"),
        })
        .collect()
}

/// The machine's non-loopback interface addresses: IPv4 only, unless `with_v6`.
pub fn lan_ips(with_v6: bool) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .iter()
        .map(|i| i.ip())
        .filter(|ip| !ip.is_loopback() && (with_v6 || ip.is_ipv4()))
        .collect();
    ips.dedup();
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_is_its_own_url() {
        let urls = reachable_urls("127.0.0.1:5000".parse().unwrap(), "http");
        assert_eq!(urls, ["http://127.0.0.1:5000"]);
    }

    #[test]
    fn a_wildcard_lists_loopback_first_then_ipv4_lan_addresses() {
        let urls = reachable_urls("0.0.0.0:5000".parse().unwrap(), "https");
        assert_eq!(urls[0], "https://127.0.0.1:5000");
        assert!(
            urls.iter()
                .all(|u| u.ends_with(":5000") && !u.contains('['))
        );
    }
}
